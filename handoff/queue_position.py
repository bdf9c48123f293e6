"""The shopper's place in the queue and expected wait (``crossdesk:queue``), sent live.

Every time the agents' queue is pushed (a conversation queued, claimed, assigned,
requeued, erased: ``HandoffService._send_queue``), each waiting shopper whose
position or estimate changed gets ``crossdesk:queue {position, expected_wait_seconds}``
(position 1 = next); a shopper who left the queue gets ``{position: null,
expected_wait_seconds: null}``. Only sockets that opted in to the extensions hear it
(the session id's room, handoff/delivery.py). The estimate is ``routing.estimated_wait``:
the median of the last ``SAMPLE`` queue waits in the store, shared by every process.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, Optional

from handoff import protocol
from handoff.routing import estimated_wait

SAMPLE = 20  # queue waits the median is taken over
DEFAULT_WAIT_SECONDS = 60.0  # the estimate per batch before any conversation was taken from the queue
WAITS_CACHE_SECONDS = 5.0  # the median is read again at most this often (one query)

ShopperEvent = Callable[[str, str, dict], Awaitable[None]]  # (session id, event, payload)


async def to_session(server, session_id: str, event: str, payload: dict) -> None:
    """Emit an extension event to a session's sockets that opted in (its id's room on ``/``)."""
    await server.emit(event, payload, room=session_id, namespace=protocol.SHOPPER_NAMESPACE)


class QueueAnnouncer:
    """Tells waiting shoppers where they stand.

    Args:
        store: reads recent queue waits (``recent_queue_waits``).
        emit: sends one event to a session's extension-speaking sockets.
        available_count: how many agents can take a conversation now.
    """

    def __init__(self, store, emit: ShopperEvent, available_count: Callable[[], int]):
        self.store = store
        self.emit = emit
        self.available_count = available_count
        self._sent: dict[str, tuple[Optional[int], Optional[int]]] = {}  # conversation id -> what it was told
        self._waits: list[float] = []
        self._waits_at = 0.0

    def recent_waits(self) -> list[float]:
        """The last queue waits (cached a few seconds)."""
        now = time.monotonic()
        if now - self._waits_at > WAITS_CACHE_SECONDS:
            self._waits, self._waits_at = self.store.recent_queue_waits(SAMPLE), now
        return self._waits

    def positions(self, queue: list[dict]) -> dict[str, tuple[int, Optional[int]]]:
        """conversation id -> (position, expected wait in seconds) for a queue, longest wait first."""
        waits, available = self.recent_waits(), self.available_count()
        return {entry["conversation_id"]: (index, estimated_wait(waits, index, available, DEFAULT_WAIT_SECONDS))
                for index, entry in enumerate(queue, start=1)}

    async def announce(self, queue: list[dict]) -> None:
        """Send each shopper whose place changed their new place (and the ones who left: null)."""
        now = self.positions(queue)
        for conversation_id in [c for c in self._sent if c not in now]:
            del self._sent[conversation_id]
            await self.emit(conversation_id, protocol.QUEUE, {"position": None, "expected_wait_seconds": None})
        for conversation_id, place in now.items():
            if self._sent.get(conversation_id) != place:
                self._sent[conversation_id] = place
                await self.emit(conversation_id, protocol.QUEUE,
                                {"position": place[0], "expected_wait_seconds": place[1]})

    def forget(self, conversation_id: str) -> None:
        """Send this shopper their place again at the next push (a tab that just connected)."""
        self._sent.pop(conversation_id, None)

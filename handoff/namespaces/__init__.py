"""Socket.IO namespaces: one class per namespace."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional

import socketio
from sqlalchemy.exc import OperationalError

from handoff import metrics, protocol

logger = logging.getLogger(__name__)
LOGGED_EVENT_CHARS = 80  # an event name is client data: a long one is cut in logs and errors
# python-socketio calls these itself; a client sending one is refused before dispatch (SocketServer).
SERVER_EVENTS = frozenset(("connect", "disconnect"))
# The database refusing connections (PostgreSQL restarting, a network cut): not a bug, say so.
STORE_DOWN = (OperationalError,)


class BackgroundNamespace(socketio.AsyncNamespace):
    """A namespace that starts work in the background and keeps it referenced until it ends.

    It also dispatches client events the way ``docs/protocol.md`` says: an
    event goes to ``on_<event>`` (or to the method ``_HANDLERS`` names for it);
    an unknown event, an event with more than one argument, and a handler that
    fails all answer ``crossdesk:error`` (and the ack, when one was asked for),
    never silence.
    """

    _HANDLERS: dict[str, str] = {}  # event name -> method, for names that aren't "on_<event>"

    def __init__(self, namespace: str, stopping: Optional[Callable[[], bool]] = None):
        super().__init__(namespace)
        self._tasks: set[asyncio.Task] = set()
        # Whether the server is stopping (the app's flag): its sockets' disconnects then come after
        # the stop listeners (the store may be closed by then) and are no shopper or agent leaving.
        self.stopping = stopping or (lambda: False)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: Optional[float] = None) -> int:
        """Wait for the work in flight (used at shutdown), at most ``timeout`` seconds; cancel the rest.

        Returns how many tasks were cancelled. Under a flood thousands of bot
        answers can be queued (minutes of work): a stopping server must not
        wait for them. Their messages are stored; they are answered after the restart.
        """
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)  # let them unwind (their finally blocks run)
        return len(pending)

    async def refuse(self, sid: str, event: str, error: protocol.ProtocolError) -> dict:
        """Tell the client why its event was refused (``crossdesk:error``); return the ack to send.

        Logged as one INFO line: a refused input is the client's mistake, not the server's.
        """
        event = event[:LOGGED_EVENT_CHARS]
        logger.info("refused %r on %s from %s: %s", event, self.namespace, sid, error.code)
        metrics.error(error.code)
        await self.emit(protocol.ERROR, protocol.error_payload(error, event), room=sid)
        return {"ok": False, "error": error.code, "message": error.message}

    def _handler(self, event: str):
        """The method for a client event that ``_HANDLERS`` does not name, or None."""
        name = "on_" + event
        if ":" in event or event in SERVER_EVENTS or name in self._HANDLERS.values():
            return None  # e.g. "typing" on "/", whose handler answers "crossdesk:typing" only
        return getattr(self, name, None)

    async def trigger_event(self, event: str, *args):
        """Dispatch one event: python-socketio's own (connect, disconnect) or a client's (``sid, data?``)."""
        name = self._HANDLERS.get(event)  # the relay's events: one lookup
        if name is not None:
            handler = getattr(self, name)
        elif event in SERVER_EVENTS:
            return await super().trigger_event(event, *args)
        else:
            handler = self._handler(event)
            if handler is None:
                error = protocol.ProtocolError("unknown_event", f"there is no event {event[:LOGGED_EVENT_CHARS]!r} "
                                                                f"in namespace {self.namespace}")
                return await self.refuse(args[0], event, error)
        if len(args) > 2:
            error = protocol.ProtocolError("invalid_payload", f"{event} takes one argument, not {len(args) - 1}")
            return await self.refuse(args[0], event, error)
        try:
            return await handler(*args)
        except STORE_DOWN as error:  # the database is unreachable: nothing was stored, the client retries
            logger.warning("%s on %s from %s: the store is unavailable (%s)", event, self.namespace, args[0],
                           str(error).splitlines()[0][:120])
            error = protocol.ProtocolError("store_unavailable", "this could not be saved right now; "
                                                                "please send it again in a moment")
            return await self.refuse(args[0], event, error)
        except Exception:  # a bug: logged with its traceback; the client hears about it, the server goes on
            logger.exception("%s on %s from %s failed", event, self.namespace, args[0])
            error = protocol.ProtocolError("internal_error", "the server failed on this event; please try again")
            return await self.refuse(args[0], event, error)

"""One client sending ``user_uttered`` as fast as it can: ``python -m bench.flooder URL SECONDS``.

It ignores every refusal and, when the server cuts its socket off, connects
again and goes on (as a flooding script would). "As fast as it can" means as
fast as the connection takes them. Runs in its own process so the
flood does not slow the bench's own client loop (which times the well-behaved
shoppers). Prints one JSON line: messages sent, acks by outcome, connections.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time

import socketio

MAX_MESSAGES = 200_000  # a bound, whatever the duration
QUEUED_PACKETS = 100  # packets waiting in this client for the wire, at most


class Flooder:
    """Counts what it sent and how the server answered."""

    def __init__(self, url: str):
        self.url = url
        self.sent = 0
        self.connections = 0
        self.outcomes: collections.Counter = collections.Counter()
        self.session_id = None

    def record(self, ack=None) -> None:
        self.outcomes["ok" if ack and ack.get("ok") else (ack or {}).get("error", "none")] += 1

    @staticmethod
    async def wait_for_the_wire(client: socketio.AsyncClient) -> None:
        """Send as fast as the connection takes them, no faster.

        python-socketio's emit never blocks: it queues. Piling up packets that
        cannot leave (the server reads a refused socket slowly) would only burn
        this machine's CPU, which the server under test shares.
        """
        queue = getattr(client.eio, "queue", None)
        while queue is not None and queue.qsize() > QUEUED_PACKETS:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0)

    async def one_socket(self, deadline: float) -> None:
        """Flood on one socket until the server cuts it off or the time is up."""
        client = socketio.AsyncClient(reconnection=False)
        confirmed, gone = asyncio.Event(), asyncio.Event()

        async def on_confirm(data=None):
            self.session_id = data
            confirmed.set()

        client.on("session_confirm", on_confirm)
        client.on("disconnect", gone.set)
        await client.connect(self.url, transports=["websocket"])
        self.connections += 1
        await client.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(confirmed.wait(), 30)
        while time.perf_counter() < deadline and self.sent < MAX_MESSAGES and not gone.is_set():
            try:
                await client.emit("user_uttered", {"message": f"flood {self.sent}: where is my parcel?",
                                                   "session_id": self.session_id,
                                                   "message_id": f"flood-{self.sent}"}, callback=self.record)
            except socketio.exceptions.BadNamespaceError:
                break
            self.sent += 1
            await self.wait_for_the_wire(client)
        await client.disconnect()


async def flood(url: str, seconds: float) -> dict:
    """Flood for ``seconds``, reconnecting whenever cut off."""
    flooder = Flooder(url)
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and flooder.sent < MAX_MESSAGES:
        try:
            await flooder.one_socket(deadline)
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    return {"sent": flooder.sent, "seconds": elapsed, "per_second": flooder.sent / elapsed,
            "acks": dict(flooder.outcomes), "connections": flooder.connections}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2])))), flush=True)

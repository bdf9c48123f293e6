"""Socket.IO namespaces: one class per namespace."""

from __future__ import annotations

import asyncio

import socketio


class BackgroundNamespace(socketio.AsyncNamespace):
    """A namespace that starts work in the background and keeps it referenced until it ends."""

    def __init__(self, namespace: str):
        super().__init__(namespace)
        self._tasks: set[asyncio.Task] = set()

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the work in flight (used at shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

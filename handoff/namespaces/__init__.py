"""Socket.IO namespaces: one class per namespace."""

from __future__ import annotations

import asyncio
from typing import Optional

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

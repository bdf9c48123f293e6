"""Group commit: shopper messages that arrive together are stored with one commit.

Under load many socket events are handled in the same turn of the event loop.
Each used to commit on its own; a commit costs more than the insert itself.
``GroupCommit.add`` queues the message and awaits the batch: the batch is
written at the next turn of the loop, so no message waits for a timer, and
each caller resumes (and acknowledges) only after its message is committed.
A batch that fails is retried one message at a time, so a bad message fails
alone and the others are stored and acknowledged.
"""

from __future__ import annotations

import asyncio

from handoff.store.records import NewMessage, StoredMessage
from handoff.store.sql import SQLStore


class GroupCommit:
    """Batches ``SQLStore.add_messages`` calls made in the same event-loop turn."""

    def __init__(self, store: SQLStore):
        self.store = store
        self._pending: list[tuple[NewMessage, asyncio.Future]] = []
        self.batches = 0  # (for tests and benchmarks)

    async def add(self, message: NewMessage) -> tuple[StoredMessage, bool]:
        """Store ``message``; returns (message, created) once it is committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((message, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.batches += 1
        if len(batch) > 1 and self.store.shares_commits:
            try:
                results = self.store.add_messages([message for message, _ in batch])
            except Exception:  # nothing of the batch was committed: find the bad message below
                pass
            else:
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
                return
        for message, future in batch:
            self._add_alone(message, future)

    def _add_alone(self, message: NewMessage, future: asyncio.Future) -> None:
        try:
            [result] = self.store.add_messages([message])
        except Exception as error:  # only this caller hears why
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)

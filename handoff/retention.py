"""The server's privacy jobs: the retention purge and the feed of erasures made elsewhere.

Both run their database work in the default executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from handoff import audit
from handoff.audit import AuditLog
from handoff.privacy import Privacy

logger = logging.getLogger(__name__)
RETENTION_INTERVAL_SECONDS = 3600
FEED_INTERVAL_SECONDS = 5.0


class RetentionJob:
    """Purges what is older than the retention period: at start, then every hour.

    Args:
        privacy: does the purge (in bounded batches).
        interval: seconds between runs.
    """

    def __init__(self, privacy: Privacy, interval: float = RETENTION_INTERVAL_SECONDS):
        self.privacy = privacy
        self.interval = interval

    async def run(self) -> None:
        """Purge forever (cancel the task to stop)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                totals = await loop.run_in_executor(None, self.privacy.purge)
                if totals.get("conversations"):
                    logger.info("retention: deleted %s conversations older than %s days",
                                totals["conversations"], self.privacy.retention_days)
            except Exception:  # a failed run is retried at the next one; the server keeps serving
                logger.exception("retention purge failed")
            await asyncio.sleep(self.interval)


class ErasureFeed:
    """Hears of erasures made by another process (``python -m handoff shopper delete|purge``, another server).

    Each erasure is an audit row naming the deleted conversations; this
    process forgets what it caches about them (conversation rows, Rasa
    trackers, translations) and closes the erased shoppers' sockets. Rows this
    process wrote itself were handled when it wrote them.

    Args:
        log: the audit log.
        process: this process's id in the rows' ``details.process``.
        forget: coroutine taking the erased conversation ids.
        interval: seconds between polls.
    """

    def __init__(self, log: AuditLog, process: str, forget: Callable[[list[str]], Awaitable[None]],
                 interval: float = FEED_INTERVAL_SECONDS):
        self.log = log
        self.process = process
        self.forget = forget
        self.interval = interval
        self._last_id = 0

    def _new_erasures(self) -> list[str]:
        """Conversations erased by other processes since the last poll (moves the poll's mark)."""
        ids: list[str] = []
        newest = self.log.last_id()
        for action in (audit.SHOPPER_DELETE, audit.RETENTION_PURGE):
            for entry in self.log.entries(action=action, after_id=self._last_id, limit=1000):
                newest = max(newest, entry["id"])
                if entry["details"].get("process") != self.process:
                    ids.extend(entry["details"].get("conversations") or [])
        self._last_id = newest
        return ids

    async def run(self) -> None:
        """Poll forever (cancel the task to stop)."""
        loop = asyncio.get_running_loop()
        self._last_id = await loop.run_in_executor(None, self.log.last_id)
        while True:
            await asyncio.sleep(self.interval)
            try:
                ids = await loop.run_in_executor(None, self._new_erasures)
                if ids:
                    await self.forget(ids)
            except Exception:
                logger.exception("erasure feed failed")

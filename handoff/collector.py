"""Full garbage collections at a steady pace, not whenever CPython's heuristic fires.

A full collection scans every tracked object the bot engine has not frozen: each open
socket's coroutines, tasks and frames (~380 objects per idle shopper socket) and the
cached trackers. It holds the GIL throughout, so every reply in flight waits for it.
Measured on one embedded server in the open loop (1,000 sockets, 100 messages/s,
``gc.callbacks``): CPython ran one every 2-4 s, each 150-590 ms; the replies sent
during one came 200-500 ms late, the whole p99 above 300 ms at 50 and 100 msg/s.

Young collections (generations 0 and 1, a few ms) keep CPython's thresholds and
reclaim most cyclic garbage; full ones run every :data:`FULL_COLLECTION_EVERY_S`,
so what reaches the old generation is reclaimed at most that much later.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

logger = logging.getLogger(__name__)

FULL_COLLECTION_EVERY_S = 60.0
NEVER = 2**30
"""An old-generation threshold CPython never reaches (it counts young collections: one per ~7,000
allocations)."""


def without_automatic_full_collections(thresholds: tuple[int, ...]) -> tuple[int, int, int]:
    """``thresholds`` (``gc.get_threshold()``'s) with the full collection left to :func:`collect_fully_every`."""
    young, middle = thresholds[0], thresholds[1]
    return young, middle, NEVER


async def collect_fully_every(seconds: float = FULL_COLLECTION_EVERY_S) -> None:
    """Run a full collection every ``seconds`` (a task on the server's loop, until cancelled)."""
    gc.set_threshold(*without_automatic_full_collections(gc.get_threshold()))
    while True:
        await asyncio.sleep(seconds)
        started = time.perf_counter()
        found = gc.collect(2)
        logger.debug("full garbage collection: %d objects freed in %.0f ms", found,
                     (time.perf_counter() - started) * 1000)

"""Full garbage collections at a steady pace (handoff/collector.py; the open-loop tail of issue #21).

CPython's own full collections came every 2-4 s on a busy server and stalled every reply in
flight for 150-590 ms; from the bot's load on, the server runs them on a timer instead, and the
young generations keep CPython's thresholds. In-process.
"""

from __future__ import annotations

import asyncio
import gc

from handoff.collector import NEVER, collect_fully_every, without_automatic_full_collections


def test_the_old_generation_is_left_to_the_timer_and_the_young_keep_their_thresholds():
    assert without_automatic_full_collections((700, 10, 10)) == (700, 10, NEVER)


def test_full_collections_run_on_the_timer_and_only_there():
    before = gc.get_threshold()
    full = []

    def note(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full.append(info)

    async def run() -> int:
        task = asyncio.ensure_future(collect_fully_every(0.1))
        for _ in range(100):  # (up to 10 s: in a large test process a full collection takes a while)
            if len(full) >= 2:
                break
            await asyncio.sleep(0.1)
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        timed = len(full)
        kept = [[] for _ in range(300_000)]  # (CPython alone would have run full collections for these)
        assert len(full) == timed
        task.cancel()
        return timed + 0 * len(kept)

    gc.callbacks.append(note)
    try:
        timed = asyncio.run(run())
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*before)
    assert timed >= 2

"""A model loading beside the live one waits while shoppers' messages are answered
(``bot.loader_pacing.ShopperFirst``, used by ``BotEngine.swap``)."""

import threading
import time

from bot.loader_pacing import ShopperFirst


def _work(steps: int, progress: list) -> str:
    """Python work in many small calls, as unpacking a model is."""
    for _ in range(steps):
        progress.append(sum(range(50)))
    return "loaded"


def _load_in_thread(pacing: ShopperFirst, steps: int, progress: list, result: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: result.append(pacing.run(_work, steps, progress)))
    thread.start()
    return thread


def test_the_loader_stops_while_a_message_is_answered_and_finishes_after():
    pacing, progress, result = ShopperFirst(max_wait=5.0), [], []
    with pacing.answering():
        thread = _load_in_thread(pacing, 200_000, progress, result)
        time.sleep(0.3)
        during = len(progress)
    thread.join(timeout=30)
    assert during <= 1  # (the profile hook fires before the first call completes)
    assert result == ["loaded"] and len(progress) == 200_000
    assert pacing.waited >= 0.25


def test_the_loader_runs_freely_when_nobody_is_answered():
    pacing, progress, result = ShopperFirst(max_wait=5.0), [], []
    with pacing.answering():
        pass  # (answered and done: nothing to wait for)
    _load_in_thread(pacing, 50_000, progress, result).join(timeout=30)
    assert result == ["loaded"] and pacing.waited == 0.0


def test_under_endless_traffic_the_loader_still_finishes():
    pacing, progress, result = ShopperFirst(max_wait=0.02, min_run=0.005), [], []
    with pacing.answering():
        thread = _load_in_thread(pacing, 100_000, progress, result)
        thread.join(timeout=60)
        assert result == ["loaded"]  # finished while a message was still being answered
    assert pacing.waited > 0


def test_overlapping_messages_keep_the_loader_waiting_until_the_last_is_answered():
    pacing, progress, result = ShopperFirst(max_wait=5.0), [], []
    first, second = pacing.answering(), pacing.answering()
    first.__enter__()
    second.__enter__()
    thread = _load_in_thread(pacing, 100_000, progress, result)
    first.__exit__(None, None, None)
    time.sleep(0.2)
    assert len(progress) <= 1  # one message is still being answered
    second.__exit__(None, None, None)
    thread.join(timeout=30)
    assert result == ["loaded"]


def test_the_hook_is_removed_after_the_load():
    import sys

    pacing, seen = ShopperFirst(), []
    pacing.run(lambda: seen.append(sys.getprofile()))
    assert seen[0] is not None and sys.getprofile() is None


def test_a_swap_frees_the_old_model_on_a_worker_thread_not_where_replies_are_made():
    """Freeing a model holds the GIL for one 30-60 ms cascade: not on the bot thread or the server's loop."""
    import asyncio
    import gc

    from bot.engine import BotEngine

    freed_on = []

    class Model:  # stands in for a Rasa agent: only its lifetime matters here
        domain = None
        tracker_store = type("Store", (), {"domain": None})()

        def __del__(self):
            freed_on.append(threading.current_thread().name)

    engine = BotEngine(Model, reload_factory=lambda path, previous: Model())

    async def swap() -> str:
        engine.start()
        await engine.wait_ready(30)
        await engine.swap("the next model")
        return threading.current_thread().name

    try:
        loop_thread = asyncio.run(swap())
    finally:
        engine.stop()
        gc.unfreeze()  # (the engine froze this test process's objects after its "load")
    assert len(freed_on) == 1 and freed_on[0] not in (loop_thread, "crossdesk-bot")

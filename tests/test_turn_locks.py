"""``bot.turn_locks``: two processes' turn locks on one real redis-server (in-process, no model, ~1 s).

Each ``RedisTurnLocks`` stands for one server process; ``subscribe_stale`` records when
that process must drop its cached tracker of a conversation.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from bot.turn_locks import turn_locks_from_url
from harness.redis_server import REDIS, RedisServer

pytestmark = pytest.mark.skipif(not os.access(REDIS, os.X_OK), reason="redis-server is not installed")


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def process(redis: RedisServer) -> tuple:
    """A lock store as one server process has it, and the conversations it was told to reload."""
    stale: list[str] = []
    locks = turn_locks_from_url(redis.url)
    locks.subscribe_stale(stale.append)
    return locks, stale


async def turn(locks, conversation: str) -> None:
    async with locks.lock(conversation):
        pass


async def test_a_process_keeps_its_tracker_until_another_process_has_had_the_conversation(redis):
    (a, a_stale), (b, b_stale) = process(redis), process(redis)
    await turn(a, "s1")
    await turn(a, "s1")
    assert a_stale == ["s1"]  # first time: nothing cached yet; the second turn keeps A's tracker

    await turn(b, "s1")  # B answers (or an agent's claim on B pauses the bot)
    await turn(a, "s1")
    await turn(a, "s2")
    assert b_stale == ["s1"] and a_stale == ["s1", "s1", "s2"]  # A reloads s1 from the database


async def test_a_conversation_held_by_one_process_waits_in_the_other_until_it_is_given_back(redis):
    (a, _), (b, _) = process(redis), process(redis)
    order = []

    async def slow_turn_on_a(entered: asyncio.Event):
        async with a.lock("s1"):
            entered.set()
            order.append("a in")
            await asyncio.sleep(0.3)
            order.append("a out")

    entered = asyncio.Event()
    task = asyncio.create_task(slow_turn_on_a(entered))
    await entered.wait()
    async with b.lock("s1"):
        order.append("b in")
    await task
    assert order == ["a in", "a out", "b in"]


async def test_after_a_redis_restart_every_process_reloads_and_locks_work_again(redis):
    (a, a_stale), _ = process(redis), process(redis)
    await turn(a, "s1")
    redis.stop()
    redis.start()  # no persistence: every version key is gone
    await turn(a, "s1")
    assert a_stale == ["s1", "s1"]

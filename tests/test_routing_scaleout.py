"""Routing across processes: two apps (``create_app`` with ``CROSSDESK_REDIS_URL``) sharing one database and a
real redis-server, each served in-process. A Korean shopper on one process reaches the Korean-speaking agent
connected to the other first; the English-only agent beside the shopper gets it only after the widen delay."""

from __future__ import annotations

import os
import time

import pytest
import pytest_asyncio

from harness.redis_server import REDIS, RedisServer
from tests.inprocess import closed, served, until
from tests.test_routing import KoreanFakeBot, offered

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not os.access(REDIS, os.X_OK), reason="redis-server is not installed")]
WIDEN = 2.5


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(tmp_path_factory):
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    var_dir = tmp_path_factory.mktemp("shared")
    settings = {"redis_url": redis.url, "routing_widen_seconds": WIDEN}
    try:
        async with served(var_dir, bot=KoreanFakeBot(), **settings) as first:
            async with served(var_dir, bot=KoreanFakeBot(), **settings) as second:
                yield first, second
    finally:
        redis.stop()


async def test_a_korean_shopper_on_one_process_reaches_the_korean_agent_on_the_other_first(pair):
    first, second = pair
    minji, _ = await first.agent("minji", languages=("ko",))
    emma, _ = await second.agent("emma", languages=("en",))
    minji_id = first.app.ctx.agents.by_username("minji").id
    await until(lambda: second.app.ctx.presence.is_online(minji_id), timeout=5)  # the other process's heartbeat

    shopper = await second.shopper()
    await shopper.say("사람과 이야기하고 싶어요")
    queued_at = time.monotonic()
    await minji.expect("agent:queue", timeout=WIDEN, where=offered(shopper.session_id))
    reached_minji = time.monotonic() - queued_at
    await emma.expect("agent:queue", timeout=WIDEN + 5, where=offered(shopper.session_id))
    reached_emma = time.monotonic() - queued_at
    ack = await minji.call("claim", {"conversation_id": shopper.session_id})

    assert reached_minji < WIDEN - 0.5 and reached_emma >= WIDEN - 0.2
    assert ack["ok"]
    await closed(shopper, minji, emma)

"""Agent presence in memory and shared through a real ``redis-server`` (in-process, no Crossdesk server)."""

from __future__ import annotations

import asyncio

from handoff.presence import MemoryPresence, RedisPresence


def test_in_memory_an_agent_is_online_while_one_of_his_tabs_is_connected_and_away_until_he_leaves():
    presence = MemoryPresence()
    presence.connected("tab-1", 7)
    presence.connected("tab-2", 7)
    presence.connected("tab-3", 8)
    presence.set_status(8, "away")
    assert presence.online_agents() == {7, 8} and presence.available_count() == 1
    assert presence.disconnected("tab-1") == 7 and presence.is_online(7)
    assert presence.disconnected("tab-3") == 8 and not presence.is_online(8)
    assert presence.status(8) == "online"  # a status ends with the agent's last socket
    assert presence.disconnected("unknown") is None


async def test_two_processes_see_each_others_agents_and_statuses_through_redis(redis_url):
    first, second = RedisPresence(redis_url, heartbeat=0.1), RedisPresence(redis_url, heartbeat=0.1)
    await first.start()
    await second.start()
    try:
        first.connected("sid-a", 41)
        second.connected("sid-b", 42)
        await asyncio.sleep(0.05)  # (second's write)
        assert await first.confirm_online(42)  # at once, not at the next heartbeat
        second.set_status(42, "away")
        await asyncio.sleep(0.4)
        assert first.online_agents() == second.online_agents() == {41, 42}
        assert first.status(42) == "away" and first.available_count() == second.available_count() == 1
        assert first.local_sids(42) == [] and second.local_sids(42) == ["sid-b"]

        second.disconnected("sid-b")
        await asyncio.sleep(0.4)
        assert first.online_agents() == {41} and first.status(42) == "online"
    finally:
        await first.stop()
        await second.stop()


async def test_the_agents_of_a_process_that_stopped_beating_disappear_after_the_ttl(redis_url):
    alive, killed = RedisPresence(redis_url, heartbeat=0.1), RedisPresence(redis_url, heartbeat=0.1, ttl=1)
    await alive.start()
    await killed.start()
    try:
        killed.connected("sid-k", 51)
        await asyncio.sleep(0.4)
        assert alive.is_online(51)
        killed._task.cancel()  # like SIGKILL: no goodbye, the entry is only left to expire
        await asyncio.sleep(2.5)  # (1 s TTL + heartbeats, with room for a busy machine)
        assert not alive.is_online(51)
    finally:
        await alive.stop()
        killed._task = None
        await killed.redis.close()


async def test_a_room_change_published_by_one_process_reaches_the_others_even_after_a_quiet_while(redis_url):
    first, second = RedisPresence(redis_url, heartbeat=0.1), RedisPresence(redis_url, heartbeat=0.1)
    moved = []

    async def join_here(agent_id, room, join):
        moved.append((agent_id, room, join))

    second.follow_rooms(join_here)
    await first.start()
    await second.start()
    try:
        await asyncio.sleep(2.5)  # longer than the commands' 2 s read timeout: the subscription must not use it
        await first.share_rooms(7, "conversation:c1", True)
        for _ in range(50):
            if moved:
                break
            await asyncio.sleep(0.05)
        assert moved == [(7, "conversation:c1", True)]
    finally:
        await first.stop()
        await second.stop()


async def test_stop_ends_even_when_a_background_task_ignores_its_cancellation(redis_url):
    presence = RedisPresence(redis_url, heartbeat=0.1)
    await presence.start()
    released = asyncio.Event()

    async def stubborn():  # (what a Redis subscription stuck in its close looks like to stop())
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    presence._rooms_task.cancel()
    presence._rooms_task = stuck = asyncio.ensure_future(stubborn())
    stopping = asyncio.ensure_future(presence.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    released.set()
    await stuck

    assert stopping in done  # the server's shutdown goes on (before: stop() waited for ever)

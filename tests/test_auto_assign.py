"""Auto-assignment (``CROSSDESK_AUTO_ASSIGN``, handoff/routing.py) in-process: 20 shoppers ask for a person at
once; three agents with room for 5 each get 5 each, no conversation twice, the rest waits until room frees."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import pytest_asyncio

from tests.inprocess import closed, served, until

pytestmark = pytest.mark.asyncio(loop_scope="module")
LIMIT = 5


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("auto"), auto_assign=True, agent_max_conversations=LIMIT) as running:
        yield running


async def test_a_race_of_20_arrivals_is_assigned_once_each_balanced_and_within_the_limit(desk):
    agents = [await desk.agent(name, languages=("en",)) for name in ("ana", "bo", "cy")]
    shoppers = [await desk.shopper() for _ in range(20)]
    store = desk.app.ctx.store

    await asyncio.gather(*(s.say("I want a human") for s in shoppers))
    held = await until(lambda: (lambda c: c if len(c) == 3 * LIMIT else None)(
        store.conversations_in(("with_agent",))), timeout=10)
    await asyncio.sleep(0.5)  # later pushes must not assign more

    ids = {n: desk.app.ctx.agents.by_username(n).id for n in ("ana", "bo", "cy")}
    per_agent = Counter(c.agent_id for c in store.conversations_in(("with_agent",)))
    assigned_events = []

    def drain():
        for client, _ in agents:
            while not client.events.empty():
                name, data = client.events.get_nowait()
                if name == "agent:assigned":
                    assigned_events.append(data["conversation"]["conversation_id"])
        return len(assigned_events) >= 3 * LIMIT

    await until(drain, timeout=10)
    await asyncio.sleep(0.3)
    drain()  # (none more may come)
    claims = [t for c in held for t in store.transitions(c.id) if t["to_state"] == "with_agent"]

    assert per_agent == {agent_id: LIMIT for agent_id in ids.values()}  # balanced, nobody over the limit
    assert len(store.conversations_in(("waiting",))) == 20 - 3 * LIMIT
    assert len(claims) == 3 * LIMIT and {t["reason"] for t in claims} == {"auto_assign"}  # each assigned once
    assert sorted(assigned_events) == sorted(c.id for c in held)  # each console was told, once per conversation
    # Room frees up: the longest-waiting conversation goes to that agent at once.
    first = next(c for c in held if c.agent_id == ids["ana"])
    oldest = store.conversations_in(("waiting",))
    oldest = min(oldest, key=lambda c: c.waiting_since)
    ana = agents[0][0]
    await ana.call("resolve", {"conversation_id": first.id})
    _, given = await ana.expect("agent:assigned", timeout=5)
    assert given["conversation"]["conversation_id"] == oldest.id and given.get("auto") is True
    await closed(*shoppers, *(client for client, _ in agents))


async def test_the_claim_with_a_load_limit_refuses_an_agent_at_the_limit(desk):
    store = desk.app.ctx.store
    agent = desk.app.ctx.agents.by_username("bo")
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await until(lambda: store.get_conversation(shopper.session_id).state == "waiting", timeout=5)

    refused = store.transition(shopper.session_id, "with_agent", f"agent:{agent.id}", "auto_assign", ("waiting",),
                               agent_id=agent.id, max_load=LIMIT)

    assert not refused and store.get_conversation(shopper.session_id).state == "waiting"
    await closed(shopper)

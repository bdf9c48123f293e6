"""Manual claims and transfers racing against an agent's conversation limit (issue #19), over real sockets.

Two apps (``create_app``) share one SQLite database, each served in its own thread and event loop, as two
server processes would: one agent has a console tab on each and both tabs claim waiting conversations at
the same moment; two agents on the two processes transfer conversations to one agent at the same moment.
The limit is checked in the claim's or transfer's own UPDATE (``SQLStore.transition(max_load=...)``), so
however they interleave nobody holds more than ``CROSSDESK_AGENT_MAX_CONVERSATIONS``. (With the check
made before the UPDATE the agent held 4 of a limit of 3 here, in each of two runs, for claims and for
transfers alike.)
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter

import pytest

from tests.inprocess import closed, served, until

pytestmark = pytest.mark.asyncio
LIMIT = 3
ROUNDS = 4
PER_TAB = 6


class Background:
    """An app served by ``served`` in a thread of its own (its own event loop): real concurrency with the test's."""

    def __init__(self, var_dir, **settings):
        self.var_dir, self.settings = var_dir, settings
        self.ready = threading.Event()
        self.served = None
        self.loop = None
        self._stop = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self):
        self.loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with served(self.var_dir, **self.settings) as running:
            self.served = running
            self.ready.set()
            await self._stop.wait()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(60), "the app did not start"
        return self.served

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


@pytest.fixture
def interleaved():
    """Threads switch every 10 µs instead of 5 ms: the apps' handlers interleave as two processes' would."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


async def test_two_tabs_on_two_processes_claiming_at_once_never_exceed_the_limit(tmp_path, interleaved):
    with Background(tmp_path, agent_max_conversations=LIMIT) as one, \
            Background(tmp_path, agent_max_conversations=LIMIT) as two:
        one.agent_token("desk19-racer")  # (the account, in the shared database)
        tab_one, _ = await one.agent("desk19-racer")
        tab_two, _ = await two.agent("desk19-racer")
        store = one.app.ctx.store
        agent_id = one.app.ctx.agents.by_username("desk19-racer").id
        held_most = 0
        for _ in range(ROUNDS):
            shoppers = [await one.shopper() for _ in range(2 * PER_TAB)]
            await asyncio.gather(*(s.say("I want a human") for s in shoppers))
            await until(lambda: all(store.get_conversation(s.session_id).state == "waiting" for s in shoppers),
                        timeout=10)
            ids = [s.session_id for s in shoppers]
            acks = await asyncio.gather(
                *(tab_one.call("claim", {"conversation_id": c}) for c in ids[:PER_TAB]),
                *(tab_two.call("claim", {"conversation_id": c}) for c in ids[PER_TAB:]))

            held = [c for c in store.conversations_in(("with_agent",)) if c.agent_id == agent_id]
            held_most = max(held_most, len(held))
            assert len(held) <= LIMIT, f"the agent holds {len(held)} of a limit of {LIMIT}"
            assert sum(ack["ok"] for ack in acks) == len(held) == LIMIT  # claims go through up to the limit
            assert Counter(ack.get("error") for ack in acks if not ack["ok"]) == {"limit_reached": 2 * PER_TAB - LIMIT}
            for conversation in held:  # room again for the next round
                ack = await tab_one.call("resolve", {"conversation_id": conversation.id})
                assert ack["ok"], ack
            await closed(*shoppers)
        assert held_most == LIMIT
        await closed(tab_one, tab_two)


async def test_transfers_to_one_agent_from_two_processes_at_once_never_exceed_their_limit(tmp_path, interleaved):
    with Background(tmp_path, agent_max_conversations=LIMIT) as one, \
            Background(tmp_path, agent_max_conversations=LIMIT) as two:
        for name in ("desk19-giver-a", "desk19-giver-b", "desk19-taker"):
            one.agent_token(name)
        giver_a, _ = await one.agent("desk19-giver-a")
        giver_b, _ = await two.agent("desk19-giver-b")
        taker_one, _ = await one.agent("desk19-taker")  # online on both processes (no shared presence here)
        taker_two, _ = await two.agent("desk19-taker")
        store = one.app.ctx.store
        taker = one.app.ctx.agents.by_username("desk19-taker").id
        held_most = 0
        for _ in range(ROUNDS):
            shoppers = [await one.shopper() for _ in range(2 * LIMIT)]
            await asyncio.gather(*(s.say("I want a human") for s in shoppers))
            await until(lambda: all(store.get_conversation(s.session_id).state == "waiting" for s in shoppers),
                        timeout=10)
            ids = [s.session_id for s in shoppers]
            for giver, mine in ((giver_a, ids[:LIMIT]), (giver_b, ids[LIMIT:])):
                for conversation_id in mine:
                    assert (await giver.call("claim", {"conversation_id": conversation_id}))["ok"]
            acks = await asyncio.gather(
                *(giver_a.call("transfer", {"conversation_id": c, "agent_id": taker}) for c in ids[:LIMIT]),
                *(giver_b.call("transfer", {"conversation_id": c, "agent_id": taker}) for c in ids[LIMIT:]))

            held = [c for c in store.conversations_in(("with_agent",)) if c.agent_id == taker]
            held_most = max(held_most, len(held))
            assert len(held) <= LIMIT, f"the agent holds {len(held)} of a limit of {LIMIT}"
            assert sum(ack["ok"] for ack in acks) == len(held) == LIMIT
            assert {ack.get("error") for ack in acks if not ack["ok"]} == {"limit_reached"}
            for conversation in store.conversations_in(("with_agent",)):  # room again for the next round
                client = {taker: taker_one}.get(conversation.agent_id) or (
                    giver_a if ids.index(conversation.id) < LIMIT else giver_b)
                assert (await client.call("resolve", {"conversation_id": conversation.id}))["ok"]
            await closed(*shoppers)
        assert held_most == LIMIT
        await closed(giver_a, giver_b, taker_one, taker_two)

"""The load-limited claim auto-assignment uses (``SQLStore.transition(max_load=...)``) under real concurrency:
20 threads, as 20 processes' assignments would, give 20 waiting conversations to one agent at the same
moment, on SQLite and on PostgreSQL (where the agent's row lock is what keeps the count honest: without it
13 of the 20 went to the agent in the check of this test)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from handoff.store import SQLStore
from handoff.store.agents import AgentStore

LIMIT = 5
ARRIVALS = 20


def race(store: SQLStore) -> list[bool]:
    agent = AgentStore(store).add("solo", "solo-password", ["en"])
    ids = [f"race-conversation-{n:04d}-0000" for n in range(ARRIVALS)]
    for conversation_id in ids:
        store.ensure_conversation(conversation_id)
        store.transition(conversation_id, "waiting", "bot", "request_human", ("bot",))
    start = threading.Barrier(ARRIVALS)

    def assign(conversation_id: str) -> bool:
        start.wait()
        return store.transition(conversation_id, "with_agent", f"agent:{agent.id}", "auto_assign", ("waiting",),
                                agent_id=agent.id, max_load=LIMIT)

    with ThreadPoolExecutor(ARRIVALS) as pool:
        won = list(pool.map(assign, ids))
    assert store.agent_loads() == {agent.id: LIMIT}
    return won


def test_on_sqlite_no_agent_goes_over_the_limit_when_20_assignments_race(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'race.db'}")
    assert sum(race(store)) == LIMIT
    store.close()


def test_on_postgresql_no_agent_goes_over_the_limit_when_20_assignments_race(postgres_url):
    store = SQLStore(postgres_url)
    assert sum(race(store)) == LIMIT
    store.close()

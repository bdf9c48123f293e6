"""An agent's own moves on a conversation (transfer, hand back, resolve, requeue when they went away) only
apply while that agent still holds it: two tabs of one agent on two processes transferring the same
conversation to two colleagues at once, or a requeue racing a transfer, must not both win
(``SQLStore.transition(held_by=...)``). Threads released together, as two processes' requests would be."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from handoff.store import SQLStore
from handoff.store.agents import AgentStore

ROUNDS = 10


def held_conversation(store: SQLStore, agents: AgentStore, n: int, holder: int) -> str:
    conversation_id = f"holder-race-{n:04d}-0000"
    store.ensure_conversation(conversation_id)
    store.transition(conversation_id, "waiting", "bot", "request_human", ("bot",))
    store.transition(conversation_id, "with_agent", f"agent:{holder}", "claim", ("waiting",), agent_id=holder)
    return conversation_id


def race(store: SQLStore, moves) -> list[list[bool]]:
    """Each round: a new conversation held by the first agent, the moves run at once; which moves won."""
    agents = AgentStore(store)
    team = [agents.add(name, f"{name}-password", ["en"]) for name in ("hana", "ivan", "jude")]
    results = []
    for n in range(ROUNDS):
        conversation_id = held_conversation(store, agents, n, team[0].id)
        start = threading.Barrier(len(moves))

        def run(move):
            start.wait()
            return move(store, conversation_id, *team)

        with ThreadPoolExecutor(len(moves)) as pool:
            results.append(list(pool.map(run, moves)))
    return results


def transfer_to(which: int):
    def move(store, conversation_id, hana, *others):
        target = others[which]
        return store.transition(conversation_id, "with_agent", f"agent:{hana.id}", f"transfer:{target.id}",
                                ("with_agent",), agent_id=target.id, held_by=hana.id)
    return move


def requeue_hana(store, conversation_id, hana, *_):
    return store.transition(conversation_id, "waiting", "system", "agent_disconnected", ("with_agent",),
                            held_by=hana.id)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'holder.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = SQLStore(url)
    yield store
    store.close()


def test_two_transfers_of_one_conversation_at_once_give_it_to_exactly_one_colleague(store):
    rounds = race(store, [transfer_to(0), transfer_to(1)])

    assert all(sum(won) == 1 for won in rounds), rounds
    holders = {store.get_conversation(f"holder-race-{n:04d}-0000").agent_id for n in range(ROUNDS)}
    assert holders <= {AgentStore(store).by_username(name).id for name in ("ivan", "jude")}


def test_a_requeue_racing_a_transfer_never_takes_the_conversation_from_its_new_holder(store):
    rounds = race(store, [transfer_to(0), requeue_hana])

    assert all(sum(won) == 1 for won in rounds), rounds
    ivan = AgentStore(store).by_username("ivan").id
    for n, (transferred, requeued) in enumerate(rounds):
        conversation = store.get_conversation(f"holder-race-{n:04d}-0000")
        assert (conversation.state, conversation.agent_id) == (("with_agent", ivan) if transferred else ("waiting", None))

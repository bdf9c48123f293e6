"""handoff/handoffs.py, in-process: queueing tells the agents, claim, agent replies, hand back, resolve,
transfer and the requeue notice, with the app from ``create_app`` around a fake bot (``tests/inprocess.py``)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from tests.inprocess import closed, served

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("handoffs"), agent_grace_seconds=0.3) as running:
        yield running


def waiting(conversation_id):
    return lambda data: any(entry["conversation_id"] == conversation_id for entry in data["queue"])


def not_waiting(conversation_id):
    return lambda data: not waiting(conversation_id)(data)


async def test_a_request_for_a_person_is_queued_the_agents_see_it_and_the_claimer_gets_the_transcript(desk):
    agent, _ = await desk.agent("queue-watcher")
    shopper = await desk.shopper()

    await shopper.say("hello")
    await shopper.expect("bot_uttered")
    await shopper.say("I want a human")
    _, notice = await shopper.expect("bot_uttered")
    _, queue = await agent.expect("agent:queue", where=waiting(shopper.session_id))
    ack = await agent.call("claim", {"conversation_id": shopper.session_id})
    _, joined = await shopper.expect("bot_uttered")

    assert notice["sender"] == "system" and notice["event"] == "utter_handoff_waiting"  # an agent is online
    entry = next(e for e in queue["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["reason"] == "request_human" and entry["last_message"] == "I want a human"
    assert ack["ok"] and ack["conversation"]["state"] == "with_agent"
    assert [m["text"] for m in ack["conversation"]["transcript"]][:2] == ["hello", "Hello from the fake bot."]
    assert joined["event"] == "utter_agent_joined" and "Queue-Watcher" in joined["text"]
    await agent.expect("agent:queue", where=not_waiting(shopper.session_id))  # taken: gone from everyone's queue
    await closed(shopper, agent)


async def test_with_an_agent_messages_go_both_ways_and_the_bot_stays_silent_until_handed_back(desk):
    agent, _ = await desk.agent("relay")
    shopper = await desk.shopper()
    await shopper.say("my parcel is damaged")  # an intent that needs a person
    await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_handoff_waiting")
    await agent.call("claim", {"conversation_id": shopper.session_id})

    await shopper.say("hello")
    _, relayed = await agent.expect("agent:shopper_message")
    sent = await agent.call("send", {"conversation_id": shopper.session_id, "text": "Let me check."})
    _, reply = await shopper.expect("bot_uttered", where=lambda m: m["sender"] == "agent")
    back = await agent.call("handback", {"conversation_id": shopper.session_id})
    _, left = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_left")
    answered = await shopper.ask("hello")

    assert relayed["conversation_id"] == shopper.session_id and relayed["message"]["text"] == "hello"
    assert sent["ok"] and not sent["duplicate"]
    assert reply["text"] == "Let me check." and reply["name"] == "Relay"
    assert (shopper.session_id, "hello") in desk.bot.handled  # the bot read it (NLU) but said nothing while paused
    assert back == {"ok": True} and left["sender"] == "system"
    assert answered["sender"] == "bot" and answered["text"] == "Hello from the fake bot."
    await closed(shopper, agent)


async def test_a_resolved_conversation_is_answered_by_the_bot_again_when_the_shopper_writes(desk):
    agent, _ = await desk.agent("resolver")
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await agent.expect("agent:queue", where=waiting(shopper.session_id))
    await agent.call("claim", {"conversation_id": shopper.session_id})

    resolved = await agent.call("resolve", {"conversation_id": shopper.session_id, "outcome": "answered"})
    after = await agent.call("send", {"conversation_id": shopper.session_id, "text": "still there?"})
    await shopper.say("how long does shipping take")
    _, answer = await shopper.expect("bot_uttered", where=lambda m: m["sender"] == "bot")

    assert resolved == {"ok": True}
    assert after["ok"] is False and after["error"] == "not_assigned"  # no longer theirs
    assert answer["text"] == "About a week."
    transitions = desk.app.ctx.handoffs.bundle(shopper.session_id)["transitions"]
    assert [(t["to_state"], t["reason"]) for t in transitions][-2:] == [("resolved", "answered"), ("bot", "reopened")]
    await closed(shopper, agent)


async def test_two_agents_claiming_at_once_one_wins_the_other_is_told_it_is_taken(desk):
    first, _ = await desk.agent("racer-one")
    second, _ = await desk.agent("racer-two")
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await first.expect("agent:queue", where=waiting(shopper.session_id))

    acks = await asyncio.gather(first.call("claim", {"conversation_id": shopper.session_id}),
                                second.call("claim", {"conversation_id": shopper.session_id}))

    assert sorted(ack["ok"] for ack in acks) == [False, True]
    loser = next(ack for ack in acks if not ack["ok"])
    assert loser["error"] == "already_claimed"
    joined = [m for m in desk.app.ctx.store.transcript(shopper.session_id) if m.data.get("event") == "utter_agent_joined"]
    assert len(joined) == 1  # the shopper heard of one agent only
    await closed(shopper, first, second)


async def test_a_transfer_moves_the_conversation_and_its_messages_to_the_other_agent(desk):
    holder, _ = await desk.agent("holder")
    target, hello = await desk.agent("target")
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await holder.expect("agent:queue", where=waiting(shopper.session_id))
    await holder.call("claim", {"conversation_id": shopper.session_id})

    ack = await holder.call("transfer", {"conversation_id": shopper.session_id, "agent_id": hello["agent"]["id"]})
    _, assigned = await target.expect("agent:assigned")
    _, joined = await shopper.expect("bot_uttered", where=lambda m: "Target" in m.get("text", ""))
    await shopper.say("are you there?")
    _, relayed = await target.expect("agent:shopper_message")
    refused = await holder.call("send", {"conversation_id": shopper.session_id, "text": "me again"})
    sent = await target.call("send", {"conversation_id": shopper.session_id, "text": "Target here"})
    _, reply = await shopper.expect("bot_uttered", where=lambda m: m["sender"] == "agent")

    assert ack == {"ok": True}
    assert assigned["conversation"]["conversation_id"] == shopper.session_id and assigned["from"] == "Holder"
    assert assigned["conversation"]["transitions"][-1]["reason"] == f"transfer:{hello['agent']['id']}"
    assert joined["event"] == "utter_agent_joined"
    assert relayed["message"]["text"] == "are you there?"
    assert refused["error"] == "not_assigned"
    assert sent["ok"] and reply["text"] == "Target here" and reply["name"] == "Target"
    await closed(shopper, holder, target)


async def test_an_agent_who_stays_away_past_the_grace_period_has_the_shopper_requeued_and_told(desk):
    watcher, _ = await desk.agent("requeue-watcher")
    leaver, _ = await desk.agent("leaver")
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await watcher.expect("agent:queue", where=waiting(shopper.session_id))
    await leaver.call("claim", {"conversation_id": shopper.session_id})
    await watcher.expect("agent:queue", where=not_waiting(shopper.session_id))

    await closed(leaver)  # grace: 0.3 s in this module
    _, notice = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_requeued")
    _, queue = await watcher.expect("agent:queue", where=waiting(shopper.session_id))

    assert "Leaver" in notice["text"]
    entry = next(e for e in queue["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["reason"] == "agent_disconnected"
    await closed(shopper, watcher)


# -- the service with another notifier: what a second process would pass in ------------------------------------

class RecordingNotifier:
    """An ``AgentNotifier`` that keeps what the service wanted agents to hear (a Redis one would publish it)."""

    def __init__(self):
        self.sent: list[tuple] = []

    async def to_all(self, event, payload):
        self.sent.append(("all", event, payload))

    async def to_conversation(self, conversation_id, event, payload):
        self.sent.append((conversation_id, event, payload))

    async def seat(self, agent_id, conversation_id, join):
        self.sent.append(("seat", agent_id, conversation_id, join))


async def test_the_service_tells_agents_only_through_the_notifier_it_was_given(tmp_path):
    from bot.nlg import MultilingualNLG
    from handoff.handoffs import HandoffService
    from handoff.lifecycle import Lifecycle
    from handoff.store import SQLStore
    from handoff.store.agents import AgentStore
    from tests.inprocess import FakeBot

    store = SQLStore(f"sqlite:///{tmp_path / 'desk.db'}")
    agents = AgentStore(store)
    notifier, delivered = RecordingNotifier(), []

    async def to_shopper(session_id, payload):
        delivered.append((session_id, payload["event"]))

    service = HandoffService(store, Lifecycle(store, FakeBot(), MultilingualNLG(), lambda: 0), notifier, to_shopper,
                             agents)
    conversation = store.ensure_conversation("c" * 32)
    agent = agents.add("solo", "solo-password", ["en"])

    await service.request(conversation, "request_human")
    bundle = await service.claim(agent, conversation.id)
    said, _ = store.add_message(conversation.id, "shopper", "hello")
    await service.shopper_said(conversation.id, "with_agent", said)
    await service.hand_back(agent, conversation.id)
    service.close()
    store.close()

    assert delivered == [("c" * 32, "utter_handoff_offline"), ("c" * 32, "utter_agent_joined"),
                         ("c" * 32, "utter_agent_left")]
    assert notifier.sent[0][:2] == ("all", "agent:queue")  # (a second push may follow: they are coalesced)
    assert notifier.sent[0][2]["queue"][0]["conversation_id"] == "c" * 32
    assert [entry[:2] for entry in notifier.sent if entry[1] != "agent:queue"] == [
        ("seat", agent.id), ("c" * 32, "agent:shopper_message"), ("seat", agent.id)]
    assert bundle["state"] == "with_agent"

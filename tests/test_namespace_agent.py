"""handoff/namespaces/agent.py, in-process: authentication at connect, the hello, reconnecting consoles, limits,
presence and validation (the app from ``create_app`` around a fake bot: ``tests/inprocess.py``)."""

from __future__ import annotations

import pytest
import pytest_asyncio
import socketio

from harness.clients import AgentClient
from tests.inprocess import closed, served

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("agent-namespace"), agent_max_conversations=1) as running:
        yield running


async def queued_shopper(desk, watcher):
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await watcher.expect("agent:queue", where=lambda q: any(e["conversation_id"] == shopper.session_id
                                                            for e in q["queue"]))
    return shopper


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_socket_without_a_valid_agent_token_is_refused_at_connect(desk, token):
    client = AgentClient(desk.url, token)
    reasons = []
    client.client.on("connect_error", reasons.append, namespace="/agent")

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect()

    assert any("unauthorized" in str(reason) for reason in reasons)


async def test_the_hello_names_the_agent_and_carries_the_queue(desk):
    watcher, _ = await desk.agent("hello-watcher")
    shopper = await queued_shopper(desk, watcher)

    agent, hello = await desk.agent("greeted", languages=("ja", "en"))

    assert hello["agent"]["username"] == "greeted" and hello["agent"]["languages"] == ["ja", "en"]
    assert hello["status"] == "online" and hello["conversations"] == []
    assert shopper.session_id in [entry["conversation_id"] for entry in hello["queue"]]
    await closed(shopper, watcher, agent)


async def test_a_console_that_reconnects_gets_its_conversations_back_and_their_messages_again(desk):
    token = desk.agent_token("reconnecting")
    first = AgentClient(desk.url, token)
    await first.connect()
    shopper = await queued_shopper(desk, first)
    await first.call("claim", {"conversation_id": shopper.session_id})
    await closed(first)  # within the grace period: the conversation stays theirs

    again = AgentClient(desk.url, token)
    hello = await again.connect()
    await shopper.say("still there?")
    _, relayed = await again.expect("agent:shopper_message")

    assert [c["conversation_id"] for c in hello["conversations"]] == [shopper.session_id]
    assert relayed["message"]["text"] == "still there?"
    await closed(shopper, again)


async def test_an_agent_at_the_conversation_limit_cannot_claim_another(desk):
    agent, _ = await desk.agent("full")
    one = await queued_shopper(desk, agent)
    two = await queued_shopper(desk, agent)

    first = await agent.call("claim", {"conversation_id": one.session_id})
    second = await agent.call("claim", {"conversation_id": two.session_id})
    await agent.call("handback", {"conversation_id": one.session_id})
    after_handback = await agent.call("claim", {"conversation_id": two.session_id})

    assert first["ok"] and second["ok"] is False and second["error"] == "limit_reached"
    assert after_handback["ok"]  # room again once one is given back
    await closed(one, two, agent)


async def test_an_agents_presence_and_load_are_shown_to_the_other_agents(desk):
    # (Moved from tests/test_agent_desk.py, which used the shared Rasa server.)
    watcher, _ = await desk.agent("presence-watcher")
    busy, hello = await desk.agent("busy")
    shopper = await queued_shopper(desk, watcher)
    await busy.call("claim", {"conversation_id": shopper.session_id})

    away = await busy.call("presence", {"status": "away"})
    _, listed = await watcher.expect("agent:agents", where=lambda d: any(
        a["id"] == hello["agent"]["id"] and a["status"] == "away" for a in d["agents"]))

    assert away == {"ok": True, "status": "away"}
    entry = next(a for a in listed["agents"] if a["id"] == hello["agent"]["id"])
    assert entry["display_name"] == "Busy" and entry["load"] == 1 and listed["max_conversations"] == 1
    await closed(shopper, watcher, busy)


async def test_a_queued_shopper_is_told_no_one_is_available_when_every_agent_is_away(desk):
    agent, _ = await desk.agent("away")
    away = await agent.call("presence", {"status": "away"})
    shopper = await desk.shopper()

    await shopper.say("I want a human")
    _, notice = await shopper.expect("bot_uttered")

    assert away == {"ok": True, "status": "away"}
    assert notice["event"] == "utter_handoff_offline"
    await closed(shopper, agent)


@pytest.mark.parametrize("event, payload, code", [
    ("claim", {"conversation_id": "../x"}, "invalid_conversation_id"),
    ("claim", {"conversation_id": "0" * 32}, "not_found"),
    ("claim", "not an object", "invalid_payload"),
    ("send", {"conversation_id": "0" * 32, "text": "hi"}, "not_assigned"),
    ("send", {"conversation_id": "0" * 32, "text": ""}, "invalid_message"),
    ("send", {"conversation_id": "0" * 32, "text": "\ud83d"}, "invalid_message"),  # half an emoji
    ("send", {"conversation_id": "0" * 32, "text": "x" * 5000}, "message_too_long"),
    ("handback", {"conversation_id": "0" * 32}, "not_assigned"),
    ("resolve", {"conversation_id": "0" * 32}, "not_assigned"),
    ("transfer", {"conversation_id": "0" * 32, "agent_id": 999_999}, "agent_offline"),
    ("presence", {"status": "asleep"}, "invalid_status"),
    ("no_such_event", {}, "unknown_event"),
])
async def test_bad_agent_input_gets_an_error_event_and_a_failed_ack(desk, event, payload, code):
    agent, _ = await desk.agent("validator")

    ack = await agent.call(event, payload)
    _, error = await agent.expect("crossdesk:error")

    assert ack["ok"] is False and ack["error"] == code and ack["message"]
    assert error["code"] == code
    await closed(agent)

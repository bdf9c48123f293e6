"""Refused socket events over real sockets: a documented error every time, and no side effect."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from tests.support import AgentClient, Shopper, add_agent, login


@pytest.fixture(scope="module")
def token(server):
    add_agent(server.var_dir, "rita", "rita-password-1")
    add_agent(server.var_dir, "sven", "sven-password-1")
    return {name: login(server.url, name, f"{name}-password-1")[1]["token"] for name in ("rita", "sven")}


async def agent_socket(server, token: str) -> AgentClient:
    agent = AgentClient(server.url, token)
    agent.client.on("agent:agents", agent._recorder("agent:agents"), namespace="/agent")
    await agent.connect()
    return agent


async def test_an_agent_sending_a_disconnect_event_is_refused_and_stays_online(server, token):
    rita = await agent_socket(server, token["rita"])
    answer = await rita.call("disconnect", {})
    assert answer["ok"] is False and answer["error"] == "reserved_event"
    _, error = await rita.expect("crossdesk:error")
    assert error["code"] == "reserved_event" and error["event"] == "disconnect"
    sven = await agent_socket(server, token["sven"])  # what another agent sees: rita is still online
    _, listed = await sven.expect("agent:agents", where=lambda p: any(a["display_name"] == "Sven" for a in p["agents"]))
    assert "Rita" in [a["display_name"] for a in listed["agents"]]
    for client in (rita, sven):
        await client.close()


async def test_unknown_events_and_extra_arguments_get_an_error_instead_of_silence(server):
    shopper = Shopper(server.url)
    await shopper.connect()
    unknown = await shopper.client.call("claim", {"conversation_id": shopper.session_id}, timeout=10)
    assert unknown["error"] == "unknown_event"
    extra = await shopper.client.call("user_uttered", ({"message": "hi"}, {"message": "again"}), timeout=10)
    assert extra["error"] == "invalid_payload"
    codes = [(await shopper.expect("crossdesk:error"))[1]["code"] for _ in range(2)]
    assert codes == ["unknown_event", "invalid_payload"]
    await shopper.close()


async def test_a_shopper_sending_binary_metadata_is_refused_and_the_others_in_the_same_turn_are_stored(server):
    shoppers = [Shopper(server.url) for _ in range(4)]
    for shopper in shoppers:
        await shopper.connect()
    bad = shoppers[0].say("hello", metadata={"locale": "en", "blob": b"\x00\xff"})
    good = [shopper.say("thank you", message_id=f"turn-{i}") for i, shopper in enumerate(shoppers[1:])]
    refused, *acks = await asyncio.gather(bad, *good)
    assert refused["ok"] is False and refused["error"] == "invalid_metadata"
    assert all(ack["ok"] and not ack["duplicate"] for ack in acks)
    for shopper in shoppers:
        await shopper.close()


async def test_agent_events_with_out_of_range_or_mistyped_fields_are_refused(server, token):
    rita = await agent_socket(server, token["rita"])
    conversation = {"conversation_id": "f" * 32}
    for event, payload, code in [
        ("transfer", {**conversation, "agent_id": 2**63}, "invalid_agent_id"),  # was an OverflowError, no ack
        ("transfer", {**conversation, "agent_id": True}, "invalid_agent_id"),
        ("typing", {**conversation, "typing": "yes"}, "invalid_payload"),
        ("resolve", {**conversation, "outcome": "x" * 65}, "invalid_outcome"),  # was silently "resolved"
    ]:
        answer = await rita.call(event, payload)
        assert answer["ok"] is False and answer["error"] == code, (event, answer)
    await rita.close()


def test_a_long_polling_post_that_is_not_engine_io_is_a_400_not_a_logged_traceback(server):
    polling = server.url + "/socket.io/?EIO=4&transport=polling"
    with urllib.request.urlopen(polling, timeout=10) as response:
        sid = json.loads(response.read().decode()[1:])["sid"]
    for body in (b"\xff\xfe", b"9", b"4a\x1e\x1e4b"):
        request = urllib.request.Request(f"{polling}&sid={sid}", data=body, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400 and json.loads(refused.value.read())["error"] == "invalid_packet"
    request = urllib.request.Request(f"{polling}&sid={sid}", data=b'40', method="POST")  # a real one still works
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert "post request handler error" not in server.log()

"""Human handoff over real sockets: login, queue, claim races, relay, handback."""

import asyncio

import pytest
import socketio

from tests.support import AgentClient, Shopper, add_agent, login


@pytest.fixture(scope="module")
def agents(server):
    add_agent(server.var_dir, "yuki", "yuki-password-1")
    add_agent(server.var_dir, "ken", "ken-password-1")
    return {"yuki": login(server.url, "yuki", "yuki-password-1")[1]["token"],
            "ken": login(server.url, "ken", "ken-password-1")[1]["token"]}


def test_login_gives_a_token_and_refuses_bad_credentials(server, agents):
    status, body = login(server.url, "yuki", "yuki-password-1")
    assert status == 200 and len(body["token"]) >= 32 and body["agent"]["languages"] == ["en", "ja"]
    assert login(server.url, "yuki", "wrong")[0] == 401
    assert login(server.url, "nobody", "whatever1")[0] == 401
    assert login(server.url, "yuki\udc00", "whatever1")[0] == 400  # half a character: refused, not a crash


async def test_agent_namespace_refuses_sockets_without_a_valid_token(server, agents):
    for token in (None, "", "forged-token-forged-token-forged", {"not": "a string"}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=["/agent"], transports=["websocket"],
                                 auth={"token": token})
        await client.disconnect()


async def handed_off_shopper(server) -> Shopper:
    shopper = Shopper(server.url)
    await shopper.connect()
    system = await shopper.ask("I want to talk to a real person")
    assert system["sender"] == "system"  # the queue notice is the only answer
    return shopper


async def test_full_handoff_relay_and_handback(server, agents):
    agent = AgentClient(server.url, agents["yuki"])
    await agent.connect()
    shopper = await handed_off_shopper(server)
    _, queue = await agent.expect("agent:queue", where=lambda q: any(
        e["conversation_id"] == shopper.session_id for e in q["queue"]))
    entry = next(e for e in queue["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["reason"] == "request_human" and entry["language"] == "en"

    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    bundle = claimed["conversation"]
    assert claimed["ok"] and bundle["state"] == "with_agent" and bundle["reason"] == "request_human"
    assert bundle["transcript"][0]["text"] == "I want to talk to a real person"
    assert [t["to_state"] for t in bundle["transitions"]] == ["bot", "waiting", "with_agent"]
    assert bundle["recent_intents"][-1]["intent"] == "request_human"
    _, joined = await shopper.expect("bot_uttered")
    assert joined["sender"] == "system" and "Yuki" in joined["text"]

    assert (await shopper.client.call("crossdesk:typing", {"typing": True}))["ok"]
    _, typing = await agent.expect("agent:shopper_typing")
    assert typing == {"conversation_id": shopper.session_id, "typing": True}
    assert (await agent.call("typing", {"conversation_id": shopper.session_id, "typing": True}))["ok"]
    _, agent_typing = await shopper.expect("crossdesk:typing")
    assert agent_typing == {"sender": "agent", "name": "Yuki", "typing": True}
    await shopper.say("my parcel is late, order #A10234")
    _, relayed = await agent.expect("agent:shopper_message")
    assert relayed["message"]["text"] == "my parcel is late, order #A10234"
    sent = await agent.call("send", {"conversation_id": shopper.session_id, "text": "Let me check that for you."})
    _, reply = await shopper.expect("bot_uttered")
    assert sent["ok"] and reply["sender"] == "agent" and reply["name"] == "Yuki"
    assert reply["text"] == "Let me check that for you."  # the bot stayed silent in between

    assert (await agent.call("handback", {"conversation_id": shopper.session_id}))["ok"]
    _, left = await shopper.expect("bot_uttered")
    assert left["sender"] == "system"
    assert (await shopper.ask("thank you"))["sender"] == "bot"
    await shopper.close()
    await agent.close()


async def test_two_agents_racing_to_claim_exactly_one_wins(server, agents):
    first, second = AgentClient(server.url, agents["yuki"]), AgentClient(server.url, agents["ken"])
    await first.connect()
    await second.connect()
    shopper = await handed_off_shopper(server)
    results = await asyncio.gather(*(a.call("claim", {"conversation_id": shopper.session_id})
                                     for a in (first, second)))
    assert sorted(r["ok"] for r in results) == [False, True]
    loser = next(r for r in results if not r["ok"])
    assert loser["error"] == "already_claimed"
    winner, other = (first, second) if results[0]["ok"] else (second, first)
    refused = await other.call("send", {"conversation_id": shopper.session_id, "text": "hi"})
    assert refused == {"ok": False, "error": "not_assigned", "message": "this conversation is not yours"}
    for client in (first, second, shopper):
        await client.close()


async def test_shopper_socket_cannot_act_as_agent(server, agents):
    shopper = await handed_off_shopper(server)
    # The shopper namespace has no agent events; the agent namespace needs a token.
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, namespaces=["/agent"], transports=["websocket"])
    await shopper.client.emit("claim", {"conversation_id": shopper.session_id})
    await asyncio.sleep(0.3)
    agent = AgentClient(server.url, agents["ken"])
    await agent.connect()
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    await agent.close()
    await shopper.close()


async def test_delivery_problem_is_handed_off_at_once(server, agents):
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask("my parcel never arrived")
    _, system = await shopper.expect("bot_uttered")
    await shopper.close()
    assert system["sender"] == "system"

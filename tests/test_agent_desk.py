"""Agent desk over real sockets: transfer between agents, presence, the per-agent conversation limit."""

import pytest

from tests.support import AgentClient, Shopper, add_agent, login


@pytest.fixture(scope="module")
def tokens(server):
    add_agent(server.var_dir, "lena", "lena-password-1", languages="de,en")
    add_agent(server.var_dir, "omar", "omar-password-1", languages="en")
    return {name: login(server.url, name, f"{name}-password-1")[1]["token"] for name in ("lena", "omar")}


async def connected(server, token: str) -> AgentClient:
    agent = AgentClient(server.url, token)
    agent.client.on("agent:agents", agent._recorder("agent:agents"), namespace="/agent")
    agent.client.on("agent:assigned", agent._recorder("agent:assigned"), namespace="/agent")
    await agent.connect()
    return agent


async def waiting_shopper(server, text: str = "I want to talk to a human please") -> Shopper:
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask(text)
    return shopper


async def test_transfer_moves_the_conversation_and_tells_the_shopper(server, tokens):
    lena, omar = await connected(server, tokens["lena"]), await connected(server, tokens["omar"])
    shopper = await waiting_shopper(server)
    assert (await lena.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    omar_id = login(server.url, "omar", "omar-password-1")[1]["agent"]["id"]

    moved = await lena.call("transfer", {"conversation_id": shopper.session_id, "agent_id": omar_id})
    assert moved == {"ok": True}
    _, assigned = await omar.expect("agent:assigned")
    assert assigned["conversation"]["conversation_id"] == shopper.session_id and assigned["from"] == "Lena"
    assert assigned["conversation"]["transitions"][-1]["reason"] == f"transfer:{omar_id}"
    _, notice = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_joined"
                                     and "Lena" not in m["text"])
    assert "Omar" in notice["text"]

    refused = await lena.call("send", {"conversation_id": shopper.session_id, "text": "still mine?"})
    assert refused["error"] == "not_assigned"
    assert (await omar.call("send", {"conversation_id": shopper.session_id, "text": "Omar here"}))["ok"]
    await shopper.say("thanks Omar")
    _, relayed = await omar.expect("agent:shopper_message")
    assert relayed["message"]["text"] == "thanks Omar"
    bad = await omar.call("transfer", {"conversation_id": shopper.session_id, "agent_id": 999999})
    assert bad["error"] == "agent_offline"
    await omar.call("resolve", {"conversation_id": shopper.session_id, "outcome": "answered"})
    for client in (shopper, lena, omar):
        await client.close()


async def test_presence_is_shared_with_other_agents_and_validated(server, tokens):
    lena, omar = await connected(server, tokens["lena"]), await connected(server, tokens["omar"])
    assert (await lena.call("presence", {"status": "away"})) == {"ok": True, "status": "away"}
    _, listed = await omar.expect("agent:agents", where=lambda d: any(
        a["display_name"] == "Lena" and a["status"] == "away" for a in d["agents"]))
    assert {a["display_name"] for a in listed["agents"]} >= {"Lena", "Omar"}
    assert (await lena.call("presence", {"status": "asleep"}))["error"] == "invalid_status"
    await lena.close()
    await omar.close()


async def test_an_agent_cannot_hold_more_than_the_limit(server, tokens):
    omar = await connected(server, tokens["omar"])
    shoppers = [await waiting_shopper(server, "can I speak to a person?") for _ in range(6)]
    results = [await omar.call("claim", {"conversation_id": s.session_id}) for s in shoppers]
    assert [r["ok"] for r in results] == [True] * 5 + [False]
    assert results[-1]["error"] == "limit_reached"
    for shopper in shoppers[:5]:
        await omar.call("handback", {"conversation_id": shopper.session_id})
    assert (await omar.call("claim", {"conversation_id": shoppers[5].session_id}))["ok"]
    await omar.call("resolve", {"conversation_id": shoppers[5].session_id})
    for client in (*shoppers, omar):
        await client.close()

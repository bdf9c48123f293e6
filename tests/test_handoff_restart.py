"""Handoff state survives SIGKILL; a disconnected agent gets its conversation back, then loses it."""

import asyncio

from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login


async def hand_off(shopper: Shopper) -> None:
    assert (await shopper.ask("I want to talk to a real person"))["sender"] == "system"  # the queue notice alone


async def test_sigkill_keeps_waiting_and_claimed_conversations(model_path, tmp_path):
    var = tmp_path / "var"
    first = ServerProcess(var, model_path).start()
    try:
        add_agent(var, "yuki", "yuki-password-1")
        token = login(first.url, "yuki", "yuki-password-1")[1]["token"]
        agent = AgentClient(first.url, token)
        await agent.connect()
        waiting, claimed = Shopper(first.url), Shopper(first.url)
        await waiting.connect()
        await claimed.connect()
        await hand_off(waiting)
        await hand_off(claimed)
        assert (await agent.call("claim", {"conversation_id": claimed.session_id}))["ok"]
        ack = await claimed.say("are you there?", message_id="before-crash")
        assert ack["ok"]
        await agent.expect("agent:shopper_message")
        sent = await agent.call("send", {"conversation_id": claimed.session_id, "text": "Yes, checking.",
                                         "message_id": "agent-1"})
        assert sent["ok"]
    finally:
        first.kill()

    second = ServerProcess(var, model_path).start()
    try:
        agent = AgentClient(second.url, token)  # the token survived too
        hello = await agent.connect()
        assert [e["conversation_id"] for e in hello["queue"]] == [waiting.session_id]
        [mine] = hello["conversations"]
        assert mine["conversation_id"] == claimed.session_id and mine["state"] == "with_agent"
        texts = [m["text"] for m in mine["transcript"]]
        assert "are you there?" in texts and "Yes, checking." in texts
        # Resending acknowledged messages after the restart creates no duplicates.
        shopper = Shopper(second.url)
        await shopper.connect(session_id=claimed.session_id)
        again = await shopper.say("are you there?", message_id="before-crash")
        assert again["duplicate"] is True
        again = await agent.call("send", {"conversation_id": claimed.session_id, "text": "Yes, checking.",
                                          "message_id": "agent-1"})
        assert again["duplicate"] is True
        # Both sides resume: the bot stays silent, messages flow.
        await shopper.say("still waiting")
        _, relayed = await agent.expect("agent:shopper_message")
        assert relayed["message"]["text"] == "still waiting"
        await agent.call("send", {"conversation_id": claimed.session_id, "text": "Found it!"})
        _, reply = await shopper.expect("bot_uttered")
        assert reply["text"] == "Found it!" and reply["sender"] == "agent"
        await shopper.close()
        await agent.close()
    finally:
        second.stop()


async def test_agent_reconnect_keeps_conversation_and_grace_period_requeues(model_path, tmp_path):
    var = tmp_path / "var"
    server = ServerProcess(var, model_path, env={"CROSSDESK_AGENT_GRACE_SECONDS": "2"}).start()
    try:
        add_agent(var, "yuki", "yuki-password-1")
        token = login(server.url, "yuki", "yuki-password-1")[1]["token"]
        shopper = Shopper(server.url)
        await shopper.connect()
        await hand_off(shopper)
        agent = AgentClient(server.url, token)
        await agent.connect()
        assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
        await agent.close()
        agent = AgentClient(server.url, token)  # back within the grace period
        hello = await agent.connect()
        assert [c["conversation_id"] for c in hello["conversations"]] == [shopper.session_id]
        await agent.close()
        await asyncio.sleep(3.5)  # gone for longer than the grace period
        watcher = AgentClient(server.url, token)
        hello = await watcher.connect()
        assert hello["conversations"] == []
        assert [e["conversation_id"] for e in hello["queue"]] == [shopper.session_id]
        await watcher.close()
        await shopper.close()
    finally:
        server.stop()

"""Sockets that did not opt in to Crossdesk's extensions get Rasa's protocol, with Rasa's exact shapes."""

from tests.support import AgentClient, Shopper, add_agent, login

RASA_SHAPES = ({"text"}, {"text", "quick_replies"}, {"attachment"}, {"custom"})


async def test_a_rasa_client_gets_rasas_exact_keys_and_no_extension_events(server):
    plain = Shopper(server.url)
    extension_events = []
    plain.client.on("crossdesk:history", lambda data=None: extension_events.append("crossdesk:history"))
    await plain.client.connect(server.url, transports=["websocket"])
    ack = await plain.client.call("session_request", {"session_id": None}, timeout=15)  # what rasa-webchat sends
    assert ack["ok"] and ack["extensions"] == 0
    plain.session_id = ack["session_id"]
    answer = await plain.ask("how long does shipping to Germany take?")
    assert set(answer) == {"text"} and "Germany" in answer["text"]
    greeting = await plain.ask("hello")
    assert set(greeting) == {"text", "quick_replies"}
    assert [reply["title"] for reply in greeting["quick_replies"]][:1] == ["Shipping time"]
    await plain.close()
    assert extension_events == []


async def test_user_uttered_before_any_session_request_gets_rasas_shape(server):
    plain = Shopper(server.url)
    await plain.client.connect(server.url, transports=["websocket"])
    await plain.client.emit("user_uttered", {"message": "how long does shipping to Japan take?"})
    _, reply = await plain.expect("bot_uttered")
    await plain.close()
    assert set(reply) == {"text"}


async def test_tabs_of_one_session_each_get_the_shape_they_asked_for_from_bot_agent_and_system(server):
    add_agent(server.var_dir, "pia", "pia-password-1", languages="en")
    agent = AgentClient(server.url, login(server.url, "pia", "pia-password-1")[1]["token"])
    await agent.connect()
    ours = Shopper(server.url)
    session_id = await ours.connect()  # the Crossdesk widget opts in
    plain = Shopper(server.url)
    await plain.connect(session_id, extensions=None)  # rasa-webchat in another tab of the same session
    try:
        await plain.say("how long does shipping to Germany take?")
        _, extended = await ours.expect("bot_uttered")
        _, rasa = await plain.expect("bot_uttered")
        assert extended["sender"] == "bot" and {"id", "language", "ts"} <= set(extended)
        assert rasa == {"text": extended["text"]}

        assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]  # an agent takes over
        _, joined = await ours.expect("bot_uttered")
        _, joined_plain = await plain.expect("bot_uttered")
        assert joined["sender"] == "system" and joined["event"] == "utter_agent_joined"
        assert joined_plain == {"text": joined["text"]} and "Pia" in joined_plain["text"]

        await agent.call("send", {"conversation_id": session_id, "text": "Pia here, how can I help?"})
        _, said = await ours.expect("bot_uttered")
        _, said_plain = await plain.expect("bot_uttered")
        assert said["sender"] == "agent" and said["name"] == "Pia"
        assert said_plain == {"text": "Pia here, how can I help?"}
        await agent.call("handback", {"conversation_id": session_id})
    finally:
        for client in (ours, plain, agent):
            await client.close()


async def test_a_socket_opts_in_or_out_again_with_a_new_session_request(server):
    shopper = Shopper(server.url)
    session_id = await shopper.connect(extensions=None)
    assert set(await shopper.ask("hello")) in RASA_SHAPES
    again = await shopper.client.call("session_request", {"session_id": session_id, "extensions": 1}, timeout=15)
    assert again["extensions"] == 1
    assert (await shopper.ask("how long does shipping to Germany take?"))["sender"] == "bot"
    bad = await shopper.client.call("session_request", {"session_id": session_id, "extensions": "please"},
                                    timeout=15)
    await shopper.close()
    assert bad["ok"] is False and bad["error"] == "invalid_extensions"

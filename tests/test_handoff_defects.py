"""Handoff defects from issue #13, over real sockets against a real server of this module's own.

Resolved conversations reopen with the bot, asking for a person gets one message that says what
really happens (Away agents are not available), a shopper whose agent stays away is told, and
canned answers know the conversation's destination.
"""

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bot.nlg import load_responses
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

RESPONSES = load_responses()
ASK_FOR_A_PERSON = {  # (what a shopper types, browser locale) per authored language
    "en": ("I want to talk to a person", "en-US"), "ja": ("人と話したい", "ja-JP"),
    "zh-CN": ("我要人工", "zh-CN"), "zh-TW": ("我要找真人", "zh-TW"), "ko": ("상담원 연결해주세요", "ko-KR"),
    "fr": ("je veux parler à un humain", "fr-FR"), "de": ("Ich möchte mit einem Mitarbeiter sprechen.", "de-DE"),
    "es": ("quiero hablar con una persona", "es-ES"),
}


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory):
    """A server of its own (no agents from other tests online) with a 2 s grace period and two agents."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path,
                           env={"CROSSDESK_AGENT_GRACE_SECONDS": "2"}).start()
    add_agent(server.var_dir, "rina", "rina-password-1", languages="en,ja")
    add_agent(server.var_dir, "paul", "paul-password-1", languages="en")
    server.tokens = {name: login(server.url, name, f"{name}-password-1")[1]["token"] for name in ("rina", "paul")}
    yield server
    server.stop()


async def agent_of(server, name: str) -> AgentClient:
    agent = AgentClient(server.url, server.tokens[name])
    await agent.connect()
    return agent


async def nothing_more(client, event: str = "bot_uttered", seconds: float = 1.5) -> list:
    """Events called ``event`` that arrive within ``seconds`` (there should be none)."""
    extra = []
    try:
        while True:
            extra.append(await client.expect(event, timeout=seconds))
    except (TimeoutError, asyncio.TimeoutError):
        return extra


def http_json(server, path: str, token: str):
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_after_resolve_the_bot_answers_again_and_a_second_handoff_works(desk):
    agent = await agent_of(desk, "rina")
    shopper = Shopper(desk.url)
    session_id = await shopper.connect()
    await shopper.ask("I want to talk to a person")
    assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]
    assert (await agent.call("resolve", {"conversation_id": session_id, "outcome": "answered"}))["ok"]
    _, left = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_left")

    reply = await shopper.ask("how long does shipping to Germany take?")
    assert reply["sender"] == "bot" and "Germany" in reply["text"]
    await shopper.close()
    shopper = Shopper(desk.url)  # a reload: same session, history kept, still answered
    await shopper.connect(session_id=session_id)
    _, history = await shopper.expect("crossdesk:history")
    texts = [m["text"] for m in history["messages"]]
    assert texts[0] == "I want to talk to a person" and left["text"] in texts and "Germany" in texts[-1]
    assert (await shopper.ask("which payment methods do you accept?"))["sender"] == "bot"

    await shopper.say("I want to talk to a person")  # and a person can be asked for again
    _, notice = await shopper.expect("bot_uttered")
    assert notice["sender"] == "system" and notice["event"] == "utter_handoff_waiting"
    _, queue = await agent.expect("agent:queue", where=lambda q: any(
        e["conversation_id"] == session_id for e in q["queue"]))
    claimed = await agent.call("claim", {"conversation_id": session_id})
    steps = [(t["from_state"], t["to_state"], t["reason"]) for t in claimed["conversation"]["transitions"]]
    assert steps == [(None, "bot", "session_start"), ("bot", "waiting", "request_human"),
                     ("waiting", "with_agent", "claim"), ("with_agent", "resolved", "answered"),
                     ("resolved", "bot", "reopened"), ("bot", "waiting", "request_human"),
                     ("waiting", "with_agent", "claim")]
    await agent.call("resolve", {"conversation_id": session_id})
    await shopper.close()
    await agent.close()


async def test_asking_for_a_person_gets_one_message_saying_what_happens_in_every_language(desk):
    agent = await agent_of(desk, "paul")
    for language, (text, locale) in ASK_FOR_A_PERSON.items():
        for status, notice in (("away", "utter_handoff_offline"), ("online", "utter_handoff_waiting")):
            assert (await agent.call("presence", {"status": status}))["ok"]
            shopper = Shopper(desk.url)
            await shopper.connect(locale=locale)
            assert (await shopper.say(text))["ok"]
            _, said = await shopper.expect("bot_uttered")
            assert (said["sender"], said["event"], said["language"]) == ("system", notice, language), (text, said)
            assert said["text"] == RESPONSES[language][notice][0]["text"]
            assert await nothing_more(shopper) == [], (language, status)  # no "I'll connect you" before it
            await shopper.close()
    await agent.close()


async def test_a_shopper_whose_agent_stays_away_is_told_they_are_back_in_the_queue(desk):
    agent = await agent_of(desk, "rina")
    shopper = Shopper(desk.url)
    session_id = await shopper.connect(locale="ja-JP")
    await shopper.ask("人と話したい")
    assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]
    await agent.close()  # gone for longer than the 2 s grace period
    _, notice = await shopper.expect("bot_uttered", timeout=10,
                                     where=lambda m: m.get("event") == "utter_agent_requeued")
    assert notice["sender"] == "system" and notice["language"] == "ja"
    assert notice["text"] == RESPONSES["ja"]["utter_agent_requeued"][0]["text"].format(agent="Rina")
    again = Shopper(desk.url)
    await again.connect(session_id=session_id)
    _, history = await again.expect("crossdesk:history")
    assert history["messages"][-1]["text"] == notice["text"]  # stored in the transcript
    assert history["state"] == "waiting"
    watcher = await agent_of(desk, "paul")
    bundle = (await watcher.call("claim", {"conversation_id": session_id}))["conversation"]
    assert bundle["transcript"][-2]["event"] == "utter_agent_requeued"
    await watcher.call("resolve", {"conversation_id": session_id})
    for client in (shopper, again, watcher):
        await client.close()


async def test_canned_answers_are_filled_for_the_conversations_destination(desk):
    token = desk.tokens["paul"]
    shopper = Shopper(desk.url)
    session_id = await shopper.connect()
    assert "France" in (await shopper.ask("how long does shipping to France take?"))["text"]
    status, body = http_json(desk, f"/api/canned?language=en&conversation_id={session_id}", token)
    assert (status, body["error"]) == (403, "forbidden")  # not paul's: its destination is not his to read
    paul = await agent_of(desk, "paul")
    assert (await paul.call("claim", {"conversation_id": session_id}))["ok"]  # as in the console: his now

    status, body = http_json(desk, f"/api/canned?language=en&conversation_id={session_id}", token)
    assert status == 200
    answers = {a["key"]: a["text"] for a in body["answers"]}
    assert "France" in answers["utter_shipping_time"] and "4–7" in answers["utter_shipping_time"]
    assert "France" in answers["utter_shipping_cost"] and "¥2,200" in answers["utter_shipping_cost"]
    assert "20% VAT" in answers["utter_customs_duties_ddp"] and "utter_customs_duties_ddu" not in answers
    assert not [key for key in answers if key.endswith("_generic")]  # no "tell me your country"
    status, body = http_json(desk, "/api/canned?language=fr&country=DE", token)
    french = {a["key"]: a["text"] for a in body["answers"]}
    assert status == 200 and "Allemagne" in french["utter_shipping_time"]
    status, body = http_json(desk, "/api/canned?language=en", token)  # no destination: the shop's defaults
    assert "utter_shipping_time_generic" in {a["key"] for a in body["answers"]}

    for path, code in ((f"/api/canned?conversation_id={'f' * 32}", 404), ("/api/canned?conversation_id=../x", 400),
                       ("/api/canned?country=Narnia", 400)):
        status, body = http_json(desk, path, token)
        assert (status, body["error"]) == (code, "not_found" if code == 404 else body["error"]), path
        assert body["message"]
    await paul.call("resolve", {"conversation_id": session_id})
    await paul.close()
    await shopper.close()


async def test_a_topical_query_ranks_the_topical_answer_first(desk):
    token = desk.tokens["paul"]
    for language, query in (("en", "return"), ("ja", "返品"), ("fr", "retour"), ("de", "Rücksend")):
        status, body = http_json(desk, f"/api/canned?language={language}&q={urllib.parse.quote(query)}", token)
        assert status == 200 and body["answers"], (language, body)
        assert body["answers"][0]["key"] == "utter_return_policy", (language, [a["key"] for a in body["answers"]])


async def test_a_reopened_conversation_starts_counting_misses_afresh(desk):
    agent = await agent_of(desk, "paul")
    shopper = Shopper(desk.url)
    session_id = await shopper.connect()
    await shopper.ask("I forgot my password")
    await shopper.ask("my login doesn't work either")  # out of scope twice: queued
    _, queued = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "system")
    assert queued["event"] == "utter_handoff_waiting"
    assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]
    await agent.call("resolve", {"conversation_id": session_id})
    await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_left")
    assert (await shopper.ask("I forgot my password"))["sender"] == "bot"  # once after reopening: no handoff
    assert await nothing_more(shopper) == []
    await shopper.close()
    await agent.close()

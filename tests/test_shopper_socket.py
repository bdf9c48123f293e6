"""The shopper namespace over real Socket.IO against the real server and bot."""

import asyncio
import re
import urllib.request

import yaml

from tests.support import ROOT, Shopper

KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def destination(code: str) -> dict:
    with open(ROOT / "data" / "store" / "destinations.yml", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {**data["default"], **data["destinations"][code]}


async def test_session_confirm_gives_an_unguessable_session_and_empty_history(server):
    shopper = Shopper(server.url)
    session_id = await shopper.connect()
    _, history = await shopper.expect("crossdesk:history")
    await shopper.close()
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)
    assert history == {"session_id": session_id, "state": "bot", "messages": []}


async def test_english_greeting_gets_english_answer_with_quick_replies(shopper):
    reply = await shopper.ask("hello there")
    assert reply["language"] == "en"
    assert reply["text"] and not KANA_OR_KANJI.search(reply["text"])
    assert [q["payload"] for q in reply["quick_replies"]] == ["/shipping_time", "/customs_duties", "/payment_methods"]


async def test_japanese_greeting_gets_japanese_answer(shopper):
    reply = await shopper.ask("こんにちは")
    assert reply["language"] == "ja"
    assert KANA_OR_KANJI.search(reply["text"])


async def test_shipping_time_to_germany_uses_germanys_figures(shopper):
    facts = destination("DE")
    reply = await shopper.ask("How long does shipping to Germany take?")
    assert "Germany" in reply["text"]
    assert str(facts["days_min"]) in reply["text"] and str(facts["days_max"]) in reply["text"]


async def test_shipping_time_in_japanese_names_the_country_in_japanese(shopper):
    facts = destination("DE")
    reply = await shopper.ask("ドイツまで配送は何日かかりますか？")
    assert reply["language"] == "ja"
    assert "ドイツ" in reply["text"]
    assert str(facts["days_min"]) in reply["text"] and str(facts["days_max"]) in reply["text"]


async def test_quick_reply_payload_answers_in_the_conversation_language(shopper):
    await shopper.ask("こんにちは")
    reply = await shopper.ask("/shipping_time")
    assert reply["language"] == "ja" and KANA_OR_KANJI.search(reply["text"])


async def test_acknowledgement_only_after_storage_and_duplicates_are_not_reprocessed(shopper):
    first = await shopper.say("thank you", message_id="client-1")
    assert first["ok"] and not first["duplicate"] and isinstance(first["id"], int)
    await shopper.expect("bot_uttered")
    again = await shopper.say("thank you", message_id="client-1")
    assert again == {**first, "duplicate": True}
    try:
        await shopper.expect("bot_uttered", timeout=1.5)
        raise AssertionError("a resent message was answered twice")
    except (TimeoutError, asyncio.TimeoutError):
        pass


async def test_a_burst_of_messages_is_all_acknowledged_stored_once_and_in_order(server, shopper):
    # Sent without waiting: they reach the server together and are committed as a group.
    texts = [f"order 1000{i} and my question {i}" for i in range(8)]
    acks = await asyncio.gather(*(shopper.say(text, message_id=f"burst-{i}") for i, text in enumerate(texts)),
                                shopper.say(texts[0], message_id="burst-0"))
    assert all(ack["ok"] for ack in acks)
    assert [ack["duplicate"] for ack in acks].count(True) == 1
    assert acks[-1]["id"] == acks[0]["id"]  # the resent message is the original, stored once
    again = Shopper(server.url)
    await again.connect(session_id=shopper.session_id)
    _, history = await again.expect("crossdesk:history")
    await again.close()
    stored = [m["text"] for m in history["messages"] if m["sender"] == "shopper"]
    assert stored == texts


async def test_transcript_is_stored_and_replayed_on_resume(server, shopper):
    await shopper.ask("hello")
    await shopper.ask("ドイツまで何日？")
    again = Shopper(server.url)
    await again.connect(session_id=shopper.session_id)
    _, history = await again.expect("crossdesk:history")
    await again.close()
    senders = [(m["sender"], m["language"]) for m in history["messages"]]
    assert senders[0] == ("shopper", "en") and senders[1] == ("bot", "en")
    assert ("shopper", "ja") in senders and senders[-1] == ("bot", "ja")
    assert [m["text"] for m in history["messages"]][0] == "hello"
    times = [m["ts"] for m in history["messages"]]
    assert times == sorted(times)


async def test_two_tabs_of_one_session_both_get_replies(server, shopper):
    tab = Shopper(server.url)
    await tab.connect(session_id=shopper.session_id)
    await shopper.say("hello")
    _, in_first = await shopper.expect("bot_uttered")
    _, in_second = await tab.expect("bot_uttered")
    await tab.close()
    assert in_first == in_second


async def test_plain_rasa_client_without_extensions_works(server):
    # What an unmodified Rasa widget sends: no message ids, no metadata, no acks.
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.client.emit("user_uttered", {"message": "hi", "session_id": shopper.session_id})
    _, reply = await shopper.expect("bot_uttered")
    await shopper.close()
    assert reply["text"]


async def test_user_uttered_before_session_request_is_still_answered(server):
    shopper = Shopper(server.url)
    await shopper.client.connect(server.url, transports=["websocket"])
    await shopper.client.emit("user_uttered", {"message": "hello"})
    _, session_id = await shopper.expect("session_confirm")
    _, reply = await shopper.expect("bot_uttered")
    await shopper.close()
    assert re.fullmatch(r"[0-9a-f]{32}", session_id) and reply["text"]


async def test_malformed_events_get_errors_and_others_are_still_served(server, shopper):
    bystander = Shopper(server.url)
    await bystander.connect()
    bad_payloads = [
        (None, "invalid_payload"),
        ({"session_id": shopper.session_id}, "invalid_message"),
        ({"message": ["not", "text"]}, "invalid_message"),
        ({"message": "x" * 5000}, "message_too_long"),
        ({"message": "hi", "metadata": "oops"}, "invalid_metadata"),
        ({"message": "hi", "session_id": "another-session-id-1234"}, "session_mismatch"),
        ({"message": "half an emoji \ud83d"}, "invalid_message"),  # a lone surrogate: not storable text
        ({"message": "hi", "metadata": {"page": "/\udca9"}}, "invalid_metadata"),
    ]
    for payload, code in bad_payloads:
        ack = await shopper.client.call("user_uttered", payload, timeout=10)
        _, error = await shopper.expect("crossdesk:error")
        assert ack["ok"] is False and ack["error"] == code and error["code"] == code
    bad_session = await shopper.client.call("session_request", {"session_id": "short"}, timeout=10)
    assert bad_session["error"] == "invalid_session_id"
    assert (await bystander.ask("hello"))["text"]
    assert (await shopper.ask("hello"))["text"]  # the offender's own session still works
    await bystander.close()


async def test_oversize_socket_payload_does_not_take_the_server_down(server):
    shopper = Shopper(server.url)
    await shopper.connect()
    try:
        await shopper.client.emit("user_uttered", {"message": "x" * 200_000})
        await asyncio.sleep(0.5)
    finally:
        await shopper.client.disconnect()
    survivor = Shopper(server.url)
    await survivor.connect()
    assert (await survivor.ask("hello"))["text"]
    await survivor.close()


def test_demo_storefront_health_and_widget_are_served(server):
    with urllib.request.urlopen(server.url + "/") as page:
        assert b"/widget/crossdesk.js" in page.read()
    with urllib.request.urlopen(server.url + "/health") as health:
        assert b'"status":"ok"' in health.read()
    with urllib.request.urlopen(server.url + "/widget/crossdesk.js") as widget:
        assert b"textContent" in widget.read()
    with urllib.request.urlopen(server.url + "/widget/vendor/socket.io.min.js") as client:
        assert b"Socket.IO v4" in client.read()

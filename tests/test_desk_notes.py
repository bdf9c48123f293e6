"""Desk notes over a real server (issue #19): private notes and tags, macros, verified customer identity.

One server for the module, with an identity secret; real Socket.IO shoppers and agents, the
console's HTTP API. Pure logic (tags, variables, HMAC) is checked in-process first.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import urllib.error
import urllib.request

import pytest

from crossdesk.store_facts import StoreFacts
from handoff.desk_notes import DeskError, fill, is_verified, macro_values, normalise_tag
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

SECRET = "shop-identity-secret-for-tests"
HANDOFF_JA = "担当者と話したいです"


def sign(customer_id: str, secret: str = SECRET) -> str:
    """What the shop's server computes (the README's one-liner)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


# -- in-process: the rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, tag", [("VIP", "vip"), ("  Refund Asked ", "refund-asked"), ("late_parcel", "late-parcel"),
                                      ("x" * 32, "x" * 32)])
def test_tags_are_normalised(raw, tag):
    assert normalise_tag(raw) == tag


@pytest.mark.parametrize("raw", ["", "   ", "x" * 33, "<b>", "é", 7, None, "a/b"])
def test_bad_tags_are_refused(raw):
    with pytest.raises(DeskError):
        normalise_tag(raw)


def test_a_japanese_conversation_to_germany_gets_the_german_facts_in_japanese():
    facts = StoreFacts.from_dir()
    bundle = {"language": "ja", "slots": {"country": "DE"}, "context": {"user": {"name": "佐藤"}}}
    text, missing = fill("{shopper_name}様、{destination}へは{days_min}〜{days_max}営業日、送料{fee}、注文{order_id}",
                         macro_values(bundle, facts, "ja"))
    assert text == "佐藤様、ドイツへは4〜7営業日、送料¥2,200、注文{order_id}"
    assert missing == ["order_id"]


def test_without_a_destination_the_default_destinations_facts_are_not_used():
    text, missing = fill("{days_min}-{days_max} days, {fee}", macro_values({"slots": {}}, StoreFacts.from_dir(), "en"))
    assert missing == ["days_min", "days_max", "fee"] and text == "{days_min}-{days_max} days, {fee}"


def test_identity_is_verified_only_with_the_secret():
    assert is_verified(SECRET, "cust-1", sign("cust-1"))
    assert is_verified(SECRET, "cust-1", sign("cust-1").upper())
    assert not is_verified(SECRET, "cust-2", sign("cust-1"))
    assert not is_verified(SECRET, "cust-1", sign("cust-1", "another-secret"))
    assert not is_verified("", "cust-1", sign("cust-1", ""))  # no secret configured: nothing is verified


# -- a real server ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("desk-notes"), model_path,
                            env={"CROSSDESK_IDENTITY_SECRET": SECRET,
                                 "CROSSDESK_AGENT_MAX_CONVERSATIONS": "50"}).start()
    add_agent(process.var_dir, "aiko", "aiko-password-1", languages="ja,en")
    add_agent(process.var_dir, "boss", "boss-password-1", languages="en,de", role="admin")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tokens(desk):
    return {name: login(desk.url, name, f"{name}-password-1")[1]["token"] for name in ("aiko", "boss")}


def api(desk, token, method: str, path: str, body=None) -> tuple[int, object]:
    """One console API call: (status, JSON or text)."""
    request = urllib.request.Request(desk.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if "json" in response.headers["content-type"] else text
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class EveryEventShopper(Shopper):
    """A shopper that records every event its socket receives (its own handlers and a catch-all)."""

    def __init__(self, url: str):
        self.everything: list = []
        super().__init__(url)
        self.client.on("*", self._any)

    def _recorder(self, name: str):
        async def record(data=None) -> None:
            self.everything.append((name, data))
            await self.events.put((name, data))
        return record

    async def _any(self, event, data=None) -> None:
        self.everything.append((event, data))
        await self.events.put((event, data))


async def claimed(desk, token: str, first: str, *, shopper=None, **say) -> tuple[Shopper, AgentClient]:
    """A shopper who said ``first`` then asked for a person, claimed by the agent with ``token``."""
    shopper = shopper or Shopper(desk.url)
    await shopper.connect()
    await shopper.ask(first, **say)
    await shopper.ask(HANDOFF_JA if any(ord(c) > 0x3000 for c in first) else "I want to talk to a real person", **say)
    agent = AgentClient(desk.url, token)
    await agent.connect()
    ack = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert ack["ok"], ack
    return shopper, agent


async def test_a_note_never_reaches_the_shopper_socket_nor_the_shopper_transcript(desk, tokens):
    shopper, agent = await claimed(desk, tokens["aiko"], "hello", shopper=EveryEventShopper(desk.url))
    cid = shopper.session_id
    secret_note = "Private: shopper sounded angry, offered 10% voucher"
    status, body = api(desk, tokens["aiko"], "POST", f"/api/conversations/{cid}/notes", {"text": secret_note})
    assert status == 201 and body["note"]["author"] and body["note"]["text"] == secret_note
    assert api(desk, tokens["aiko"], "POST", f"/api/conversations/{cid}/tags", {"tag": "Angry Customer"})[0] == 201
    assert (await agent.call("send", {"conversation_id": cid, "text": "Sorry for the trouble!"}))["ok"]
    await shopper.expect("bot_uttered", where=lambda m: m.get("text") == "Sorry for the trouble!")
    await asyncio.sleep(0.5)  # anything else the server would push has arrived
    everything = json.dumps(shopper.everything, ensure_ascii=False)
    assert "Sorry for the trouble!" in everything  # (the recorder does see the agent's messages)
    assert "voucher" not in everything and "angry" not in everything.lower()

    again = EveryEventShopper(desk.url)
    await again.connect(session_id=cid)
    _, history = await again.expect("crossdesk:history")
    assert "voucher" not in json.dumps(history) and "angry" not in json.dumps(history).lower()

    status, panel = api(desk, tokens["aiko"], "GET", f"/api/conversations/{cid}/desk")
    assert status == 200 and [n["text"] for n in panel["notes"]] == [secret_note]
    assert panel["tags"] == ["angry-customer"]
    # The admin's export of this shopper's data has the note (personal data: docs/privacy.md).
    status, exported = api(desk, tokens["boss"], "GET", f"/api/admin/shoppers/export?session={cid}")
    assert status == 200 and exported["conversations"][0]["conversation_notes"][0]["text"] == secret_note
    for client in (shopper, again, agent):
        await client.close()


async def test_bad_notes_and_tags_get_clear_errors(desk, tokens):
    shopper, agent = await claimed(desk, tokens["aiko"], "hello")
    cid = shopper.session_id
    for body, code in (({"text": "  "}, "invalid_note"), ({"text": "x" * 4001}, "note_too_long"), ({"text": 7}, "invalid_note")):
        status, error = api(desk, tokens["aiko"], "POST", f"/api/conversations/{cid}/notes", body)
        assert (status, error["error"]) == (400, code), error
    status, error = api(desk, tokens["aiko"], "POST", f"/api/conversations/{cid}/tags", {"tag": "<script>"})
    assert (status, error["error"]) == (400, "invalid_tag")
    assert api(desk, tokens["aiko"], "POST", "/api/conversations/" + "f" * 32 + "/notes", {"text": "x"})[0] == 404
    assert api(desk, tokens["aiko"], "DELETE", f"/api/conversations/{cid}/tags/nothere")[0] == 404
    for client in (shopper, agent):
        await client.close()


async def test_tags_filter_the_history_and_are_a_column_of_its_csv(desk, tokens):
    tagged, agent = await claimed(desk, tokens["aiko"], "hello")
    other, agent2 = await claimed(desk, tokens["aiko"], "hi there")
    api(desk, tokens["aiko"], "POST", f"/api/conversations/{tagged.session_id}/tags", {"tag": "refund"})
    api(desk, tokens["aiko"], "POST", f"/api/conversations/{tagged.session_id}/tags", {"tag": "vip"})
    api(desk, tokens["aiko"], "POST", f"/api/conversations/{tagged.session_id}/notes", {"text": "zebra-crossing parcel"})
    status, found = api(desk, tokens["aiko"], "GET", "/api/conversations?tag=refund")
    assert status == 200 and [c["conversation_id"] for c in found["conversations"]] == [tagged.session_id]
    assert found["conversations"][0]["tags"] == ["refund", "vip"]
    # A note's words find its conversation in the history search.
    status, found = api(desk, tokens["aiko"], "GET", "/api/conversations?q=zebra-crossing")
    assert [c["conversation_id"] for c in found["conversations"]] == [tagged.session_id]
    status, text = api(desk, tokens["aiko"], "GET", "/api/history.csv?tag=vip")
    lines = text.strip().splitlines()
    assert status == 200 and lines[0].split(",")[:7] == ["conversation_id", "created_at", "language", "state",
                                                         "outcome", "messages", "tags"]
    assert len(lines) == 2 and lines[1].startswith(tagged.session_id) and ",refund;vip," in lines[1]
    status, exported = api(desk, tokens["aiko"], "GET", f"/api/conversations/{tagged.session_id}/export")
    assert exported["tags"] == ["refund", "vip"] and "zebra" not in json.dumps(exported)
    status, text = api(desk, tokens["aiko"], "GET", f"/api/conversations/{tagged.session_id}/export?format=text")
    assert status == 200 and text.splitlines()[1] == "Tags: refund, vip" and "zebra" not in text
    status, error = api(desk, tokens["aiko"], "GET", "/api/conversations?tag=%3Cb%3E")
    assert status == 400 and error["error"] == "invalid_search"
    for client in (tagged, other, agent, agent2):
        await client.close()


async def test_macros_fill_the_conversations_destination_in_its_language(desk, tokens):
    status, body = api(desk, tokens["aiko"], "POST", "/api/macros", {
        "title": "Delivery time", "source_language": "en",
        "texts": {"en": "Delivery to {destination} takes {days_min}-{days_max} days ({fee}). Order {order_id}.",
                  "ja": "{destination}へのお届けは{days_min}〜{days_max}営業日です（送料{fee}）。注文{order_id}"}})
    assert status == 201, body
    mine = body["macro"]["id"]
    shopper, agent = await claimed(desk, tokens["aiko"], "ドイツへの配送はどのくらいかかりますか？")
    cid = shopper.session_id
    status, listed = api(desk, tokens["aiko"], "GET", f"/api/macros?conversation_id={cid}&q=delivery")
    assert status == 200 and listed["language"] == "ja" and listed["country"] == "DE"
    macro = next(m for m in listed["macros"] if m["id"] == mine)
    assert macro["text"] == "ドイツへのお届けは4〜7営業日です（送料¥2,200）。注文{order_id}"
    assert macro["missing"] == ["order_id"] and macro["translated"] is False
    # The bot's answers beside the macros are filled for the same destination, not the shop's default.
    _, canned = api(desk, tokens["aiko"], "GET", f"/api/canned?language=ja&conversation_id={cid}")
    assert any("4〜7" in a["text"] for a in canned["answers"] if a["key"] == "utter_shipping_time"), canned
    # The English text for an English conversation without a destination: its facts stay missing.
    status, listed = api(desk, tokens["aiko"], "GET", "/api/macros?language=en")
    macro = next(m for m in listed["macros"] if m["id"] == mine)
    assert set(macro["missing"]) == {"destination", "days_min", "days_max", "fee", "order_id"}
    # No translator configured: a language without a text gets the source text, flagged untranslated.
    status, listed = api(desk, tokens["aiko"], "GET", "/api/macros?language=fr")
    macro = next(m for m in listed["macros"] if m["id"] == mine)
    assert macro["language"] == "en" and macro["translation_error"] == "disabled"

    # A variable left unfilled never reaches the shopper as "{x}".
    ack = await agent.call("send", {"conversation_id": cid, "text": "注文{order_id}を確認します"})
    assert ack["ok"] is False and ack["error"] == "unfilled_variable"
    _, refusal = await agent.expect("crossdesk:error")
    assert refusal["code"] == "unfilled_variable"

    # Personal macros are the owner's; shared ones only admins create.
    assert all(m["id"] != mine for m in api(desk, tokens["boss"], "GET", "/api/macros")[1]["macros"])
    status, error = api(desk, tokens["aiko"], "POST", "/api/macros", {"title": "x", "texts": {"en": "hi"}, "shared": True})
    assert (status, error["error"]) == (403, "forbidden")
    status, shared = api(desk, tokens["boss"], "POST", "/api/macros",
                         {"title": "Returns", "texts": {"en": "You can return within {return_days} days."}, "shared": True})
    assert status == 201
    assert any(m["id"] == shared["macro"]["id"] and m["text"] == "You can return within 30 days."
               for m in api(desk, tokens["aiko"], "GET", "/api/macros")[1]["macros"])
    assert api(desk, tokens["aiko"], "DELETE", f"/api/macros/{shared['macro']['id']}")[0] == 403
    # The owner edits a personal macro; nobody else sees or changes it; an admin removes a shared one.
    status, edited = api(desk, tokens["aiko"], "PUT", f"/api/macros/{mine}",
                         {"title": "Delivery time", "texts": {"en": "To {destination}: {days_min}-{days_max} days."}})
    assert status == 200 and edited["macro"]["texts"] == {"en": "To {destination}: {days_min}-{days_max} days."}
    assert api(desk, tokens["boss"], "PUT", f"/api/macros/{mine}", {"title": "x", "texts": {"en": "x"}})[0] == 404
    assert api(desk, tokens["boss"], "DELETE", f"/api/macros/{shared['macro']['id']}")[0] == 200
    assert all(m["id"] != shared["macro"]["id"] for m in api(desk, tokens["aiko"], "GET", "/api/macros")[1]["macros"])
    for body, code in (({"title": "x", "texts": {"en": "{password}"}}, "unknown_variable"),
                       ({"title": "x", "texts": {"xx": "hi"}}, "invalid_language"),
                       ({"title": "", "texts": {"en": "hi"}}, "invalid_title")):
        status, error = api(desk, tokens["aiko"], "POST", "/api/macros", body)
        assert (status, error["error"]) == (400, code), error
    for client in (shopper, agent):
        await client.close()


async def test_a_verified_customer_sees_earlier_conversations_and_a_forged_hash_is_not_merged(desk, tokens):
    user = {"id": "cust-1", "email": "mia@example.com", "name": "Mia"}
    earlier, agent1 = await claimed(desk, tokens["aiko"], "hello", metadata={"user": {**user, "hash": sign("cust-1")}})
    assert (await agent1.call("resolve", {"conversation_id": earlier.session_id, "outcome": "refund"}))["ok"]
    forged, agent2 = await claimed(desk, tokens["aiko"], "hello",
                                   metadata={"user": {**user, "hash": sign("cust-1", "guessed-secret")}})
    unsigned, agent3 = await claimed(desk, tokens["aiko"], "hello", metadata={"user": {"id": "cust-1"}})
    later, agent4 = await claimed(desk, tokens["aiko"], "hi again", metadata={"user": {**user, "hash": sign("cust-1")}})

    _, panel = api(desk, tokens["aiko"], "GET", f"/api/conversations/{later.session_id}/desk")
    assert panel["customer"]["verified"] is True and panel["customer"]["id"] == "cust-1"
    assert [(c["conversation_id"], c["outcome"]) for c in panel["customer"]["earlier"]] == [(earlier.session_id, "refund")]
    for impostor in (forged, unsigned):
        _, panel = api(desk, tokens["aiko"], "GET", f"/api/conversations/{impostor.session_id}/desk")
        assert panel["customer"]["verified"] is False and panel["customer"]["earlier"] == []
    # The hash proves the id once; it is kept neither with the message nor in Rasa's tracker.
    _, bundle = api(desk, tokens["aiko"], "GET", f"/api/conversations/{later.session_id}")
    assert "hash" not in json.dumps(bundle["context"]) and bundle["context"]["user"]["id"] == "cust-1"
    with sqlite3.connect(desk.var_dir / "tracker.db") as conn:
        events = [row[0] for row in conn.execute("SELECT data FROM events WHERE sender_id = ?", (later.session_id,))]
    assert any("cust-1" in data for data in events) and not any(sign("cust-1") in data for data in events)

    bad = Shopper(desk.url)
    await bad.connect()
    for user, code in (({"id": "c", "email": "not-an-address"}, "invalid_email"),
                       ({"id": "c", "hash": "abc"}, "invalid_user"),
                       ({"hash": sign("c")}, "invalid_user"),
                       ({"id": "   "}, "invalid_user"),
                       ({"id": "x" * 201}, "invalid_metadata")):
        ack = await bad.say("hello", metadata={"user": user})
        assert ack["ok"] is False and ack["error"] == code, (user, ack)
    for client in (earlier, forged, unsigned, later, bad, agent1, agent2, agent3, agent4):
        await client.close()


async def test_a_macro_without_a_text_in_the_conversations_language_is_machine_translated_and_flagged():
    """Through the real translation service, against the fake LibreTranslate server (it answers "[fr] <text>")."""
    from handoff.desk_notes_api import render_macro
    from handoff.interpreting import Interpreter
    from handoff.translation import TranslationService
    from harness.translation_server import FakeLibreTranslate, down_url

    macro = {"id": 1, "title": "Delivery", "shared": False, "owner_id": 1, "source_language": "en",
             "texts": {"en": "Delivery to {destination} takes {days_min}-{days_max} days. Order {order_id}.",
                       "de": "Lieferung nach {destination}: {days_min}-{days_max} Tage."}}
    bundle = {"language": "fr", "slots": {"country": "DE"}}

    def values_in(code: str) -> dict:
        return macro_values(bundle, StoreFacts.from_dir(), code)

    fake = FakeLibreTranslate().start()
    service = TranslationService(provider="libre", url=fake.url, timeout=2.0, workers=2)
    mangled = FakeLibreTranslate(phrasebook={("ja", "Delivery to Germany takes 4-7 days. Order {order_id}."):
                                             "ドイツまで4〜7日。ご注文｛注文番号｝。"}).start()
    mangling = TranslationService(provider="libre", url=mangled.url, timeout=2.0, workers=2)
    down = TranslationService(provider="libre", url=down_url(), timeout=0.5, workers=2)
    try:
        out = await render_macro(macro, "fr", values_in, Interpreter(service, budget=2.0))
        assert out["translated"] is True and out["language"] == "fr"
        assert out["text"] == "[fr] Delivery to Germany takes 4-7 days. Order {order_id}."
        assert out["missing"] == ["order_id"]
        out = await render_macro(macro, "de", values_in, Interpreter(service, budget=2.0))  # its own German text
        assert (out["text"], out["translated"]) == ("Lieferung nach Deutschland: 4-7 Tage.", False)
        # A translation that lost "{order_id}" would hide the missing variable: the source text instead.
        out = await render_macro(macro, "ja", values_in, Interpreter(mangling, budget=2.0))
        assert (out["translated"], out["translation_error"]) == (False, "variables_lost")
        assert out["text"].endswith("Order {order_id}.")
        out = await render_macro(macro, "fr", values_in, Interpreter(down, budget=0.5))  # the provider is down
        assert out["translated"] is False and out["language"] == "en" and out["translation_error"]
        assert out["text"].startswith("Delivery to Germany")
    finally:
        for closing in (service, mangling, down):
            await closing.close()
        fake.stop()
        mangled.stop()

"""Tickets over a real server: each trigger, the console API, escalation, e-mail over real SMTP, restarts.

One server for the module (short promise, check interval, grace and retry
delays) and a real SMTP server on loopback (aiosmtpd) that records what arrives.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from tests.mail import Smtp
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

# French tickets are due in 7.2 s and count as due soon 5.4 s before: escalation within a test.
PROMISE = "24,ja=12,fr=0.002"
DUE_SOON_HOURS = "0.0015"
REPLY_TO = "support@shop.example"


@pytest.fixture(scope="module")
def smtp():
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory, smtp):
    process = ServerProcess(tmp_path_factory.mktemp("tickets"), model_path, env={
        "CROSSDESK_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "CROSSDESK_MAIL_FROM": "Shop Support <desk@shop.example>",
        "CROSSDESK_MAIL_REPLY_TO": REPLY_TO, "CROSSDESK_MAIL_MAX_ATTEMPTS": "2", "CROSSDESK_MAIL_RETRY_SECONDS": "0.3",
        "CROSSDESK_TICKET_PROMISE_HOURS": PROMISE, "CROSSDESK_TICKET_DUE_SOON_HOURS": DUE_SOON_HOURS,
        "CROSSDESK_TICKET_CHECK_SECONDS": "0.5", "CROSSDESK_TICKET_ABANDON_SECONDS": "1.5",
    }).start()
    add_agent(process.var_dir, "aiko", "aiko-password-1", languages="ja,en")
    add_agent(process.var_dir, "boss", "boss-password-1", languages="en,de", role="admin")
    add_agent(process.var_dir, "emil", "emil-password-1", languages="de,en")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def tokens(desk):
    return {name: login(desk.url, name, f"{name}-password-1")[1]["token"] for name in ("aiko", "boss", "emil")}


def api(desk, token, method: str, path: str, body=None) -> tuple[int, dict]:
    """One console API call; (status, JSON)."""
    request = urllib.request.Request(desk.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def queued_offline(desk, text: str, email_address: str, name: str) -> Shopper:
    """A shopper handed off while no agent is online, who leaves contact details."""
    shopper = Shopper(desk.url)
    await shopper.connect()
    notice = await shopper.ask(text)
    assert notice["sender"] == "system" and notice["event"] == "utter_handoff_offline", notice
    ack = await shopper.client.call("crossdesk:contact", {"email": email_address, "name": name}, timeout=15)
    assert ack["ok"], ack
    return shopper


def ticket_of(desk, token, conversation_id: str, view: str = "all", status: str = "all") -> dict:
    _, body = api(desk, token, "GET", f"/api/tickets?view={view}&status={status}&limit=500")
    found = [t for t in body["tickets"] if t["conversation_id"] == conversation_id]
    assert len(found) <= 1, found
    return found[0] if found else None


async def eventually(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_contact_left_while_offline_becomes_a_ticket_due_by_the_japanese_promise(desk, tokens):
    started = time.time()
    shopper = await queued_offline(desk, "人間のスタッフと話したいです", "hanako@example.jp", "花子")
    ticket = ticket_of(desk, tokens["aiko"], shopper.session_id)
    assert ticket["source"] == "contact" and ticket["status"] == "open" and ticket["assignee_id"] is None
    assert ticket["email"] == "hanako@example.jp" and ticket["name"] == "花子" and ticket["language"] == "ja"
    assert started + 12 * 3600 - 5 <= ticket["due_at"] <= time.time() + 12 * 3600  # ja=12, not the default 24
    assert ticket["reference"] == f"CD-{ticket['id']}" and ticket["due_state"] == "on_time"
    # A second contact adds nothing but stays one ticket.
    assert (await shopper.client.call("crossdesk:contact", {"email": "hanako@example.jp"}, timeout=15))["ok"]
    assert ticket_of(desk, tokens["aiko"], shopper.session_id)["id"] == ticket["id"]
    await shopper.close()


async def test_agent_marks_follow_up_and_works_the_ticket_with_private_notes_and_history(desk, tokens):
    agent = AgentClient(desk.url, tokens["aiko"])
    await agent.connect()
    shopper = Shopper(desk.url)
    await shopper.connect()
    await shopper.ask("I want to talk to a real person")
    await agent.call("claim", {"conversation_id": shopper.session_id})
    status, created = api(desk, tokens["aiko"], "POST", "/api/tickets",
                          {"conversation_id": shopper.session_id, "note": "check the warehouse", "priority": "high"})
    assert status == 201 and created["created"], created
    ticket = created["ticket"]
    assert ticket["source"] == "follow_up" and ticket["assignee_id"] is not None and ticket["priority"] == "high"
    assert ticket["language"] == "en" and ticket["due_at"] > time.time() + 23.9 * 3600  # the default 24 h

    # Emil (another agent) neither sees nor changes Aiko's ticket; the admin sees it.
    assert api(desk, tokens["emil"], "GET", f"/api/tickets/{ticket['id']}")[0] == 404
    assert api(desk, tokens["emil"], "PATCH", f"/api/tickets/{ticket['id']}", {"status": "solved"})[0] == 404
    assert ticket_of(desk, tokens["emil"], shopper.session_id) is None
    assert ticket_of(desk, tokens["boss"], shopper.session_id)["id"] == ticket["id"]
    assert ticket_of(desk, tokens["aiko"], shopper.session_id, view="mine")["id"] == ticket["id"]

    status, changed = api(desk, tokens["aiko"], "PATCH", f"/api/tickets/{ticket['id']}",
                          {"tags": ["Damaged", "parcel", "damaged"], "priority": "urgent"})
    assert status == 200 and changed["ticket"]["tags"] == ["damaged", "parcel"]
    assert api(desk, tokens["aiko"], "POST", f"/api/tickets/{ticket['id']}/notes", {"text": "called DHL"})[0] == 201
    assert api(desk, tokens["aiko"], "PATCH", f"/api/tickets/{ticket['id']}", {"status": "closed"}) == (
        400, {"error": "invalid_status", "message": "status must be one of open, pending, solved"})
    assert api(desk, tokens["aiko"], "PATCH", f"/api/tickets/{ticket['id']}", {"assignee_id": 9999})[1]["error"] == \
        "invalid_assignee"
    tagged = api(desk, tokens["boss"], "GET", "/api/tickets?tag=parcel&status=all")[1]["tickets"]
    assert [t["id"] for t in tagged] == [ticket["id"]]
    assert api(desk, tokens["boss"], "GET", "/api/tickets?tag=parc&status=all")[1]["tickets"] == []
    assert [t["id"] for t in api(desk, tokens["boss"], "GET", "/api/tickets?q=real%20person")[1]["tickets"]] == \
        [ticket["id"]]

    # The admin solves it; the history has every change, the notes stay with the agents.
    assert api(desk, tokens["boss"], "PATCH", f"/api/tickets/{ticket['id']}", {"status": "solved"})[0] == 200
    _, detail = api(desk, tokens["boss"], "GET", f"/api/tickets/{ticket['id']}")
    kinds = [e["kind"] for e in detail["history"]]
    assert kinds == ["created", "note", "assignee_id", "priority", "tags", "note", "status"], kinds
    assert detail["history"][-1]["details"] == {"from": "open", "to": "solved"}
    assert detail["ticket"]["solved_at"] and detail["ticket"]["due_state"] is None
    assert detail["transcript"][0]["text"] == "I want to talk to a real person"
    await shopper.close()  # back later: the widget's history has no private note
    again = Shopper(desk.url)
    await again.connect(session_id=shopper.session_id)
    _, replay = await again.expect("crossdesk:history")
    assert not any("DHL" in m["text"] or "warehouse" in m["text"] for m in replay["messages"])
    await again.close()
    await agent.close()


async def test_bad_requests_get_clear_errors(desk, tokens):
    assert api(desk, "not-a-token-not-a-token-not-a-token", "GET", "/api/tickets")[0] == 401
    assert api(desk, tokens["aiko"], "GET", "/api/tickets?view=everything")[1]["error"] == "invalid_view"
    assert api(desk, tokens["aiko"], "POST", "/api/tickets", {"conversation_id": "x"})[1]["error"] == \
        "invalid_conversation_id"
    assert api(desk, tokens["aiko"], "POST", "/api/tickets", {"conversation_id": "a" * 32})[0] == 404
    assert api(desk, tokens["aiko"], "GET", "/api/tickets/987654")[0] == 404


async def test_queued_shopper_who_leaves_and_stays_away_becomes_a_ticket(desk, tokens):
    gone = Shopper(desk.url)
    await gone.connect()
    await gone.ask("I want to talk to a real person")
    chatting = Shopper(desk.url)
    await chatting.connect()
    await chatting.ask("hello")
    back = Shopper(desk.url)
    await back.connect()
    await back.ask("I want to talk to a real person")
    await gone.close()
    await chatting.close()
    await back.close()
    returned = Shopper(desk.url)
    await returned.connect(session_id=back.session_id)  # a reload: back within the grace
    ticket = await eventually(lambda: ticket_of(desk, tokens["boss"], gone.session_id), timeout=15)
    assert ticket and ticket["source"] == "left" and ticket["status"] == "open"
    assert ticket_of(desk, tokens["boss"], chatting.session_id) is None  # the bot answered them: nothing to follow
    await asyncio.sleep(1)
    assert ticket_of(desk, tokens["boss"], back.session_id) is None  # still here, still in the queue
    await returned.close()


async def test_tickets_near_and_past_their_due_time_are_escalated_once(desk, tokens):
    agent, admin = AgentClient(desk.url, tokens["emil"]), AgentClient(desk.url, tokens["boss"])
    for client in (agent, admin):
        client.client.on("agent:ticket_escalation", client._recorder("agent:ticket_escalation"), namespace="/agent")
        await client.connect()
    shopper = Shopper(desk.url)
    await shopper.connect()
    await shopper.ask("Bonjour, combien coûte la livraison au Canada ?")
    status, created = api(desk, tokens["boss"], "POST", "/api/tickets", {"conversation_id": shopper.session_id})
    ticket = created["ticket"]
    assert status == 201 and ticket["language"] == "fr" and ticket["due_state"] == "on_time", created
    mine = lambda p: p["ticket"]["id"] == ticket["id"]  # noqa: E731

    _, soon = await agent.expect("agent:ticket_escalation", timeout=15, where=mine)
    assert soon["level"] == "due_soon" and soon["ticket"]["due_state"] == "due_soon"
    _, late = await admin.expect("agent:ticket_escalation", timeout=20, where=lambda p: mine(p) and p["level"] == "overdue")
    assert late["escalated_to"] == "admins" and late["ticket"]["due_state"] == "overdue"
    assert ticket_of(desk, tokens["boss"], shopper.session_id, view="overdue")["id"] == ticket["id"]
    await asyncio.sleep(1.5)  # three more checks
    _, detail = api(desk, tokens["boss"], "GET", f"/api/tickets/{ticket['id']}")
    kinds = [e["kind"] for e in detail["history"] if e["kind"].startswith("escalated")]
    assert kinds == ["escalated_due_soon", "escalated_overdue"]
    # The agent (not an admin, not the assignee) was told it was due soon, not escalated to admins.
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await agent.expect("agent:ticket_escalation", timeout=1, where=lambda p: mine(p) and p["level"] == "overdue")
    api(desk, tokens["boss"], "PATCH", f"/api/tickets/{ticket['id']}", {"status": "solved"})
    for client in (agent, admin, shopper):
        await client.close()


async def test_answer_is_emailed_in_japanese_and_shown_in_the_widget(desk, tokens, smtp):
    shopper = await queued_offline(desk, "人間のスタッフと話したいです", "yui@example.jp", "結衣")
    ticket = ticket_of(desk, tokens["aiko"], shopper.session_id)
    assert api(desk, tokens["aiko"], "POST", f"/api/tickets/{ticket['id']}/notes", {"text": "x"})[0] == 201
    assert api(desk, tokens["aiko"], "PATCH", f"/api/tickets/{ticket['id']}", {"priority": "low"})[1]["error"] == \
        "forbidden"  # not taken yet
    aiko_id = login(desk.url, "aiko", "aiko-password-1")[1]["agent"]["id"]
    status, taken = api(desk, tokens["aiko"], "PATCH", f"/api/tickets/{ticket['id']}", {"assignee_id": aiko_id})
    assert status == 200 and taken["ticket"]["assignee_id"] == aiko_id
    _, preview = api(desk, tokens["aiko"], "POST", f"/api/tickets/{ticket['id']}/preview", {"text": "荷物は明日届きます。"})
    assert preview["ok"] and preview["translation"]["text"] == "荷物は明日届きます。"  # no translator here: as written
    status, replied = api(desk, tokens["aiko"], "POST", f"/api/tickets/{ticket['id']}/reply",
                          {"text": "お待たせしました。荷物は明日届きます。"})
    assert status == 201 and replied["ticket"]["status"] == "pending" and replied["mail"]["to_addr"] == "yui@example.jp"
    _, shown = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
    assert shown["text"] == "お待たせしました。荷物は明日届きます。"

    [mail] = await smtp.inbox.wait_for(lambda m: f"[{ticket['reference']}]" in m["Subject"])
    assert mail["Subject"] == f"[{ticket['reference']}] お問い合わせ {ticket['reference']} へのご回答"
    assert mail["To"] == "yui@example.jp" and mail["Reply-To"] == REPLY_TO
    assert mail["From"].addresses[0].addr_spec == "desk@shop.example"
    body = mail.get_content()
    assert "お待たせしました。荷物は明日届きます。" in body and "最近のやり取り:" in body
    assert "お客様: 人間のスタッフと話したいです" in body and "Aiko: お待たせしました。" in body
    assert f"お問い合わせ番号: {ticket['reference']}" in body
    sent = await eventually(lambda: api(desk, tokens["aiko"], "GET", f"/api/tickets/{ticket['id']}")[1]["mail"][0]
                            if api(desk, tokens["aiko"], "GET", f"/api/tickets/{ticket['id']}")[1]["mail"][0]["status"]
                            == "sent" else None)
    assert sent and sent["attempts"] == 1
    await shopper.close()
    # The shopper comes back: the answer is in the widget's history.
    again = Shopper(desk.url)
    await again.connect(session_id=shopper.session_id)
    _, replay = await again.expect("crossdesk:history")
    assert replay["messages"][-1]["text"] == "お待たせしました。荷物は明日届きます。"
    await again.close()


async def test_german_answer_when_the_mail_server_is_down_is_retried_shown_failed_then_delivered(desk, tokens, smtp):
    shopper = await queued_offline(desk, "Ich möchte mit einem Menschen sprechen", "joerg@example.de",
                                   "Jörg Müller")
    ticket = ticket_of(desk, tokens["boss"], shopper.session_id)
    assert ticket["language"] == "de", ticket
    smtp.stop()
    try:
        status, replied = api(desk, tokens["boss"], "POST", f"/api/tickets/{ticket['id']}/reply",
                              {"text": "Grüße aus Köln: Ihr Paket ist unterwegs, Größe geändert."})
        assert status == 201

        def mail():
            return api(desk, tokens["boss"], "GET", f"/api/tickets/{ticket['id']}")[1]["mail"][0]

        failed = await eventually(lambda: mail() if mail()["status"] == "failed" else None, timeout=15)
        assert failed and failed["attempts"] >= 2 and "Connection" in failed["last_error"], failed
        kinds = [e["kind"] for e in api(desk, tokens["boss"], "GET", f"/api/tickets/{ticket['id']}")[1]["history"]]
        assert "mail_failed" in kinds
    finally:
        smtp.start()
    [delivered] = await smtp.inbox.wait_for(lambda m: f"[{ticket['reference']}]" in m["Subject"], timeout=20)
    assert delivered["Subject"] == f"[{ticket['reference']}] Re: deine Anfrage {ticket['reference']}"
    body = delivered.get_content()
    assert "Grüße aus Köln: Ihr Paket ist unterwegs, Größe geändert." in body
    assert "Du: Ich möchte mit einem Menschen sprechen" in body and "Unser bisheriges Gespräch:" in body
    sent = await eventually(lambda: mail() if mail()["status"] == "sent" else None, timeout=10)
    assert sent and sent["last_error"] is None
    assert len([m for m in smtp.inbox.messages if f"[{ticket['reference']}]" in m["Subject"]]) == 1  # sent once
    await shopper.close()


async def test_erasing_a_shopper_removes_their_ticket_its_history_and_mail(desk, tokens, smtp):
    shopper = await queued_offline(desk, "I want to talk to a real person", "erase.me@example.com", "Erin")
    ticket = ticket_of(desk, tokens["boss"], shopper.session_id)
    api(desk, tokens["boss"], "POST", f"/api/tickets/{ticket['id']}/notes", {"text": "prefers e-mail"})
    assert api(desk, tokens["boss"], "POST", f"/api/tickets/{ticket['id']}/reply", {"text": "Done."})[0] == 201
    await smtp.inbox.wait_for(lambda m: m["To"] == "erase.me@example.com")
    await shopper.close()
    status, erased = api(desk, tokens["boss"], "DELETE", "/api/admin/shoppers?email=erase.me@example.com")
    assert status == 200 and erased["conversations"] == [shopper.session_id], erased
    assert erased["deleted"]["tickets"] == 1 and erased["deleted"]["ticket_events"] >= 4
    assert erased["deleted"]["outgoing_mail"] == 1
    assert api(desk, tokens["boss"], "GET", f"/api/tickets/{ticket['id']}")[0] == 404
    # Its reference is never given to another ticket.
    again = await queued_offline(desk, "I want to talk to a real person", "next@example.com", "Nico")
    assert ticket_of(desk, tokens["boss"], again.session_id)["id"] > ticket["id"]
    await again.close()
    database = sqlite3.connect(desk.var_dir / "crossdesk.db")
    for table in ("tickets", "ticket_events", "outgoing_mail"):
        left = database.execute(f"SELECT count(*) FROM {table} WHERE conversation_id = ?", (shopper.session_id,))
        assert left.fetchone()[0] == 0, table
    assert database.execute("SELECT count(*) FROM outgoing_mail WHERE to_addr = 'erase.me@example.com'").fetchone()[0] == 0
    database.close()


async def test_restart_keeps_tickets_and_queued_mail(desk, tokens, smtp):
    shopper = await queued_offline(desk, "I want to talk to a real person", "mia@example.com", "Mia")
    ticket = ticket_of(desk, tokens["boss"], shopper.session_id)
    await shopper.close()
    smtp.stop()
    try:
        assert api(desk, tokens["boss"], "POST", f"/api/tickets/{ticket['id']}/reply",
                   {"text": "We found your parcel."})[0] == 201
        desk.kill()  # no shutdown hooks: the mail is only in the database
    finally:
        smtp.start()
    # As if killed during an attempt: the mail is leased (for 120 s) by the run that died.
    database = sqlite3.connect(desk.var_dir / "crossdesk.db")
    with database:
        database.execute("UPDATE outgoing_mail SET next_attempt_at = ? WHERE to_addr = 'mia@example.com'",
                         (time.time() + 120,))
    database.close()
    desk.start()
    [mail] = await smtp.inbox.wait_for(lambda m: m["To"] == "mia@example.com", timeout=30)
    assert mail["Subject"].startswith(f"[{ticket['reference']}] ")
    assert "We found your parcel." in mail.get_content()
    kept = ticket_of(desk, tokens["boss"], shopper.session_id, status="all")
    assert kept["id"] == ticket["id"] and kept["status"] == "pending" and kept["email"] == "mia@example.com"

"""Privacy against a real server: card numbers masked at rest, shopper export and erasure (admin API and
command line), retention, the audit log and who may read which transcript."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from handoff.store.masking import mask_card_numbers
from tests.support import ROOT, AgentClient, ServerProcess, Shopper, add_agent, login

CARD = "4242 4242 4242 4242"
DAY = 86400


def add_admin(var_dir: Path, name: str, password: str) -> None:
    """An admin account, made with the real CLI."""
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(var_dir)}
    subprocess.run([sys.executable, "-m", "handoff", "agents", "add", name, "--languages", "en", "--role", "admin"],
                   input=password + "\n", text=True, env=env, cwd=ROOT, check=True, capture_output=True)


def cli(var_dir: Path, *args: str, **env) -> subprocess.CompletedProcess:
    """``python -m handoff shopper ...`` against the server's var dir (another process than the server)."""
    return subprocess.run([sys.executable, "-m", "handoff", "shopper", *args], text=True, cwd=ROOT,
                          env={**os.environ, "CROSSDESK_VAR_DIR": str(var_dir), **env}, capture_output=True,
                          timeout=120)


def http(server, path: str, token: str, method: str = "GET") -> tuple[int, object]:
    """(status, JSON body, or the text of a non-JSON download)."""
    request = urllib.request.Request(server.url + path, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            body = response.read().decode()
            return response.status, json.loads(body) if "json" in response.headers["content-type"] else body
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rows(var_dir: Path, database: str, sql: str, *params) -> list[tuple]:
    """Read a SQLite file of the running server directly."""
    with sqlite3.connect(Path(var_dir) / database) as conn:
        return conn.execute(sql, params).fetchall()


def stored_counts(var_dir: Path, session_id: str) -> dict[str, int]:
    """Rows left for a session in every place a conversation is kept."""
    counts = {table: rows(var_dir, "crossdesk.db", f"SELECT COUNT(*) FROM {table} WHERE conversation_id = ?",
                          session_id)[0][0] for table in ("messages", "transitions")}
    counts["conversations"] = rows(var_dir, "crossdesk.db", "SELECT COUNT(*) FROM conversations WHERE id = ?",
                                   session_id)[0][0]
    counts["tracker_events"] = rows(var_dir, "tracker.db", "SELECT COUNT(*) FROM events WHERE sender_id = ?",
                                    session_id)[0][0]
    return counts


async def wait_for(condition, timeout: float = 15.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(step)
    return result


@pytest.fixture(scope="module")
def tokens(server):
    add_agent(server.var_dir, "ina", "ina-password-1", languages="en")
    add_agent(server.var_dir, "ole", "ole-password-1", languages="en")
    add_admin(server.var_dir, "ada", "ada-password-1")
    return {name: login(server.url, name, f"{name}-password-1")[1]["token"] for name in ("ina", "ole", "ada")}


async def chatting_shopper(server, *texts: str) -> Shopper:
    shopper = Shopper(server.url)
    await shopper.connect()
    for text in texts:
        await shopper.ask(text)
    return shopper


async def claimed_by(server, token: str, text: str = "I want to talk to a human please"):
    """A shopper queued for a person and an agent who claimed the conversation."""
    agent = AgentClient(server.url, token)
    await agent.connect()
    shopper = await chatting_shopper(server, text)
    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"], claimed
    return shopper, agent


# -- card numbers ------------------------------------------------------------------------------------
def test_card_numbers_keep_only_their_last_four_digits():
    assert mask_card_numbers(f"my card {CARD} was declined") == "my card **** **** **** 4242 was declined"
    assert mask_card_numbers("4111-1111-1111-1111") == "**** **** **** 1111"
    assert mask_card_numbers("378282246310005 (amex)") == "**** **** **** 0005 (amex)"
    for kept in ("order 4501-22871 placed 2024-05-01", "call +81 90-1234-5678", "4242 4242 4242 4241",
                 "tracking 1234567890123 (not Luhn-valid)", "where is my parcel?"):
        assert mask_card_numbers(kept) == kept


async def test_a_card_number_is_stored_masked_and_the_agent_receives_it_masked(server, tokens):
    shopper = await chatting_shopper(server, f"my payment with card {CARD} failed")
    agent = AgentClient(server.url, tokens["ina"])
    await agent.connect()
    await shopper.ask("I want to talk to a human please")
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]

    assert (await shopper.say("it is 4111-1111-1111-1111, expiry 12/29"))["ok"]
    _, relayed = await agent.expect("agent:shopper_message")
    assert relayed["message"]["text"] == "it is **** **** **** 1111, expiry 12/29"
    assert (await agent.call("send", {"conversation_id": shopper.session_id,
                                      "text": "Please never send 5555 5555 5555 4444 here"}))["ok"]
    _, reply = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
    assert reply["text"] == "Please never send **** **** **** 4444 here"

    texts = [t for (t,) in rows(server.var_dir, "crossdesk.db", "SELECT text || data FROM messages "
                                "WHERE conversation_id = ?", shopper.session_id)]
    assert any("**** **** **** 4242" in t for t in texts) and any("**** **** **** 1111" in t for t in texts)
    digits = [t.replace(" ", "").replace("-", "") for t in texts]
    assert not any(n in d for d in digits for n in ("4242424242424242", "4111111111111111", "5555555555554444"))
    tracker = " ".join(d or "" for (d,) in rows(server.var_dir, "tracker.db", "SELECT data FROM events "
                                                 "WHERE sender_id = ?", shopper.session_id))
    assert "**** **** **** 4242" in tracker and CARD not in tracker  # the bot read the masked text
    await agent.call("resolve", {"conversation_id": shopper.session_id})
    await shopper.close()
    await agent.close()


# -- audit and read policy ----------------------------------------------------------------------------
async def test_agents_read_only_their_own_conversations_and_admins_see_every_read_in_the_audit_log(server, tokens):
    mine, ina = await claimed_by(server, tokens["ina"])
    others, ole = await claimed_by(server, tokens["ole"], "can I speak to a person?")
    await ole.call("resolve", {"conversation_id": others.session_id, "outcome": "answered"})
    bot_only = await chatting_shopper(server, "how long does shipping to Germany take?")
    passed_on, ole_again = await claimed_by(server, tokens["ole"], "I need a human")
    ina_id = login(server.url, "ina", "ina-password-1")[1]["agent"]["id"]
    ole_id = login(server.url, "ole", "ole-password-1")[1]["agent"]["id"]
    assert (await ole.call("transfer", {"conversation_id": passed_on.session_id, "agent_id": ina_id}))["ok"]
    await ina.call("resolve", {"conversation_id": passed_on.session_id})
    started = time.strftime("%Y-%m-%d", time.gmtime())

    assert http(server, f"/api/conversations/{mine.session_id}", tokens["ina"])[0] == 200
    assert http(server, f"/api/conversations/{passed_on.session_id}", tokens["ina"])[0] == 200  # transferred to her
    assert http(server, f"/api/conversations/{mine.session_id}/export?format=text", tokens["ina"])[0] == 200
    for someone_elses in (others.session_id, bot_only.session_id):
        status, body = http(server, f"/api/conversations/{someone_elses}", tokens["ina"])
        assert (status, body["error"]) == (403, "forbidden")
        assert http(server, f"/api/conversations/{someone_elses}/export", tokens["ina"])[0] == 403
        assert http(server, f"/api/conversations/{someone_elses}", tokens["ada"])[0] == 200
        # canned answers filled for a conversation's destination would tell its country
        assert http(server, f"/api/canned?conversation_id={someone_elses}", tokens["ina"])[0] == 403
    assert http(server, f"/api/canned?conversation_id={mine.session_id}", tokens["ina"])[0] == 200
    status, found = http(server, "/api/conversations?q=speak%20to%20a%20person", tokens["ina"])
    assert status == 200 and others.session_id not in [c["conversation_id"] for c in found["conversations"]]
    status, found = http(server, "/api/conversations?q=speak%20to%20a%20person", tokens["ada"])
    assert others.session_id in [c["conversation_id"] for c in found["conversations"]]

    for path in ("/api/admin/audit", f"/api/admin/shoppers/export?session={mine.session_id}"):
        assert http(server, path, tokens["ina"]) == (403, {"error": "forbidden", "message": "only admins may do this"})
    assert http(server, f"/api/admin/shoppers?session={mine.session_id}", tokens["ina"], "DELETE")[0] == 403
    assert http(server, "/api/admin/audit", "x" * 40)[0] == 401

    status, audit = http(server, f"/api/admin/audit?agent=ina&from={started}&to={started}", tokens["ada"])
    assert status == 200 and {e["agent"] for e in audit["entries"]} == {"ina"}
    seen = [(e["action"], e["target"], e["details"]) for e in audit["entries"]]
    assert ("read_transcript", mine.session_id, {"via": "claim"}) in seen
    assert ("read_transcript", passed_on.session_id, {"via": "transfer", "from": ole_id}) in seen
    assert ("read_transcript", mine.session_id, {}) in seen
    assert ("export", mine.session_id, {"format": "text"}) in seen
    assert ("read_transcript", others.session_id, {"denied": True}) in seen
    assert ("search", None, {"q": "speak to a person", "results": 0}) in seen
    assert all(time.time() - e["created_at"] < 120 for e in audit["entries"])
    status, admin_reads = http(server, "/api/admin/audit?agent=ada&limit=5", tokens["ada"])
    assert [e["action"] for e in admin_reads["entries"]][:2] == ["search", "read_transcript"]
    assert http(server, "/api/admin/audit?from=yesterday", tokens["ada"])[0] == 400
    assert http(server, "/api/admin/audit?agent=nobody", tokens["ada"])[0] == 400
    await ina.call("resolve", {"conversation_id": mine.session_id})
    for client in (mine, ina, others, ole, bot_only, passed_on, ole_again):
        await client.close()


# -- export and erasure --------------------------------------------------------------------------------
async def test_an_admin_exports_everything_about_a_shopper_by_e_mail_as_json(server, tokens):
    first = await chatting_shopper(server, "hello")
    assert (await first.client.call("crossdesk:contact", {"email": "Mia@Example.com", "name": "Mia"}, timeout=15))["ok"]
    second = Shopper(server.url)
    await second.connect()
    assert (await second.ask("what does shipping cost?", metadata={"user": {"email": "mia@example.com"}}))
    unrelated = await chatting_shopper(server, "hello there")

    status, exported = http(server, "/api/admin/shoppers/export?email=mia@example.com", tokens["ada"])
    assert status == 200 and exported["query"] == {"session": None, "email": "mia@example.com"}
    by_id = {c["id"]: c for c in exported["conversations"]}
    assert set(by_id) == {first.session_id, second.session_id}
    assert by_id[first.session_id]["contacts"] == [{"email": "Mia@Example.com", "name": "Mia"}]
    assert [m["text"] for m in by_id[first.session_id]["messages"]][0] == "hello"
    assert by_id[second.session_id]["messages"][0]["data"]["metadata"]["user"]["email"] == "mia@example.com"
    assert by_id[second.session_id]["messages"][1]["sender"] == "bot"
    assert by_id[first.session_id]["transitions"][0]["reason"] == "session_start"
    assert by_id[first.session_id]["tracker_events"] > 0

    done = cli(server.var_dir, "export", "--session", second.session_id)
    assert done.returncode == 0, done.stderr
    assert [c["id"] for c in json.loads(done.stdout)["conversations"]] == [second.session_id]
    assert http(server, "/api/admin/shoppers/export?email=nobody@example.com", tokens["ada"])[0] == 404
    assert http(server, "/api/admin/shoppers/export?session=x", tokens["ada"])[0] == 400
    assert http(server, "/api/admin/shoppers/export", tokens["ada"])[0] == 400
    status, audit = http(server, "/api/admin/audit?action=shopper_export", tokens["ada"])
    targets = [(e["agent"], e["target"]) for e in audit["entries"]]
    assert (None, f"session:{second.session_id}") in targets  # the command line
    assert any(agent == "ada" and target.startswith("email-sha256:") for agent, target in targets)
    assert "mia@example.com" not in json.dumps(audit).lower()
    for client in (first, second, unrelated):
        await client.close()


async def test_an_admin_deletes_a_shopper_and_nothing_of_them_is_left(server, tokens):
    shopper = await chatting_shopper(server, "hello", "how long does shipping to Japan take?")
    session_id = shopper.session_id
    assert all(stored_counts(server.var_dir, session_id).values())
    disconnected = asyncio.Event()
    shopper.client.on("disconnect", disconnected.set)

    status, deleted = http(server, f"/api/admin/shoppers?session={session_id}", tokens["ada"], "DELETE")
    assert status == 200 and deleted["conversations"] == [session_id]
    assert deleted["deleted"]["messages"] >= 4 and deleted["deleted"]["tracker_events"] > 0
    assert stored_counts(server.var_dir, session_id) == {"messages": 0, "transitions": 0, "conversations": 0,
                                                         "tracker_events": 0}
    await asyncio.wait_for(disconnected.wait(), 10)  # the live session is closed too

    again = Shopper(server.url)
    await again.connect(session_id)
    _, history = await again.expect("crossdesk:history")
    assert history == {"session_id": session_id, "state": "bot", "messages": []}  # a fresh conversation
    reply = await again.ask("hi")
    assert reply["text"]
    assert http(server, f"/api/admin/shoppers?session={'f' * 32}", tokens["ada"], "DELETE")[0] == 404
    status, audit = http(server, "/api/admin/audit?action=shopper_delete&agent=ada", tokens["ada"])
    assert audit["entries"][0]["target"] == f"session:{session_id}"
    await again.close()


async def test_deleting_by_e_mail_from_the_command_line_is_not_undone_by_the_running_server(server, tokens):
    left_contact = await chatting_shopper(server, "hello")
    await left_contact.client.call("crossdesk:contact", {"email": "leo@example.com"}, timeout=15)
    silent = Shopper(server.url)
    await silent.connect()
    await silent.ask("hi", metadata={"user": {"email": "LEO@example.com"}})
    kept = await chatting_shopper(server, "hello")
    closed = asyncio.Event()
    silent.client.on("disconnect", closed.set)

    done = cli(server.var_dir, "delete", "--email", "leo@example.com")
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["conversations"]) == sorted([left_contact.session_id, silent.session_id])
    for session_id in (left_contact.session_id, silent.session_id):
        assert not any(stored_counts(server.var_dir, session_id).values())
    assert all(stored_counts(server.var_dir, kept.session_id).values())

    # The server still had the conversation cached: its next message starts a new, empty one.
    session_id = left_contact.session_id
    try:
        ack = await left_contact.say("hello again")
    except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
        # The server heard of the erasure first and closed the session: reconnect, as the widget does.
        left_contact = Shopper(server.url)
        await left_contact.connect(session_id)
        ack = await left_contact.say("hello again")
    assert ack["ok"]
    texts = [t for (t,) in rows(server.var_dir, "crossdesk.db", "SELECT text FROM messages WHERE conversation_id = ?",
                                session_id)]
    assert texts[0] == "hello again" and "hello" not in texts and "leo@example.com" not in texts
    assert rows(server.var_dir, "crossdesk.db", "SELECT COUNT(*) FROM messages WHERE conversation_id NOT IN "
                "(SELECT id FROM conversations)") == [(0,)]
    await asyncio.wait_for(closed.wait(), 15)  # the server heard of the erasure and closed the session
    await asyncio.sleep(1)
    assert left_contact.client.connected  # ... but not the new conversation started since
    assert cli(server.var_dir, "delete", "--email", "leo@example.com").returncode == 1  # nothing left
    for client in (left_contact, kept):
        await client.close()


# -- retention --------------------------------------------------------------------------------------------
def age(var_dir: Path, session_id: str, days: float) -> None:
    """Move a conversation's every timestamp ``days`` into the past (as if it had been idle that long)."""
    shift = days * DAY
    with sqlite3.connect(var_dir / "crossdesk.db") as conn:
        conn.execute("UPDATE conversations SET created_at = created_at - ?, updated_at = updated_at - ? WHERE id = ?",
                     (shift, shift, session_id))
        for table in ("messages", "transitions"):
            conn.execute(f"UPDATE {table} SET created_at = created_at - ? WHERE conversation_id = ?",
                         (shift, session_id))
    with sqlite3.connect(var_dir / "tracker.db") as conn:
        conn.execute("UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?", (shift, session_id))


TRACKER_EVENTS_DDL = ("CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL PRIMARY KEY, sender_id VARCHAR(255) "
                      "NOT NULL, type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                      "action_name VARCHAR(255), data TEXT)")  # Rasa 3.6's table: the server uses it as it is


def plant(var_dir: Path, session_id: str, days: float) -> None:
    """A conversation (with a Rasa tracker) that has been idle for ``days``, written before the server starts."""
    from handoff.store import SQLStore

    store = SQLStore(f"sqlite:///{var_dir / 'crossdesk.db'}")
    store.ensure_conversation(session_id)
    message, _ = store.add_message(session_id, "shopper", "hello from long ago")
    # Answered (the bot's understanding recorded): an unanswered one is left by a crash and answered at start.
    store.record_turn(session_id, message.id, {"intent": "greet", "confidence": 1.0, "entities": []}, "en", [])
    store.close()
    with sqlite3.connect(var_dir / "tracker.db") as conn:
        conn.execute(TRACKER_EVENTS_DDL)
        conn.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, ?)",
                     (session_id, time.time(), json.dumps({"event": "user", "text": "hello from long ago"})))
    age(var_dir, session_id, days)


async def test_conversations_idle_longer_than_the_retention_period_are_deleted(model_path, tmp_path):
    env = {"CROSSDESK_RETENTION_DAYS": "30"}
    old, recent = "old-conversation-000001", "recent-conversation-01"
    plant(tmp_path, old, 31)
    plant(tmp_path, recent, 29)
    server = ServerProcess(tmp_path, model_path, env=env).start()
    try:  # the retention job runs at start
        await wait_for(lambda: not any(stored_counts(tmp_path, old).values()))
        assert all(stored_counts(tmp_path, recent).values())
        shopper = Shopper(server.url)
        await shopper.connect(recent)
        _, history = await shopper.expect("crossdesk:history")
        assert [m["text"] for m in history["messages"]] == ["hello from long ago"]

        age(tmp_path, recent, 2)  # now 31 days idle, while the server runs and holds it
        done = cli(tmp_path, "purge", **env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["conversations"] == 1
        assert not any(stored_counts(tmp_path, recent).values())
        again = Shopper(server.url)
        await again.connect(recent)
        _, history = await again.expect("crossdesk:history")
        assert history["messages"] == []
        purges = rows(tmp_path, "crossdesk.db", "SELECT details FROM audit_log WHERE action = 'retention_purge'")
        assert [json.loads(d)["conversations"] for (d,) in purges] == [[old], [recent]]
        assert json.loads(cli(tmp_path, "purge", CROSSDESK_RETENTION_DAYS="0").stdout)["conversations"] == 0
        await again.close()
        await shopper.close()
    finally:
        server.stop()

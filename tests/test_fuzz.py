"""Seeded fuzzing of every socket event of both namespaces and every HTTP route, against the real server.

While a well-behaved shopper talks to the bot, malformed inputs (wrong types,
missing keys, huge, deep and binary values, lone surrogates, NUL, extra
arguments, unknown and reserved event names, hostile paths, queries, headers
and bodies) are thrown at the server. Afterwards: the server is alive, every
refused event was answered with a documented error code (ack and
``crossdesk:error``), no HTTP answer was a 5xx, the log holds no traceback,
and the shopper lost nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
import time
import urllib.request
from types import SimpleNamespace

import pytest
import socketio

from tests.support import ROOT, AgentClient, ServerProcess, Shopper, add_agent, login

SEED = 20261206
SHOPPER_CASES = 800
AGENT_CASES = 700
HTTP_CASES = 900
# Shopper sockets are rate-limited (docs/protocol.md, Limits: a burst of 20, then 2 a second) and one refused
# 50 times is disconnected: the shopper cases are spread over enough sockets that each stays near its burst.
SHOPPER_SOCKETS = 16
AGENT_SOCKETS = 2
HTTP_PARALLEL = 6
GOOD_MESSAGES = ["hello", "How long does shipping to Germany take?", "thank you", "Which payment methods do you take?"]
GOOD_TURNS = 12

SHOPPER_EVENTS = ["session_request", "user_uttered", "crossdesk:typing", "crossdesk:contact", "crossdesk:rating"]
AGENT_EVENTS = ["claim", "send", "typing", "handback", "resolve", "transfer", "presence", "translate"]
# Not events of the namespace they are sent to, reserved by Socket.IO, or not names at all.
ODD_EVENTS = ["connect", "disconnect", "connect_error", "disconnecting", "newListener", "message", "typing",
              "contact", "on_user_uttered", "__class__", "crossdesk:", "crossdesk:history", "session_confirm",
              "bot_uttered", "agent:hello", "x" * 5000, "\ud83d", "é", "", " ", "user_uttered\n", 7, None, 1.5,
              "claim", "send", "user_uttered", "session_request"]


def documented_codes() -> set[str]:
    """Every error code docs/protocol.md names (in backticks)."""
    return set(re.findall(r"`([a-z_]+)`", (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")))


# What a refused event may answer: each is documented (checked below); internal_error is not allowed here.
SOCKET_CODES = {
    "invalid_payload", "invalid_message", "empty_message", "message_too_long", "invalid_session_id",
    "invalid_message_id", "invalid_locale", "invalid_metadata", "metadata_too_large", "session_mismatch",
    "invalid_email", "invalid_name", "no_session", "unknown_event", "reserved_event", "invalid_event",
    "invalid_conversation_id", "not_found", "already_claimed", "not_assigned", "limit_reached", "agent_offline",
    "invalid_target", "invalid_status", "invalid_original", "invalid_agent_id", "invalid_outcome",
    "rate_limited", "busy",
    "invalid_timezone", "invalid_resolution", "invalid_rating", "invalid_comment", "already_rated",  # after the chat
}
RETRY_CODES = {"rate_limited", "busy"}  # come with retry_after: the fuzzer waits that long and sends it again


def deep(rng: random.Random, levels: int):
    value = rng.choice([1, "x", None, {}])
    for _ in range(levels):
        value = {"a": value} if rng.random() < 0.5 else [value]
    return value


def bad_value(rng: random.Random, ids: list[str]):
    """A value of a wrong type, size or content."""
    pick = rng.randrange(24)
    return [
        None, True, False, 0, -1, 2**63, 2**63 - 1, -2**63 - 1, 2**64, 1.5, float("nan"), float("inf"),
        "", " ", "\ud83d", "a\x00b", "x" * rng.choice([65, 2001, 5000, 30000]), b"\x00\xff\xfe",
        [], {}, deep(rng, rng.choice([7, 8, 9, 40, 150])), {"nested": {"bytes": b"\x01"}},
        rng.choice(ids) + "\n", "".join(rng.choice(string.printable) for _ in range(rng.randrange(1, 80))),
    ][pick]


def base_payload(rng: random.Random, event: str, ids: list[str], agent_ids: list[int]) -> dict:
    """A well-formed payload of ``event`` (the mutations start from it)."""
    conversation_id = rng.choice(ids)
    return {
        "session_request": {"session_id": conversation_id, "locale": "en-US"},
        "user_uttered": {"message": "hello", "message_id": f"fz-{rng.randrange(10**9)}",
                         "metadata": {"locale": "en", "page": "/", "timezone": "Asia/Tokyo",
                                      "user": {"id": "1", "name": "A", "email": "a@b.co"}}},
        "crossdesk:typing": {"typing": True},
        "crossdesk:contact": {"email": "fuzz@example.com", "name": "Fuzz"},
        "crossdesk:rating": {"resolution_id": rng.randrange(1, 100), "rating": rng.randint(1, 5), "comment": "ok"},
        "claim": {"conversation_id": conversation_id},
        "send": {"conversation_id": conversation_id, "text": "hi", "message_id": f"fa-{rng.randrange(10**9)}"},
        "typing": {"conversation_id": conversation_id, "typing": True},
        "handback": {"conversation_id": conversation_id},
        "resolve": {"conversation_id": conversation_id, "outcome": "answered"},
        "transfer": {"conversation_id": conversation_id, "agent_id": rng.choice(agent_ids)},
        "presence": {"status": "online"},
        "translate": {"conversation_id": conversation_id, "text": "hello"},
    }.get(event, {})


def mutate(rng: random.Random, payload: dict, ids: list[str]):
    """One malformed version of ``payload``."""
    kind = rng.randrange(6)
    if kind == 0 or not payload:
        return bad_value(rng, ids)  # the payload itself of a wrong type
    payload = dict(payload)
    key = rng.choice(list(payload) + ["metadata", "customData", "outcome", "original", "locale", "message_id"])
    if kind == 1:
        payload.pop(key, None)
    elif kind == 2 and isinstance(payload.get("metadata"), dict):
        metadata = dict(payload["metadata"])
        metadata[rng.choice(["locale", "page", "user", "other"])] = bad_value(rng, ids)
        payload["metadata"] = metadata
    else:
        payload[key] = bad_value(rng, ids)
    if rng.random() < 0.2:
        payload[rng.choice(["extra", "\ud83d", "x" * 300])] = bad_value(rng, ids)
    return payload


def socket_case(rng: random.Random, events: list[str], ids: list[str], agent_ids: list[int]):
    """(event, arguments) of one fuzz case."""
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(ODD_EVENTS), (bad_value(rng, ids),)
    event = rng.choice(events)
    payload = base_payload(rng, event, ids, agent_ids)
    if roll < 0.2:
        return event, (payload, bad_value(rng, ids))  # an extra argument
    if roll < 0.25:
        return event, ()  # no payload at all
    return event, (mutate(rng, payload, ids),)


class Tally:
    """What the fuzzing saw."""

    def __init__(self):
        self.cases = 0
        self.refused: dict[str, int] = {}
        self.accepted = 0
        self.dropped_typing = 0  # crossdesk:typing over its limit: ack only, no crossdesk:error (documented)
        self.silences: list = []  # events that got no ack
        self.bad_answers: list = []  # answers with an undocumented shape or code
        self.http: dict[int, int] = {}
        self.http_failures: list = []

    def answer(self, where: str, event, answer) -> None:
        self.cases += 1
        if isinstance(answer, dict) and answer.get("ok") is True:
            self.accepted += 1
        elif (isinstance(answer, dict) and answer.get("ok") is False and answer.get("error") in RETRY_CODES
              and not isinstance(answer.get("retry_after"), (int, float))):
            self.bad_answers.append((where, str(event)[:40], str(answer)[:200]))  # retry_after is promised
        elif event == "crossdesk:typing" and isinstance(answer, dict) and answer.get("error") == "rate_limited":
            self.dropped_typing += 1
        elif isinstance(answer, dict) and answer.get("ok") is False and answer.get("error") in SOCKET_CODES:
            self.refused[answer["error"]] = self.refused.get(answer["error"], 0) + 1
        else:
            self.bad_answers.append((where, str(event)[:40], str(answer)[:200]))


async def call(client: socketio.AsyncClient, namespace: str, event, arguments: tuple):
    data = arguments[0] if len(arguments) == 1 else (arguments if arguments else None)
    if len(arguments) == 0:
        return await client.call(event, namespace=namespace, timeout=20)
    return await client.call(event, data, namespace=namespace, timeout=20)


async def fuzz_sockets(clients: list, namespace: str, events: list[str], cases: int, rng: random.Random,
                       ids: list[str], agent_ids: list[int], tally: Tally) -> None:
    plans = [[] for _ in clients]
    for i in range(cases):
        plans[i % len(clients)].append(socket_case(rng, events, ids, agent_ids))

    async def run(client, plan):
        for event, arguments in plan:
            try:
                answer = await call(client.client, namespace, event, arguments)
            except socketio.exceptions.TimeoutError:
                tally.cases += 1
                tally.silences.append((namespace, str(event)[:40], str(arguments)[:200]))
                continue
            tally.answer(namespace, event, answer)
            if isinstance(answer, dict) and answer.get("error") in RETRY_CODES:  # as the widget does
                await asyncio.sleep(answer["retry_after"])
                try:
                    answer = await call(client.client, namespace, event, arguments)
                except socketio.exceptions.TimeoutError:
                    tally.cases += 1
                    tally.silences.append((namespace, str(event)[:40], str(arguments)[:200]))
                    continue
                tally.answer(namespace, event, answer)

    await asyncio.gather(*(run(client, plan) for client, plan in zip(clients, plans)))


# Frames a Socket.IO client library never sends: each closes its connection (as socket.io's own server does).
RAW_FRAMES = [
    ("message", '2["user_uttered", {bad'), ("message", '2["user_uttered",' + "[" * 1100 + "]" * 1100 + "]"),
    ("message", "9"), ("message", "2-x"), ("attachment", '51-["user_uttered",{"_placeholder":true,"num":5}]'),
    ("attachment", '51-["user_uttered",{"_placeholder":true,"num":"x"}]'), ("frame", "9abc"), ("frame", ""),
    ("bytes", b"\x00\x01"), ("message", "2" + "[" * 3),
]


async def fuzz_raw_frames(url: str, tally: "Tally") -> None:
    """Each frame on a fresh socket: afterwards the socket is closed or still answers, never silent."""
    for kind, frame in RAW_FRAMES:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, transports=["websocket"])
        if kind == "message":
            await client.eio.send(frame)
        elif kind == "attachment":  # a binary event's header, then its one attachment
            await client.eio.send(frame)
            await client.eio.send(b"attachment")
        elif kind == "frame":
            await client.eio.ws.send_str(frame)
        else:
            await client.eio.ws.send_bytes(frame)
        for _ in range(50):
            if not client.connected:
                break
            await asyncio.sleep(0.1)
        tally.cases += 1
        if client.connected:
            answer = await client.call("session_request", {}, timeout=10)
            tally.answer("raw", kind, answer)
            await client.disconnect()


# -- HTTP ----------------------------------------------------------------------
SEGMENTS = ["f" * 32, "..", ".", "%00", "%2e%2e", "%2e%2e%2fapp.py", "%ff", "a" * 300, "a" * 3000, "%F0%9F%98%80",
            "\xe9", "", "x/y", "crossdesk.js", "console.js", "index.html", "examples", "examples/storefront.html",
            "..%2f..%2fhandoff%2fapp.py", "%25", "%", "nul%00.js", "\ud83d"]
QUERY_KEYS = ["q", "language", "from", "to", "outcome", "limit", "format", "sid", "EIO", "transport", "j", "t",
              "\xe9", "x" * 200]
QUERY_VALUES = ["", "9999-12-31", "0001-01-01", "2026-13-45", "2026-02-30", "-1", "0", "201", "99999999999999999999",
                "1" * 5000, "abc", "%00", "%ff", "a" * 500, "json", "text", "xml", "polling", "websocket", "4", "3",
                "\ud83d", "%F0%9F%98%80", "resolved"]


def raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape") if "\ud83d" not in text else text.encode("utf-8", "replace")


def http_case(rng: random.Random, routes: list, token: str, conversation_ids: list[str]):
    """(method, target, headers, body) of one HTTP fuzz case."""
    path, methods = rng.choice(routes)

    def fill(match):
        name = match.group(1)
        if name.startswith("conversation_id") and rng.random() < 0.4:
            return rng.choice(conversation_ids)
        return rng.choice(SEGMENTS)

    target = "/" + re.sub(r"<([^>]*)>", fill, path)
    if rng.random() < 0.6:
        pairs = [f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}" for _ in range(rng.randrange(1, 5))]
        target += "?" + "&".join(pairs)
    method = rng.choice(sorted(methods)) if rng.random() < 0.8 else rng.choice(["GET", "POST", "PUT", "DELETE",
                                                                                  "PATCH", "OPTIONS", "HEAD"])
    headers = []
    auth = rng.randrange(7)
    if auth == 1:
        headers.append((b"Authorization", f"Bearer {token}".encode()))
    elif auth == 2:
        headers.append((b"Authorization", b"Bearer " + b"\xe9" * 16 + b"\xff"))  # non-ASCII bytes
    elif auth == 3:
        headers.append((b"Authorization", rng.choice([b"Bearer", b"Bearer ", b"Basic eHg6eHg=",
                                                      b"Bearer " + b"a" * 200])))
    if rng.random() < 0.2:
        headers.append((b"Origin", rng.choice([b"http://evil.example", b"null", b"\xe9"])))
    if rng.random() < 0.3:
        headers.append((b"Content-Type", rng.choice([b"application/json", b"text/plain", b"multipart/form-data",
                                                     b"application/x-www-form-urlencoded"])))
    body = b""
    if method in ("POST", "PUT", "PATCH"):
        body = rng.choice([
            b"", b"{}", b"[]", b"null", b"{", b"\xff\xfe", b"[" * 4000, b"x" * 5000,
            json.dumps({"username": "nobody", "password": "wrong password"}).encode(),
            json.dumps({"username": 7, "password": None}).encode(),
            json.dumps({"username": "a\u0000b", "password": "x"}).encode(),
            b'{"username": "\\ud83d", "password": "\\ud83d"}',
            json.dumps({"username": "x" * 3000, "password": "y"}).encode(),
        ])
    return method, raw(target), headers, body


async def http_request(port: int, method: str, target: bytes, headers: list, body: bytes) -> int | None:
    """One request over a fresh connection, written byte for byte; the response status (None: no answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close",
                b"Content-Length: " + str(len(body)).encode()]
        head += [name + b": " + value for name, value in headers]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 20)
        parts = status_line.split()
        await asyncio.wait_for(reader.read(), 20)  # the rest, until the server closes
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    finally:
        writer.close()


async def fuzz_http(port: int, cases: list, tally: Tally) -> None:
    queue = list(cases)

    async def worker():
        while queue:
            method, target, headers, body = queue.pop()
            try:
                status = await http_request(port, method, target, headers, body)
            except (OSError, asyncio.TimeoutError) as error:
                status = None
                tally.http_failures.append((method, target[:80], repr(error)))
            tally.cases += 1
            if status is None or status >= 500:
                tally.http_failures.append((method, target[:120], status))
            else:
                tally.http[status] = tally.http.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(HTTP_PARALLEL)))


def app_routes(tmp_path) -> list[tuple[str, set[str]]]:
    """Every route the app has, read from its router (so a new route is fuzzed without editing this test)."""
    from handoff.app import create_app
    from handoff.settings import Settings

    app = create_app(Settings.from_env({"CROSSDESK_VAR_DIR": str(tmp_path)}), bot=SimpleNamespace())
    routes = [(route.path, set(route.methods)) for route in app.router.routes]
    app.ctx.store.close()
    return routes


# -- the test ------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_server(model_path, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("fuzz")
    for name in ("fuzzer", "target", "reader"):
        add_agent(var_dir, name, "fuzz-password")
    process = ServerProcess(var_dir, model_path).start()
    yield process
    process.stop()


async def well_behaved_shopper(url: str, done: asyncio.Event) -> dict:
    """Talks to the bot the whole time; returns what it sent and got."""
    shopper = Shopper(url)
    await shopper.connect()
    acks, replies, sent = [], 0, []
    for turn in range(GOOD_TURNS):
        message_id = f"good-{turn}"
        sent.append(message_id)
        acks.append(await shopper.say(GOOD_MESSAGES[turn % len(GOOD_MESSAGES)], message_id=message_id))
        await asyncio.sleep(0.4)
    await done.wait()
    deadline = time.monotonic() + 60
    while replies < GOOD_TURNS and time.monotonic() < deadline:
        try:
            await shopper.expect("bot_uttered", timeout=max(0.1, deadline - time.monotonic()))
            replies += 1
        except (TimeoutError, asyncio.TimeoutError):
            break
    session_id = shopper.session_id
    await shopper.close()
    again = Shopper(url)
    await again.connect(session_id)
    _, history = await again.expect("crossdesk:history")
    await again.close()
    return {"acks": acks, "replies": replies, "sent": sent, "history": history["messages"]}


async def test_fuzzing_every_event_and_route_leaves_the_server_alive_answering_and_the_shopper_unharmed(
        fuzz_server, tmp_path):
    rng = random.Random(SEED)
    url = fuzz_server.url
    routes = app_routes(tmp_path)
    tokens = {name: login(url, name, "fuzz-password")[1]["token"] for name in ("fuzzer", "target", "reader")}
    shoppers = [Shopper(url) for _ in range(SHOPPER_SOCKETS)]
    for shopper in shoppers:
        await shopper.connect()
    agents = [AgentClient(url, tokens["fuzzer"]) for _ in range(AGENT_SOCKETS)]
    hello = [await agent.connect() for agent in agents][0]
    target = AgentClient(url, tokens["target"])
    target_hello = await target.connect()
    # The fuzzers act on their own sessions and on made-up ids, never on the well-behaved shopper's.
    ids = [s.session_id for s in shoppers] + ["f" * 32, "0" * 16, "A" * 64]
    agent_ids = [hello["agent"]["id"], target_hello["agent"]["id"], 999_999, 1]
    http_cases = [http_case(rng, routes, tokens["reader"], ids) for _ in range(HTTP_CASES)]

    tally = Tally()
    done = asyncio.Event()
    good = asyncio.ensure_future(well_behaved_shopper(url, done))
    started = time.monotonic()
    await asyncio.gather(
        fuzz_sockets(shoppers, "/", SHOPPER_EVENTS, SHOPPER_CASES, random.Random(SEED + 1), ids, agent_ids, tally),
        fuzz_sockets(agents, "/agent", AGENT_EVENTS, AGENT_CASES, random.Random(SEED + 2), ids, agent_ids, tally),
        fuzz_http(fuzz_server.port, http_cases, tally),
        fuzz_raw_frames(url, tally),
    )
    fuzz_seconds = time.monotonic() - started
    done.set()
    outcome = await good
    await asyncio.sleep(1)  # the last crossdesk:error events are in flight behind their acks

    errors_sent = sum(tally.refused.values())
    errors_received = 0
    for client in shoppers + agents:
        while not client.events.empty():
            name, _ = client.events.get_nowait()
            errors_received += name == "crossdesk:error"
        await client.close()
    await target.close()
    print(f"\nfuzz: {tally.cases} cases in {fuzz_seconds:.1f} s; accepted {tally.accepted}; "
          f"refused {errors_sent} {dict(sorted(tally.refused.items()))}; typing dropped {tally.dropped_typing}; HTTP {dict(sorted(tally.http.items()))}")

    assert tally.cases >= 2000
    assert fuzz_server.process.poll() is None, "the server died"
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        assert response.status == 200
    assert not tally.silences, f"events that got no answer: {tally.silences[:5]}"
    assert not tally.bad_answers, f"undocumented answers: {tally.bad_answers[:5]}"
    assert SOCKET_CODES <= documented_codes(), f"undocumented codes: {SOCKET_CODES - documented_codes()}"
    assert errors_received == errors_sent, "every refused event also gets crossdesk:error"
    assert not tally.http_failures, f"HTTP 5xx or no answer: {tally.http_failures[:5]}"
    assert {"unknown_event", "reserved_event", "invalid_event", "invalid_metadata", "invalid_payload",
            "invalid_agent_id", "invalid_outcome"} <= set(tally.refused)

    assert all(ack["ok"] and not ack["duplicate"] for ack in outcome["acks"]), outcome["acks"]
    stored = [m["message_id"] for m in outcome["history"] if m["sender"] == "shopper"]
    assert stored == outcome["sent"], "every message of the well-behaved shopper is stored, in order"
    assert outcome["replies"] >= GOOD_TURNS, "and answered"
    assert sum(m["sender"] == "bot" for m in outcome["history"]) >= GOOD_TURNS

    log = fuzz_server.log()
    assert log.count("Traceback") == 0, log[log.find("Traceback") - 300:][:3000]
    # One INFO line per refused event (Rasa's RepeatedLogFilter drops a line identical to the one before it,
    # so a socket repeating the same mistake back to back is logged once).
    logged = re.findall(r"INFO handoff\.namespaces: refused .* from \S+: ([a-z_]+)$", log, re.MULTILINE)
    for code, count in tally.refused.items():
        assert 1 <= logged.count(code) <= count, (code, logged.count(code), count)
    assert len(logged) <= errors_sent
    errors = re.findall(r"^.*\bERROR\b.*$", log, re.MULTILINE)
    assert not errors, errors[:10]

"""Floods over real sockets against the real server: limits, bounded bot work, coalesced pushes, fast shutdown."""

import asyncio
import json
import time
import urllib.request

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

# Questions the bot answers (no handoff trigger among them, none out of scope).
QUESTIONS = ["hi", "how long does shipping to Germany take?", "how much is shipping to Canada",
             "do I have to pay customs duties in Australia?", "can I pay with PayPal?",
             "what is your return policy", "thanks!"]
FLOOD_SECONDS = 3
FLOOD_MAX = 6000
SHUTDOWN_SECONDS = 10  # the drain is 3 s by default; the rest is Sanic closing and the bot thread stopping
SMALL_LIMITS = {  # a server where limits are reached in a few messages
    "CROSSDESK_SOCKET_MESSAGE_BURST": "5", "CROSSDESK_SOCKET_MESSAGE_RATE": "1",
    "CROSSDESK_IP_MESSAGE_BURST": "30", "CROSSDESK_IP_MESSAGE_RATE": "0.001",
    "CROSSDESK_TRUSTED_PROXIES": "127.0.0.1", "CROSSDESK_MAX_PENDING_PER_CONVERSATION": "1",
}


def accounts(server) -> None:
    """An agent (on the queue) and an admin: agents may read only the queue's and their own conversations."""
    add_agent(server.var_dir, "mika", "mika-password-1")
    server.token = login(server.url, "mika", "mika-password-1")[1]["token"]
    add_agent(server.var_dir, "ada", "ada-password-1", role="admin")
    server.admin_token = login(server.url, "ada", "ada-password-1")[1]["token"]


@pytest.fixture(scope="module")
def default_server(model_path, tmp_path_factory):
    """A server with the default limits, an agent's token and an admin's (who may read any transcript)."""
    server = ServerProcess(tmp_path_factory.mktemp("flood-var"), model_path).start()
    accounts(server)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_server(model_path, tmp_path_factory):
    """A server with small limits, behind a trusted proxy on 127.0.0.1, an agent's token and an admin's."""
    server = ServerProcess(tmp_path_factory.mktemp("limits-var"), model_path, env=SMALL_LIMITS).start()
    accounts(server)
    yield server
    server.stop()


async def shopper_from(url: str, address: str = "", session_id=None) -> Shopper:
    """A connected shopper whose proxy says it comes from ``address``."""
    shopper = Shopper(url)
    headers = {"X-Forwarded-For": address} if address else {}
    await shopper.client.connect(url, headers=headers, transports=["websocket"])
    await shopper.client.emit("session_request", {"session_id": session_id})
    _, shopper.session_id = await shopper.expect("session_confirm")
    return shopper


async def history(url: str, session_id: str) -> list[dict]:
    """The stored transcript, as a reconnecting shopper gets it."""
    again = Shopper(url)
    await again.connect(session_id=session_id)
    _, replay = await again.expect("crossdesk:history")
    await again.close()
    return replay["messages"]


def bundle(server, session_id: str) -> dict:
    """What an admin sees of a conversation (shopper messages carry the intent once the bot handled them)."""
    request = urllib.request.Request(f"{server.url}/api/conversations/{session_id}",
                                     headers={"Authorization": f"Bearer {server.admin_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def answered(server, session_id: str, count: int, timeout: float = 90) -> list[dict]:
    """The transcript once the bot has handled ``count`` shopper messages (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        transcript = (await asyncio.to_thread(bundle, server, session_id))["transcript"]
        handled = [m for m in transcript if m["sender"] == "shopper" and m["intent"]]
        if len(handled) >= count or time.monotonic() > deadline:
            return transcript
        await asyncio.sleep(0.5)


async def flood(url: str, seconds: float) -> tuple[Shopper, dict[str, dict]]:
    """One socket sending ``user_uttered`` as fast as it can for ``seconds`` (at most FLOOD_MAX), ignoring every
    refusal, until the server disconnects it; the acks it got, by text."""
    flooder = Shopper(url)
    gone = asyncio.Event()
    flooder.client.on("disconnect", gone.set)
    await flooder.connect()
    acks: dict[str, dict] = {}
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline and sent < FLOOD_MAX and not gone.is_set():
        text = f"flood {sent} where is my parcel"

        def record(ack=None, text=text):
            acks[text] = ack

        await flooder.client.emit("user_uttered", {"message": text, "session_id": flooder.session_id,
                                                   "message_id": f"flood-{sent}"}, callback=record)
        sent += 1
        await asyncio.sleep(0)  # let the well-behaved shoppers of this process send too
    # Refused events are read slowly, then the socket is cut off: 50 refusals (+1/s) at ~10 a second.
    await asyncio.wait_for(gone.wait(), 60)
    return flooder, acks


async def well_behaved(shopper: Shopper, index: int, done: asyncio.Event) -> list[str]:
    """Until ``done``: a message, its answer, ~300 ms, the next. Every one must be acknowledged as stored."""
    texts = []
    while not done.is_set() and len(texts) < 200:
        text = QUESTIONS[(index + len(texts)) % len(QUESTIONS)]
        ack = await shopper.say(text, message_id=f"calm-{index}-{len(texts)}")
        assert ack["ok"] and not ack["duplicate"], ack
        texts.append(text)
        await shopper.expect("bot_uttered", timeout=60)
        await asyncio.sleep(0.3)
    return texts


async def test_a_flooding_socket_is_throttled_while_every_message_of_shoppers_beside_it_is_stored_and_answered(
        default_server):
    server = default_server
    shoppers = [Shopper(server.url) for _ in range(5)]
    for shopper in shoppers:
        await shopper.connect()
    done = asyncio.Event()

    async def flooding():
        try:
            return await flood(server.url, FLOOD_SECONDS)
        finally:
            done.set()

    started = time.monotonic()
    (flooder, acks), *calm = await asyncio.gather(
        flooding(), *(well_behaved(s, i, done) for i, s in enumerate(shoppers)))
    took = time.monotonic() - started

    accepted = [text for text, ack in acks.items() if ack["ok"]]
    refused = [ack for ack in acks.values() if not ack["ok"]]
    limited = [ack for ack in refused if ack["error"] == "rate_limited"]
    assert len(refused) >= 50 and len(limited) >= 10, f"{len(acks)} acks, {len(limited)} rate limited"
    assert all(ack["error"] in ("rate_limited", "busy") and ack["retry_after"] > 0 for ack in refused)
    assert "too many messages" in limited[0]["message"]
    # The default burst (20) and rate (2/s): what one socket gets through while it floods.
    assert len(accepted) <= 20 + 2 * took
    _, error = await flooder.expect("crossdesk:error", where=lambda e: e["code"] == "rate_limited")
    assert error["event"] == "user_uttered" and error["retry_after"] > 0
    await asyncio.sleep(1)  # what it left in the buffers is dropped, not stored
    stored = [m["text"] for m in await history(server.url, flooder.session_id) if m["sender"] == "shopper"]
    assert stored == accepted  # refused messages were not stored

    for shopper, texts in zip(shoppers, calm):
        assert len(texts) >= 3
        transcript = await answered(server, shopper.session_id, len(texts))
        said = [m for m in transcript if m["sender"] == "shopper"]
        assert [m["text"] for m in said] == texts  # every message stored, in order
        assert all(m["intent"] for m in said), "a well-behaved message was not handled by the bot"
        assert sum(m["sender"] == "bot" for m in transcript) >= len(texts)  # and answered
        assert [m["text"] for m in await history(server.url, shopper.session_id)
                if m["sender"] == "shopper"] == texts
        await shopper.close()


async def handed_off(server) -> Shopper:
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask("I want to talk to a real person")
    return shopper


async def test_messages_of_a_waiting_conversation_push_the_queue_a_few_times_ending_with_the_latest(
        default_server):
    agent = AgentClient(default_server.url, default_server.token)
    await agent.connect()
    shopper = await handed_off(default_server)
    await agent.expect("agent:queue", where=lambda q: any(e["conversation_id"] == shopper.session_id
                                                           for e in q["queue"]))
    await asyncio.sleep(0.5)
    while not agent.events.empty():
        agent.events.get_nowait()
    texts = [f"are you there? ({i})" for i in range(15)]
    acks = await asyncio.gather(*(shopper.say(text, message_id=f"wait-{i}") for i, text in enumerate(texts)))
    assert all(ack["ok"] for ack in acks)
    await asyncio.sleep(1.5)
    pushes = []
    while not agent.events.empty():
        name, data = agent.events.get_nowait()
        if name == "agent:queue":
            pushes.append(data)
    assert 1 <= len(pushes) <= 5, f"{len(pushes)} queue pushes for {len(texts)} messages"
    entry = next(e for e in pushes[-1]["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["last_message"] == texts[-1]
    await shopper.close()
    await agent.close()


async def test_a_typing_flood_reaches_the_agent_only_up_to_the_typing_limit(default_server):
    agent = AgentClient(default_server.url, default_server.token)
    await agent.connect()
    shopper = await handed_off(default_server)
    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"], claimed
    started = time.monotonic()
    acks = [await shopper.client.call("crossdesk:typing", {"typing": i % 2 == 0}, timeout=10) for i in range(60)]
    took = time.monotonic() - started
    dropped = [ack for ack in acks if not ack["ok"]]
    assert dropped and all(ack["error"] == "rate_limited" and ack["retry_after"] > 0 for ack in dropped)
    await asyncio.sleep(1)
    relayed = 0
    while not agent.events.empty():
        relayed += agent.events.get_nowait()[0] == "agent:shopper_typing"
    assert 1 <= relayed <= 10 + 2 * took + 1  # the default burst, plus what the rate (2/s) refills meanwhile
    assert (await shopper.say("still there?"))["ok"]  # typing does not use up the message budget
    await shopper.close()
    await agent.close()


async def test_one_client_address_is_limited_across_its_sockets_and_a_trusted_proxy_names_it(small_server):
    outcomes = []
    for _ in range(8):  # 8 sockets x 4 messages from one address allowed 30 messages at once
        shopper = await shopper_from(small_server.url, "203.0.113.7")
        for turn in range(4):
            ack = await shopper.say(QUESTIONS[turn])
            outcomes.append(ack)
            if ack["ok"]:
                await shopper.expect("bot_uttered")  # one message at a time per conversation
        await shopper.close()
    assert sum(ack["ok"] for ack in outcomes) == 30
    refused = [ack for ack in outcomes if not ack["ok"]]
    assert [ack["error"] for ack in refused] == ["rate_limited"] * 2
    assert "your network" in refused[0]["message"]
    neighbour = await shopper_from(small_server.url, "203.0.113.8")  # another client behind the same proxy
    assert (await neighbour.ask("hi"))["text"]
    await neighbour.close()


async def test_a_conversation_with_a_full_bot_queue_refuses_with_busy_and_takes_the_message_when_resent(
        small_server):
    shopper = await shopper_from(small_server.url, "198.51.100.50")
    texts = QUESTIONS[1:5]
    acks = await asyncio.gather(*(shopper.say(text, message_id=f"busy-{i}") for i, text in enumerate(texts)))
    busy = [i for i, ack in enumerate(acks) if not ack["ok"]]
    assert busy, "four messages at once to a conversation allowed one waiting message were all taken"
    assert all(acks[i]["error"] == "busy" and acks[i]["retry_after"] > 0 for i in busy)
    stored = [m["text"] for m in await history(small_server.url, shopper.session_id) if m["sender"] == "shopper"]
    assert stored == [t for i, t in enumerate(texts) if i not in busy]
    for i in busy:  # what a client does: send it again after retry_after, until it is taken
        for _ in range(30):
            ack = await shopper.say(texts[i], message_id=f"busy-{i}")
            if ack["ok"]:
                break
            assert ack["error"] in ("busy", "rate_limited")
            await asyncio.sleep(ack["retry_after"])
        assert ack["ok"], ack
    transcript = await answered(small_server, shopper.session_id, len(texts))
    said = [m for m in transcript if m["sender"] == "shopper"]
    assert sorted(m["text"] for m in said) == sorted(texts) and all(m["intent"] for m in said)
    await shopper.close()


@needs_chromium
async def test_the_widget_resends_refused_messages_after_retry_after_and_loses_none(small_server):
    texts = [f"{QUESTIONS[i % len(QUESTIONS)]} ({i})" for i in range(8)]
    async with chromium() as browser:
        page = await open_page(await browser.new_context(locale="en-US"), small_server.url + "/")
        await page.locator(f"{WIDGET} button.launcher").click()
        box = page.locator(f"{WIDGET} textarea")
        for text in texts:  # faster than the server takes them (5 at once, then 1/s; 1 waiting for the bot)
            await box.fill(text)
            await box.press("Enter")
        retrying = page.locator(f"{WIDGET} .msg.shopper.pending .meta", has_text="sending again")
        await retrying.first.wait_for(timeout=10000)
        pending = page.locator(f"{WIDGET} .msg.shopper.pending")
        for _ in range(600):
            if await pending.count() == 0:
                break
            await asyncio.sleep(0.1)
        assert await pending.count() == 0
        assert await page.locator(f"{WIDGET} .msg.shopper.failed").count() == 0
        session_id = await page.evaluate("() => JSON.parse(localStorage.getItem('crossdesk.session'))")
        assert page.errors == []
    stored = [m["text"] for m in await history(small_server.url, session_id) if m["sender"] == "shopper"]
    assert stored == texts  # each once, in order


async def test_sigterm_during_a_flood_stops_the_server_within_seconds_and_keeps_every_acknowledged_message(
        model_path, tmp_path):
    # Limits off: the worst case, thousands of bot answers queued when the signal comes. A 1 s drain: at
    # 6-7 ms a reply a quiet machine answered most of the flood within the default 3 s, so the flood did not
    # outlast the drain and the test proved nothing (CI, session 11).
    unlimited = {"CROSSDESK_SOCKET_MESSAGE_RATE": "0", "CROSSDESK_IP_MESSAGE_RATE": "0",
                 "CROSSDESK_MAX_PENDING_PER_CONVERSATION": "0", "CROSSDESK_SHUTDOWN_DRAIN_SECONDS": "1"}
    server = ServerProcess(tmp_path / "var", model_path, env=unlimited).start()
    try:
        shoppers = [Shopper(server.url) for _ in range(4)]
        for shopper in shoppers:
            await shopper.connect()
        acked: dict[str, list[str]] = {}
        for shopper in shoppers:
            texts = [f"{QUESTIONS[i % len(QUESTIONS)]} #{i}" for i in range(300)]
            acks = await asyncio.gather(*(shopper.say(text, message_id=f"m{i}") for i, text in enumerate(texts)))
            assert all(ack["ok"] for ack in acks)
            acked[shopper.session_id] = texts
        started = time.monotonic()
        server.process.terminate()
        server.process.wait(60)
        took = time.monotonic() - started
        for shopper in shoppers:
            await shopper.close()
    finally:
        server.kill()
    print(f"SIGTERM with 1,200 messages acknowledged: exited in {took:.1f} s")
    assert took < SHUTDOWN_SECONDS, f"exit took {took:.1f} s"
    assert "left for after the restart" in server.log()  # the flood really outlasted the drain

    again = ServerProcess(tmp_path / "var", model_path).start()
    try:
        for session_id, texts in acked.items():
            stored = [m["text"] for m in await history(again.url, session_id) if m["sender"] == "shopper"]
            assert stored == texts
    finally:
        again.stop()

"""rasa-webchat 1.0.1 (the usual Rasa web widget, from npm) on a storefront of another origin, against Crossdesk.

rasa-webchat renders a bot message only when its keys are exactly Rasa's
(``{text}``, ``{text, quick_replies}``, ``{attachment}``...): the server must
send those shapes to a socket that did not opt in to Crossdesk's extensions.
"""

import asyncio
import contextlib
import http.server
import json
import threading

import pytest

from tests.browser import chromium, needs_chromium, open_page, screenshot
from tests.npm_packages import RASA_WEBCHAT, needs_npm_file, npm_file
from tests.support import AgentClient, add_agent, login

pytestmark = [needs_chromium, needs_npm_file(RASA_WEBCHAT)]
LAUNCHER = ".rw-launcher"
INPUT = ".rw-new-message"
BOT = ".rw-response"


@contextlib.contextmanager
def static_site(files: dict):
    """A small HTTP server on a free loopback port serving ``{path: (content type, bytes)}``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            found = files.get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()


def storefront(socket_url: str) -> bytes:
    """A shop page embedding rasa-webchat's published bundle with its documented 1.0.x init call."""
    options = {"socketUrl": socket_url, "socketPath": "/socket.io/", "customData": {"language": "en"},
               "title": "Shop help", "params": {"storage": "session"}}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example shop</title></head>
<body><main><h1>Example shop</h1><p>Winter jackets, shipped worldwide.</p></main>
<script src="/vendor/rasa-webchat.js"></script>
<script>
  // Messages show 0.1 s apart instead of up to 3 s: the widget's documented customMessageDelay.
  window.WebChat.default(Object.assign({json.dumps(options)}, {{customMessageDelay: () => 100}}), null);
</script>
</body></html>""".encode()


@pytest.fixture
def shop(server):
    files = {"/": ("text/html; charset=utf-8", storefront(server.url)),
             "/vendor/rasa-webchat.js": ("text/javascript", npm_file(RASA_WEBCHAT).read_bytes())}
    with static_site(files) as url:
        assert url != server.url
        yield url


async def say(page, text: str) -> None:
    box = page.locator(INPUT)
    await box.fill(text)
    await box.press("Enter")


async def bot_says(page, text: str, timeout: float = 30) -> str:
    """The first rasa-webchat bot bubble containing ``text`` (waits for it to render)."""
    bubble = page.locator(BOT, has_text=text).first
    try:
        await bubble.wait_for(timeout=timeout * 1000)
    except Exception:
        shown = await page.locator(BOT).all_inner_texts()
        raise AssertionError(f"rasa-webchat shows no bot message with {text!r}; it shows {shown}") from None
    return await bubble.inner_text()


async def session_id(page) -> str:
    """The session rasa-webchat was confirmed (it keeps it in the storage chosen by params.storage)."""
    for _ in range(100):
        stored = await page.evaluate("sessionStorage.getItem('chat_session')")
        if stored and json.loads(stored).get("session_id"):
            return json.loads(stored)["session_id"]
        await asyncio.sleep(0.1)
    raise AssertionError("rasa-webchat stored no session")


async def claim_when_queued(agent: AgentClient, conversation_id: str) -> str:
    """The agent claims the conversation once the shopper's request for a human queued it."""
    await agent.expect("agent:queue", where=lambda data: any(
        entry["conversation_id"] == conversation_id for entry in data["queue"]))
    claimed = await agent.call("claim", {"conversation_id": conversation_id})
    assert claimed["ok"], claimed
    return conversation_id


async def test_rasa_webchat_renders_bot_answers_quick_replies_and_an_agents_reply(server, shop):
    add_agent(server.var_dir, "rin", "rin-password-1", languages="en")
    agent = AgentClient(server.url, login(server.url, "rin", "rin-password-1")[1]["token"])
    await agent.connect()
    try:
        async with chromium() as browser:
            page = await open_page(await browser.new_context(locale="en-US"), shop + "/")
            await page.locator(LAUNCHER).click()
            await say(page, "how long does shipping to Germany take?")
            assert "business days" in await bot_says(page, "Germany")

            await say(page, "hello")
            replies = page.locator(".rw-replies .rw-reply")
            await replies.first.wait_for(timeout=30000)
            assert await replies.all_inner_texts() == ["Shipping time", "Customs & duties", "Payment methods"]
            shown = await page.locator(BOT).count()
            await replies.nth(2).click()
            await page.locator(BOT).nth(shown).wait_for(timeout=30000)  # the answer to the quick reply

            await say(page, "talk to a human")
            await bot_says(page, "you're in the queue")  # a system message: an agent is online
            conversation_id = await claim_when_queued(agent, await session_id(page))
            await bot_says(page, "Rin")  # "Rin joined the conversation": a system message
            await agent.call("send", {"conversation_id": conversation_id, "text": "Hi, Rin from the shop here."})
            assert await bot_says(page, "Rin from the shop") == "Hi, Rin from the shop here."
            assert page.errors == []
            await screenshot(page, "rasa-webchat-handoff")
    finally:
        await agent.close()

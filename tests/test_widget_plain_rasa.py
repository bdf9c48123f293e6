"""The widget against Rasa's own socket.io channel (``rasa run``), without Crossdesk's extensions."""

import asyncio
import time
import urllib.request

import pytest

from harness.processes import start_plain_rasa, stop
from tests.browser import WIDGET, chromium, needs_chromium
from tests.support import ROOT, free_port

pytestmark = needs_chromium


def wait_serving(url: str, timeout: float = 240) -> None:
    """Until ``rasa run`` answers HTTP (it loads the model before it serves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if b"Rasa" in response.read():
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("rasa run did not start")


@pytest.fixture(scope="module")
def plain_rasa(model_path, tmp_path_factory):
    port = free_port()
    processes = start_plain_rasa(model_path, tmp_path_factory.mktemp("rasa"), port)
    try:
        wait_serving(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(processes)


async def serve_shop_from(page, origin: str) -> None:
    """Rasa serves no files: the browser gets the shop page and the widget as if from Rasa's origin."""
    files = {"/shop.html": ("text/html", b'<!doctype html><meta charset="utf-8"><title>shop</title>'
                                         b'<script src="/widget/crossdesk.js" defer></script>'),
             "/widget/crossdesk.js": ("text/javascript", (ROOT / "widget" / "crossdesk.js").read_bytes()),
             "/widget/vendor/socket.io.min.js": ("text/javascript",
                                                 (ROOT / "widget" / "vendor" / "socket.io.min.js").read_bytes())}
    for path, (kind, body) in files.items():
        await page.route(origin + path, lambda route, kind=kind, body=body: route.fulfill(
            status=200, content_type=kind, body=body))


async def test_widget_talks_to_plain_rasa(plain_rasa):
    # The page is fulfilled by the test, not fetched from 127.0.0.1, so Chromium would count it as a
    # public page and block its sockets to a loopback address (Local Network Access).
    async with chromium("--disable-features=LocalNetworkAccessChecks") as browser:
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        await serve_shop_from(page, plain_rasa)
        await page.goto(plain_rasa + "/shop.html")
        await page.locator(f"{WIDGET} button.launcher").click()
        box = page.locator(f"{WIDGET} textarea")
        await box.fill("how long does shipping to Germany take?")
        await box.press("Enter")
        answer = page.locator(f"{WIDGET} .msg.bot .bubble").first
        await answer.wait_for(timeout=60000)
        assert "Germany" in await answer.inner_text()
        for _ in range(50):  # without Crossdesk's acks the message still leaves the outbox
            if await page.locator(f"{WIDGET} .msg.shopper.pending").count() == 0:
                break
            await asyncio.sleep(0.1)
        assert await page.locator(f"{WIDGET} .msg.shopper.pending").count() == 0
        assert page.errors == []

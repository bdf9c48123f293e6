"""After the chat, in real Chromium: CSAT, photos and files, business-hours notices (and axe on each new state)."""

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from handoff.business_hours import local_when
from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.support import AgentClient, ServerProcess, add_agent, login
from tests.test_accessibility_browser import assert_accessible
from tests.test_attachments import HTML, SVG, png

pytestmark = needs_chromium
NOW = dt.datetime.now(dt.timezone.utc)
OPENS = (NOW + dt.timedelta(hours=3)).replace(second=0, microsecond=0)  # closed now, open in 3 hours, every day
HOURS = f"Mon-Sun {OPENS:%H:%M}-{OPENS + dt.timedelta(minutes=30):%H:%M} UTC"


@pytest.fixture(scope="module")
def after_chat(model_path, tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("after-chat"), model_path,
                           env={"CROSSDESK_BUSINESS_HOURS": HOURS}).start()
    add_agent(server.var_dir, "nao", "nao-password-1", languages="en,ja,fr")
    yield server
    server.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def widget(browser, server, locale: str, timezone: str = "UTC"):
    context = await browser.new_context(locale=locale, timezone_id=timezone, bypass_csp=True)
    page = await open_page(context, server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    return page


async def test_csat_is_asked_after_resolve_in_french_and_stored(browser, after_chat):
    page = await widget(browser, after_chat, "fr-FR")
    await send(page, "bonjour")
    await page.locator(f"{WIDGET} .msg.bot").first.wait_for(timeout=30000)
    session_id = await session_of(page)
    agent = AgentClient(after_chat.url, login(after_chat.url, "nao", "nao-password-1")[1]["token"])
    await agent.connect()
    assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]
    assert (await agent.call("resolve", {"conversation_id": session_id}))["ok"]
    form = page.locator(f"{WIDGET} form.rating")
    await form.wait_for(timeout=15000)
    assert "de 1 (mauvaise) à 5 (excellente)" in await form.locator("legend").inner_text()
    await assert_accessible(page)
    await screenshot(page, "widget-csat")
    await form.locator("label.score").nth(3).click()  # 4
    await form.locator("textarea").fill("Rapide et aimable")
    await form.locator("button[type=submit]").click()
    await page.locator(f"{WIDGET} .msg.system", has_text="Merci pour votre avis").wait_for(timeout=10000)
    with sqlite3.connect(after_chat.var_dir / "crossdesk.db") as db:
        rows = db.execute("SELECT rating, comment, language, agent_id FROM ratings WHERE conversation_id = ?",
                          (session_id,)).fetchall()
    assert rows == [(4, "Rapide et aimable", "fr", 1)]
    await agent.close()


async def test_a_photo_from_the_widget_shows_as_a_thumbnail_in_the_console_and_disguised_files_are_refused(
        browser, after_chat):
    shop = await widget(browser, after_chat, "en-US")
    await send(shop, "I want to talk to a real person")
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=30000)
    session_id = await session_of(shop)
    context = await browser.new_context(locale="en-US", bypass_csp=True)  # (for axe's injected script)
    agent = await open_page(context, after_chat.url + "/console")
    await agent.fill("#login-form [name=username]", "nao")
    await agent.fill("#login-form [name=password]", "nao-password-1")
    await agent.click("#login-form button[type=submit]")
    await agent.locator(f"#queue li[data-id='{session_id}'] button.claim").click(timeout=15000)
    view = agent.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for()

    picker = shop.locator(f"{WIDGET} input[type=file]").first
    await picker.set_input_files({"name": "parcel.png", "mimeType": "image/png", "buffer": png()})
    photo = shop.locator(f"{WIDGET} .msg.shopper a.file img")
    await photo.wait_for(timeout=15000)
    assert await photo.evaluate("img => img.complete && img.naturalWidth === 320")
    assert await photo.get_attribute("alt") == "parcel.png"
    await assert_accessible(shop)

    thumbnail = view.locator(".msg.shopper a.file img")
    await thumbnail.wait_for(timeout=15000)
    await agent.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=await thumbnail.element_handle())
    await screenshot(agent, "console-attachment")
    await assert_accessible(agent)
    href = await view.locator(".msg.shopper a.file").get_attribute("href")
    download = await context.request.get(after_chat.url + href)  # the agent's login cookie, no key
    assert download.status == 200 and download.headers["content-type"] == "image/png"
    assert await download.body() == png()
    # Another browser (another session, no login) cannot fetch it.
    stranger = await browser.new_context()
    assert (await stranger.request.get(after_chat.url + href)).status == 404

    for name, buffer in (("cat.png", SVG), ("receipt.png", HTML)):
        await picker.set_input_files({"name": name, "mimeType": "image/png", "buffer": buffer})
        await shop.locator(f"{WIDGET} .status.on", has_text="only JPEG, PNG and WebP").wait_for(timeout=10000)
        await shop.evaluate(f"() => document.querySelector('{WIDGET}').shadowRoot.querySelector('.status').textContent = ''")
    assert await shop.locator(f"{WIDGET} .msg.shopper a.file").count() == 1


async def test_out_of_hours_the_shopper_is_told_in_japanese_when_the_team_is_back_in_tokyo_time(browser, after_chat):
    page = await widget(browser, after_chat, "ja-JP", timezone="Asia/Tokyo")
    await send(page, "/request_human")
    notice = page.locator(f"{WIDGET} .msg.system", has_text="営業時間外")
    await notice.wait_for(timeout=30000)
    tokyo = OPENS.astimezone(ZoneInfo("Asia/Tokyo"))
    text = await notice.inner_text()
    assert f"{tokyo.hour}:{tokyo.minute:02d}" in text and f"{tokyo.month}月{tokyo.day}日" in text
    assert local_when(OPENS, "ja", ZoneInfo("Asia/Tokyo")) in text
    await page.locator(f"{WIDGET} form.contact").wait_for(timeout=5000)  # the contact form is offered
    await assert_accessible(page)
    await screenshot(page, "widget-closed-hours")

"""Desk notes in real headless Chromium (issue #19): macros in two languages, notes and tags, customer history.

Agents use the console; shoppers use the storefront's widget (``Crossdesk.setUser`` for identity).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.support import ServerProcess, add_agent, login

pytestmark = needs_chromium
SECRET = "browser-identity-secret"


def sign(customer_id: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("desk-notes-browser"), model_path,
                           env={"CROSSDESK_IDENTITY_SECRET": SECRET, "CROSSDESK_AGENT_MAX_CONVERSATIONS": "20"}).start()
    add_agent(server.var_dir, "mika", "mika-password-1", languages="ja,en")
    yield server
    server.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


def post(server, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(server.url + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


async def console(browser, server, username: str = "mika"):
    page = await open_page(await browser.new_context(locale="en-US", accept_downloads=True), server.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def shopper(browser, server, locale: str, *messages: str, user: dict | None = None):
    """A widget that said ``messages`` (the last one asks for a person); returns (page, session id)."""
    page = await open_page(await browser.new_context(locale=locale), server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    if user:
        await page.evaluate("(user) => window.Crossdesk.setUser(user)", user)
    for index, text in enumerate(messages):
        await send(page, text)
        last = messages[-1] is text
        selector = f"{WIDGET} .msg.system" if last else f"{WIDGET} .msg.bot"
        await page.locator(selector).nth(0 if last else index).wait_for(timeout=30000)
    return page, await session_of(page)


async def claim(page, session_id: str):
    await page.locator(f"#queue li[data-id='{session_id}'] button.claim").click(timeout=30000)
    view = page.locator(f".conversation[data-id='{session_id}']")
    await view.locator(".transcript .msg").first.wait_for()
    return view


async def test_macros_fill_each_conversations_destination_in_its_language(browser, desk):
    token = login(desk.url, "mika", "mika-password-1")[1]["token"]
    post(desk, token, "/api/macros", {"title": "Delivery time", "source_language": "en", "texts": {
        "en": "Delivery to {destination} takes {days_min}-{days_max} business days. Order {order_id}.",
        "ja": "{destination}へのお届けは{days_min}〜{days_max}営業日です。ご注文{order_id}"}})
    ja_shop, ja_id = await shopper(browser, desk, "ja-JP", "ドイツへの配送はどのくらいかかりますか？", "担当者と話したいです")
    en_shop, en_id = await shopper(browser, desk, "en-US", "How long does shipping to the United States take?",
                                   "I want to talk to a real person")
    page = await console(browser, desk)

    view = await claim(page, ja_id)
    reply = view.locator("textarea.reply-text")
    await reply.focus()
    await page.keyboard.press("/")  # "/" in an empty reply box opens the macros
    search = view.locator(".macro-search")
    await search.wait_for()
    assert await search.evaluate("(node) => node === document.activeElement")
    await search.type("delivery")
    option = view.locator(".macro-option[aria-selected=true]")
    await option.filter(has_text="ドイツ").wait_for()
    await search.press("Enter")
    assert await reply.input_value() == "ドイツへのお届けは4〜7営業日です。ご注文{order_id}"
    warning = view.locator(".macro-warning")
    assert "{order_id}" in await warning.inner_text()
    await reply.press("Enter")  # refused: the variable is still unfilled
    await page.locator("#toast.on").wait_for()
    assert "{order_id}" in await page.locator("#toast").inner_text()
    await reply.fill("ドイツへのお届けは4〜7営業日です。ご注文A-10023")
    await reply.press("Enter")
    await ja_shop.locator(f"{WIDGET} .msg.agent").filter(has_text="ドイツへのお届けは4〜7営業日です").wait_for()
    assert "{order_id}" not in await ja_shop.locator(f"{WIDGET} .log").inner_text()
    await screenshot(page, "desk-notes-macro-ja")

    view = await claim(page, en_id)
    await view.locator("textarea.reply-text").focus()
    await page.keyboard.press("Control+k")
    await view.locator(".macro-search").type("deliv")
    await view.locator(".macro-option[aria-selected=true]").filter(has_text="United States").wait_for()
    text = await view.locator(".macro-option[aria-selected=true] .macro-text").inner_text()
    assert text == "Delivery to the United States takes 5-8 business days. Order {order_id}." or \
        text == "Delivery to United States takes 5-8 business days. Order {order_id}.", text
    await view.locator(".macro-search").press("Escape")
    assert await view.locator(".macro-picker").is_hidden()
    assert await view.locator("textarea.reply-text").evaluate("(node) => node === document.activeElement")

    # An agent saves a macro of their own in the panel, finds it, then deletes it.
    await view.locator(".new-macro summary").click()
    form = view.locator(".new-macro form")
    await form.locator("[name=title]").fill("Returns window")
    await form.locator("[name=text]").fill("You can return it within {return_days} days.")
    await form.locator("button[type=submit]").click()
    await view.locator(".own-macros li").filter(has_text="Returns window").wait_for()
    await view.locator("textarea.reply-text").focus()
    await page.keyboard.press("/")
    await view.locator(".macro-search").type("returns win")
    await view.locator(".macro-option[aria-selected=true]").filter(has_text="within 30 days").wait_for()
    await view.locator(".macro-search").press("Escape")
    await view.locator(".own-macros li").filter(has_text="Returns window").locator("button.danger").click()
    await view.locator(".own-macros li").filter(has_text="Returns window").wait_for(state="detached")
    for shop in (ja_shop, en_shop):
        await shop.context.close()
    await page.context.close()


async def test_notes_and_tags_stay_in_the_console_and_filter_the_history(browser, desk):
    shop, session_id = await shopper(browser, desk, "en-US", "hello", "I want to talk to a real person")
    page = await console(browser, desk)
    view = await claim(page, session_id)
    await view.locator(".note-input").fill("Private: asked twice about the voucher")
    await view.locator(".add-note button[type=submit]").click()
    await view.locator(".note-list .note").filter(has_text="asked twice about the voucher").wait_for()
    await view.locator(".tag-input").fill("Voucher Issue")
    await view.locator(".tag-input").press("Enter")
    await view.locator(".tag-chip").filter(has_text="voucher-issue").wait_for()
    await view.locator("textarea.reply-text").fill("Let me check that for you.")
    await view.locator("textarea.reply-text").press("Enter")
    await shop.locator(f"{WIDGET} .msg.agent").filter(has_text="Let me check that for you.").wait_for()
    await shop.reload()  # the history replay: still no note
    await shop.locator(f"{WIDGET} button.launcher").click()
    await shop.locator(f"{WIDGET} .msg.agent").first.wait_for()
    assert "voucher" not in (await shop.locator(f"{WIDGET} .log").inner_text()).lower()

    await page.click("#show-history")
    await page.fill("#search [name=tag]", "voucher-issue")
    await page.click("#search button[type=submit]")
    rows = page.locator("#results tr")
    await rows.first.filter(has_text="voucher-issue").wait_for()
    assert await rows.count() == 1 and await rows.first.get_attribute("data-id") == session_id
    await rows.first.click()  # the history's viewer shows its tags and private notes
    await page.locator("#viewer .desk-summary .note").filter(has_text="asked twice about the voucher").wait_for()
    async with page.expect_download() as download:
        await page.click("#history-csv")
    csv_text = open(await (await download.value).path(), encoding="utf-8").read()
    assert csv_text.splitlines()[0].startswith("conversation_id,") and ",voucher-issue," in csv_text
    await shop.context.close()
    await page.context.close()


async def test_a_verified_customer_shows_the_earlier_conversation_and_a_forged_one_is_unverified(browser, desk):
    user = {"id": "cust-77", "email": "ren@example.com", "name": "Ren"}
    first, first_id = await shopper(browser, desk, "en-US", "hello", "I want to talk to a real person",
                                    user={**user, "hash": sign("cust-77")})
    page = await console(browser, desk)
    await claim(page, first_id)
    await page.locator(f".conversation[data-id='{first_id}'] button.resolve").click()
    await page.locator(f".conversation[data-id='{first_id}']").wait_for(state="detached")

    forged, forged_id = await shopper(browser, desk, "en-US", "hello", "I want to talk to a real person",
                                      user={**user, "hash": sign("cust-77", "not-the-secret")})
    later, later_id = await shopper(browser, desk, "en-US", "hi again", "I want to talk to a real person",
                                    user={**user, "hash": sign("cust-77")})
    view = await claim(page, forged_id)
    await view.locator(".customer .unverified").wait_for()
    assert await view.locator(".customer .earlier").count() == 0
    view = await claim(page, later_id)
    await view.locator(".customer .verified").wait_for()
    link = view.locator(f".customer .earlier a[data-id='{first_id}']")
    await link.wait_for()
    assert "Resolved" in await link.inner_text()  # (its outcome in the agent's language)
    assert await view.locator(f".customer .earlier a[data-id='{forged_id}']").count() == 0
    await screenshot(page, "desk-notes-customer")
    await link.click()  # opens the earlier conversation in the history viewer
    await page.locator("#viewer h3", has_text="(read-only)").wait_for()
    await page.locator("#viewer", has_text=first_id).wait_for()
    for shop in (first, forged, later):
        await shop.context.close()
    await page.context.close()

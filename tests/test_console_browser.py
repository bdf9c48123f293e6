"""The agent console in real headless Chromium, next to a shopper's widget, against the real server."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.support import ServerProcess, add_agent

pytestmark = needs_chromium
INJECTION = '<img src=x onerror=alert(1)><script>alert(2)</script>'


@pytest.fixture(scope="module")
def accounts(model_path, tmp_path_factory):
    """A server of its own (an empty queue) with two agents."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path).start()
    add_agent(server.var_dir, "mei", "mei-password-1", languages="ja,en")
    add_agent(server.var_dir, "tom", "tom-password-1", languages="en")
    yield server
    server.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def console(browser, server, username: str, locale: str = "en-US"):
    context = await browser.new_context(locale=locale, accept_downloads=True)
    page = await open_page(context, server.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def shopper(browser, server, locale: str = "en-US"):
    context = await browser.new_context(locale=locale)
    page = await open_page(context, server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    return page


async def handed_off(browser, server, text: str = "I want to talk to a real person", locale: str = "en-US"):
    page = await shopper(browser, server, locale)
    await send(page, text)
    await page.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=15000)
    return page, await session_of(page)


def http(server, path: str, token=None, method: str = "GET"):
    request = urllib.request.Request(server.url + path, method=method,
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_nothing_in_the_console_api_is_reachable_without_a_valid_login(accounts):
    server = accounts
    for path in ("/api/me", "/api/conversations", "/api/conversations?q=x", "/api/canned?language=ja",
                 "/api/conversations/" + "a" * 32, "/api/conversations/" + "a" * 32 + "/export?format=text"):
        for token in (None, "forged-token-forged-token-forged-token"):
            status, body = http(server, path, token)
            assert status == 401, (path, token, status)
            assert json.loads(body)["error"] == "unauthorized"
    assert http(server, "/api/logout", None, "POST")[0] == 401


async def test_login_page_refuses_bad_passwords_and_logout_revokes_the_token(browser, accounts):
    server = accounts
    context = await browser.new_context(locale="en-US")
    page = await open_page(context, server.url + "/console")
    assert await page.locator("#login").is_visible() and not await page.locator("#app").is_visible()
    await page.fill("#login-form [name=username]", "mei")
    await page.fill("#login-form [name=password]", "wrong-password")
    await page.click("#login-form button[type=submit]")
    await page.locator("#login-error", has_text="Wrong username or password.").wait_for()
    page = await console(browser, server, "mei")
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == "crossdesk_agent")
    assert http(server, "/api/me", token)[0] == 200
    await page.click("#logout")
    await page.locator("#login").wait_for()
    assert http(server, "/api/me", token)[0] == 401


async def test_full_handoff_flow_between_widget_and_console(browser, accounts):
    server = accounts
    agent = await console(browser, server, "mei")
    shop, session_id = await handed_off(browser, server)
    await shop.evaluate(f"Crossdesk.setUser({{name: {json.dumps(INJECTION)}, email: 'x@example.com'}})")
    await send(shop, INJECTION)

    entry = agent.locator(f"#queue li[data-id='{session_id}']")
    await entry.wait_for(timeout=15000)
    assert "talk to a real person" in await entry.inner_text() or INJECTION in await entry.inner_text()
    assert (await agent.title()).startswith("(")
    await entry.locator("button.claim").click()
    view = agent.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for()
    await shop.locator(f"{WIDGET} .msg.system", has_text="Mei").wait_for(timeout=10000)
    transcript = view.locator(".transcript")
    assert INJECTION in await transcript.inner_text()
    context = await view.locator(".context").inner_text()
    assert "request_human" in context and INJECTION in context
    await screenshot(agent, "console-conversation")

    await view.locator("textarea.reply-text").fill("Hi, I'm Mei. How can I help?")
    await view.locator("textarea.reply-text").press("Enter")
    await shop.locator(f"{WIDGET} .msg.agent", has_text="I'm Mei").wait_for(timeout=10000)
    await send(shop, "my parcel never arrived")
    await view.locator(".msg.shopper", has_text="my parcel never arrived").wait_for(timeout=10000)

    await view.locator("select.outcome").select_option("answered")
    await view.locator("button.resolve").click()
    await view.wait_for(state="detached")
    await agent.click("#show-history")
    await agent.fill("#search [name=q]", "parcel never arrived")
    await agent.select_option("#search [name=outcome]", "answered")
    await agent.click("#search button[type=submit]")
    row = agent.locator(f"#results tr[data-id='{session_id}']")
    await row.wait_for()
    await row.click()
    await agent.locator("#viewer .transcript", has_text="my parcel never arrived").wait_for()
    async with agent.expect_download() as download_info:
        await agent.click("#viewer button.export-text")
    text = (await (await download_info.value).path()).read_text()
    assert "my parcel never arrived" in text and "agent Mei: Hi, I'm Mei" in text
    async with agent.expect_download() as download_info:
        await agent.click("#viewer button.export-json")
    exported = json.loads((await (await download_info.value).path()).read_text())
    assert exported["conversation_id"] == session_id and exported["state"] == "resolved"
    await screenshot(agent, "console-history")
    assert agent.dialogs == [] and shop.dialogs == []
    assert await agent.locator("img").count() == 0


async def test_two_agents_racing_to_claim_exactly_one_wins(browser, accounts):
    server = accounts
    mei = await console(browser, server, "mei")
    tom = await console(browser, server, "tom")
    _, session_id = await handed_off(browser, server, "I need to speak to a human agent")
    buttons = []
    for page in (mei, tom):
        entry = page.locator(f"#queue li[data-id='{session_id}'] button.claim")
        await entry.wait_for(timeout=15000)
        buttons.append(await entry.element_handle())
    # Both clicks at once: the loser's button may already be leaving its queue when its click lands
    # (Playwright's pointer click would then wait for it forever), so the clicks are dispatched directly.
    await asyncio.gather(*(button.evaluate("b => b.click()") for button in buttons))
    await asyncio.sleep(1.5)
    opened = [await page.locator(f".conversation[data-id='{session_id}']").count() for page in (mei, tom)]
    assert sorted(opened) == [0, 1]
    loser = (mei, tom)[opened.index(0)]
    assert "Another agent took it." in await loser.locator("#toast").inner_text()
    winner = (mei, tom)[opened.index(1)]
    await winner.locator(f".conversation[data-id='{session_id}'] button.handback").click()


async def test_reload_mid_conversation_keeps_the_login_and_the_conversation(browser, accounts):
    server = accounts
    agent = await console(browser, server, "mei")
    shop, session_id = await handed_off(browser, server, "can I talk to a person please")
    await agent.locator(f"#queue li[data-id='{session_id}']").wait_for(timeout=15000)
    await agent.keyboard.press("Alt+c")  # claim the longest-waiting conversation
    view = agent.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for(timeout=10000)
    await agent.reload()
    await view.wait_for(timeout=10000)
    assert "can I talk to a person please" in await view.locator(".transcript").inner_text()
    other_shop, other_id = await handed_off(browser, server, "I need a human for my order")
    await agent.locator(f"#queue li[data-id='{other_id}'] button.claim").click()
    other = agent.locator(f".conversation[data-id='{other_id}']")
    await other.wait_for(timeout=10000)
    await agent.keyboard.press("Alt+n")  # next open conversation
    await view.wait_for(timeout=5000)
    assert await other.is_hidden()
    await other.locator("button.handback").evaluate("b => b.click()")
    await view.locator("textarea.reply-text").fill("Still here after a reload")
    await view.locator("textarea.reply-text").press("Enter")
    await shop.locator(f"{WIDGET} .msg.agent", has_text="Still here").wait_for(timeout=10000)
    await view.locator("button.handback").click()


async def test_canned_answers_in_the_shoppers_language_and_japanese_ui(browser, accounts):
    server = accounts
    agent = await console(browser, server, "mei", locale="ja-JP")
    assert await agent.locator("#show-history").inner_text() == "履歴"
    shop, session_id = await handed_off(browser, server, "人と話したいです", locale="ja-JP")
    claim = agent.locator(f"#queue li[data-id='{session_id}'] button.claim")
    await claim.wait_for(timeout=15000)
    assert await claim.inner_text() == "引き受ける"
    await claim.click()
    view = agent.locator(f".conversation[data-id='{session_id}']")
    await view.locator("input.canned-search").fill("返品")
    option = view.locator(".canned button", has_text="30")  # the shop's return window, in Japanese
    await option.wait_for()
    answer = await option.inner_text()
    await option.click()
    reply = view.locator("textarea.reply-text")
    assert await reply.input_value() == answer
    await reply.fill(answer + " ご不明点はお知らせください。")
    await reply.press("Enter")
    await shop.locator(f"{WIDGET} .msg.agent", has_text="ご不明点はお知らせください").wait_for(timeout=10000)
    await screenshot(agent, "console-japanese")
    await view.locator("button.handback").click()

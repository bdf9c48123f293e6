"""The console in the agent's language and on a phone, in real headless Chromium against the real server.

(The tables themselves: tests/test_console_i18n.py; axe-core on these screens: tests/test_accessibility_browser.py.)
"""

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.support import ServerProcess, add_agent

pytestmark = needs_chromium
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory):
    """A server of its own with a Korean-and-English agent and an English one (who works from a phone)."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path).start()
    add_agent(server.var_dir, "kim", "kim-password-1", languages="ko,en")
    add_agent(server.var_dir, "pia", "pia-password-1", languages="en")
    yield server
    server.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def log_in(page, username: str) -> None:
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()


async def handed_off(browser, server, text: str):
    shop = await open_page(await browser.new_context(locale="en-US"), server.url + "/")
    await shop.locator(f"{WIDGET} button.launcher").click()
    await send(shop, text)
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=30000)
    return shop, await session_of(shop)


async def visible_key_names(page) -> list[str]:
    """Visible labels that are a raw key of the console's tables (a missing translation shown as its key)."""
    return await page.evaluate("""() => {
      const keys = new Set();
      for (const parts of Object.values(window.CrossdeskI18n.strings))
        for (const table of Object.values(parts)) Object.keys(table).forEach((key) => keys.add(key));
      return [...document.querySelectorAll("button, h2, h3, th, dt, label, option, a, p")]
        .filter((node) => node.offsetParent !== null && keys.has(node.textContent.trim()))
        .map((node) => node.textContent.trim());
    }""")


async def test_browser_language_then_the_picker_relabels_queue_and_conversation_and_is_remembered(browser, desk):
    page = await open_page(await browser.new_context(locale="de-DE"), desk.url + "/console")
    await log_in(page, "kim")
    assert await page.evaluate("document.documentElement.lang") == "de"
    assert await page.input_value("#ui-language") == "de"
    assert await page.locator("#show-history").inner_text() == "Verlauf"
    shop, session_id = await handed_off(browser, desk, "I want to talk to a real person")
    entry = page.locator(f"#queue li[data-id='{session_id}']")
    await entry.wait_for(timeout=15000)
    assert await entry.locator("button.claim").inner_text() == "Übernehmen"
    assert (await entry.locator(".wait").inner_text()).startswith("wartet seit ")

    # A key no language has falls back to English, never to the key's name.
    await page.evaluate("delete window.CrossdeskI18n.strings.ko.console.history")
    await page.select_option("#ui-language", "ko")
    assert await page.evaluate("document.documentElement.lang") == "ko"
    assert await page.locator("#show-history").inner_text() == "History"
    assert await entry.locator("button.claim").inner_text() == "상담 시작"
    assert (await entry.locator(".wait").inner_text()).endswith(" 대기")
    assert await page.locator("#sidebar h2", has_text="대기 중").count() == 1
    assert await page.get_attribute("#ui-language", "aria-label") == "화면 언어"
    await entry.locator("button.claim").click()
    view = page.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for(timeout=10000)
    assert await view.locator("button.handback").inner_text() == "챗봇에게 돌려주기"
    assert await view.locator("button.send").inner_text() == "보내기"
    assert await view.locator("textarea.reply-text").get_attribute("placeholder") == "고객에게 답장"
    assert await view.locator("button.open-macros").inner_text() == "자주 쓰는 답변 (/)"
    assert "상담 연결 사유" in await view.locator(".context").inner_text()
    assert await view.locator("select.outcome option[value=resolved]").inner_text() == "해결"
    assert await visible_key_names(page) == []
    await screenshot(page, "console-korean")

    await page.reload()  # the choice outlives the browser's German
    await view.wait_for(timeout=10000)
    assert await page.evaluate("document.documentElement.lang") == "ko"
    assert await view.locator("button.send").inner_text() == "보내기"

    await page.select_option("#ui-language", "de")  # an open conversation is relabelled at once
    assert await view.locator("button.handback").inner_text() == "An den Bot zurückgeben"
    assert await view.locator("button.send").inner_text() == "Senden"
    assert await view.locator("button.open-macros").inner_text() == "Textbausteine (/)"
    assert "Grund der Übergabe" in await view.locator(".context").inner_text()
    assert await view.locator("select.outcome option[value=no_reply]").inner_text() == "Keine Antwort"
    assert await page.locator("#search [name=outcome] option[value=refund]").inner_text() == "Erstattung"
    assert await page.locator("#sidebar h2", has_text="Meine Gespräche").count() == 1
    assert await visible_key_names(page) == []
    await view.locator("textarea.reply-text").fill("Hallo, wie kann ich helfen?")
    await view.locator("button.send").click()
    await shop.locator(f"{WIDGET} .msg.agent", has_text="wie kann ich helfen").wait_for(timeout=10000)
    await view.locator("button.handback").click()
    assert page.errors == []


async def box_of(locator) -> dict:
    box = await locator.bounding_box()
    assert box is not None, locator
    return box


async def assert_fits(page, *locators) -> None:
    """No horizontal scrolling, and each element lies on the phone's screen (nothing clipped at the sides)."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for locator in locators:
        box = await box_of(locator)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (locator, box)


async def test_phone_queue_list_opens_the_conversation_full_width_and_a_reply_reaches_the_shopper(browser, desk):
    context = await browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    page = await open_page(context, desk.url + "/console")
    await assert_fits(page, page.locator("#login-form"))
    await log_in(page, "pia")
    long_word = "https://shop.example/orders/" + "x" * 120  # an unbroken string must wrap, not widen the page
    shop, session_id = await handed_off(browser, desk, "I want to talk to a real person about " + long_word)

    claim = page.locator(f"#queue li[data-id='{session_id}'] button.claim")
    await claim.wait_for(timeout=15000)
    assert not await page.locator("#workspace").is_visible()
    await assert_fits(page, page.locator("#queue"), claim, page.locator("#ui-language"))
    assert (await box_of(claim))["height"] >= 44
    await claim.tap()

    view = page.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for(timeout=10000)
    assert not await page.locator("#sidebar").is_visible()
    reply, send_button = view.locator("textarea.reply-text"), view.locator("button.send")
    macros, back = view.locator("button.open-macros"), page.locator("#back")
    await view.locator(".msg.shopper", has_text="x" * 40).wait_for()
    await assert_fits(page, view, view.locator(".transcript"), reply, send_button, macros, back,
                      view.locator("button.handback"), view.locator("button.resolve"))
    assert (await box_of(view))["width"] >= PHONE["width"] - 1  # the conversation has the whole width
    for control in (send_button, macros, back, view.locator("button.handback"), view.locator("button.resolve")):
        assert (await box_of(control))["height"] >= 44, control
    for control in (reply, send_button, macros, back):  # usable without scrolling down first
        box = await box_of(control)
        assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], (control, box)
    await screenshot(page, "console-phone-conversation")

    await reply.tap()
    await reply.fill("Hello from my phone")
    await send_button.tap()
    await shop.locator(f"{WIDGET} .msg.agent", has_text="Hello from my phone").wait_for(timeout=10000)

    await back.tap()  # back to the list; the conversation stays open under "My conversations"
    mine = page.locator(f"#mine li[data-id='{session_id}']")
    await mine.wait_for()
    assert not await view.is_visible()
    await assert_fits(page, mine)
    await screenshot(page, "console-phone-list")
    await mine.tap()
    await reply.wait_for()
    await view.locator("button.handback").tap()
    await view.wait_for(state="detached")
    await page.locator("#sidebar").wait_for()  # nothing left open: the list again
    assert not await page.locator("#workspace").is_visible()
    assert page.errors == []

"""The demo storefront's widget in real headless Chromium against the real server."""

import os

import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture
async def page(server):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="ja-JP")
        page = await context.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.dialogs = dialogs
        await page.goto(server.url + "/")
        yield page
        await browser.close()


async def send(page, text: str) -> None:
    box = page.locator("#crossdesk-widget input")
    await box.fill(text)
    await box.press("Enter")


async def test_japanese_question_gets_japanese_answer_in_the_widget(page):
    await page.locator("#crossdesk-widget button.launcher").click()
    await send(page, "ドイツまで配送は何日かかりますか？")
    bot = page.locator("#crossdesk-widget .msg.bot").first
    await bot.wait_for(timeout=15000)
    text = await bot.inner_text()
    assert "ドイツ" in text and "営業日" in text


async def test_shopper_text_is_shown_literally_and_never_runs(page):
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    await page.locator("#crossdesk-widget button.launcher").click()
    await send(page, payload)
    await page.locator("#crossdesk-widget .msg.bot").first.wait_for(timeout=15000)
    assert payload in await page.locator("#crossdesk-widget .msg.shopper").all_inner_texts()
    assert await page.locator("#crossdesk-widget img").count() == 0
    assert page.dialogs == []


async def test_reload_replays_the_conversation(page):
    await page.locator("#crossdesk-widget button.launcher").click()
    await send(page, "こんにちは")
    await page.locator("#crossdesk-widget .msg.bot").first.wait_for(timeout=15000)
    await page.reload()
    await page.locator("#crossdesk-widget .msg.shopper").first.wait_for(state="attached", timeout=15000)
    texts = await page.locator("#crossdesk-widget .msg").all_inner_texts()
    assert texts[0] == "こんにちは" and len(texts) >= 2

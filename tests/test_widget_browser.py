"""The storefront widget in real headless Chromium against the real server."""

import asyncio

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot
from tests.support import AgentClient, ServerProcess, add_agent, login

pytestmark = needs_chromium


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def widget_page(browser, url: str, locale: str = "ja-JP", **options):
    context = await browser.new_context(locale=locale, **options)
    return await open_page(context, url + "/")


async def send(page, text: str) -> None:
    box = page.locator(f"{WIDGET} textarea")
    await box.fill(text)
    await box.press("Enter")


async def open_chat(page) -> None:
    await page.locator(f"{WIDGET} button.launcher").click()


def messages(page, kind: str = ""):
    return page.locator(f"{WIDGET} .msg{'.' + kind if kind else ''} .bubble")


async def wait_for_count(locator, count: int, timeout: float = 20) -> list[str]:
    for _ in range(int(timeout * 10)):
        if await locator.count() >= count:
            return await locator.all_inner_texts()
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} messages, have {await locator.all_inner_texts()}")


async def test_japanese_question_gets_japanese_answer_with_quick_replies_and_time(browser, server):
    page = await widget_page(browser, server.url)
    await open_chat(page)
    assert await page.locator(f"{WIDGET} textarea").get_attribute("placeholder") == "メッセージを入力…"
    await send(page, "ドイツまで配送は何日かかりますか？")
    answer = (await wait_for_count(messages(page, "bot"), 1))[0]
    assert "ドイツ" in answer and "営業日" in answer
    meta = await page.locator(f"{WIDGET} .msg.bot .meta time").first.inner_text()
    assert ":" in meta
    await send(page, "こんにちは")
    await wait_for_count(messages(page, "bot"), 2)
    replies = page.locator(f"{WIDGET} .replies button")
    assert await replies.count() == 3  # the greeting offers topics
    await replies.nth(2).click()
    await wait_for_count(messages(page, "bot"), 3)
    assert await messages(page, "shopper").last.inner_text() == await page.locator(
        f"{WIDGET} .msg.shopper .bubble").last.inner_text()
    await screenshot(page, "widget-japanese")
    assert page.errors == []


async def test_shopper_text_is_shown_literally_and_never_runs(browser, server):
    page = await widget_page(browser, server.url, locale="en-US")
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script> see https://example.com/x?a=1"
    await open_chat(page)
    await send(page, payload)
    await wait_for_count(messages(page, "bot"), 1)
    assert payload in await messages(page, "shopper").all_inner_texts()
    assert await page.locator(f"{WIDGET} img").count() == 0
    assert await page.locator(f"{WIDGET} script").count() == 0
    link = page.locator(f"{WIDGET} .msg.shopper a")
    assert await link.get_attribute("href") == "https://example.com/x?a=1"
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow"
    await asyncio.sleep(0.5)
    assert page.dialogs == []


async def test_reload_and_second_tab_show_the_same_conversation(browser, server):
    page = await widget_page(browser, server.url)
    await open_chat(page)
    await send(page, "こんにちは")
    await wait_for_count(messages(page, "bot"), 1)
    other = await open_page(page.context, server.url + "/")  # same shop, second tab
    await page.reload()
    texts = await wait_for_count(messages(page), 2)
    assert texts[0] == "こんにちは"
    await open_chat(other)
    await wait_for_count(messages(other), 2)
    await send(other, "送料はいくらですか")
    shown = await wait_for_count(messages(page, "shopper"), 2)
    assert shown == ["こんにちは", "送料はいくらですか"]
    await wait_for_count(messages(page, "bot"), 2)


async def test_handoff_to_an_agent_shows_the_agents_reply_and_name(browser, server):
    add_agent(server.var_dir, "hana", "hana-password-1")
    agent = AgentClient(server.url, login(server.url, "hana", "hana-password-1")[1]["token"])
    await agent.connect()
    try:
        page = await widget_page(browser, server.url)
        await open_chat(page)
        await send(page, "人と話したいです")
        system = (await wait_for_count(messages(page, "system"), 1))[0]
        assert "担当" in system or "スタッフ" in system or "チーム" in system
        session_id = await page.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")
        claimed = await agent.call("claim", {"conversation_id": session_id})
        assert claimed["ok"], claimed
        assert any("Hana" in t for t in await wait_for_count(messages(page, "system"), 2))
        await agent.call("typing", {"conversation_id": session_id, "typing": True})
        await page.locator(f"{WIDGET} .typing", has_text="Hana").wait_for(timeout=10000)
        await agent.call("send", {"conversation_id": session_id, "text": "担当のハナです。ご用件をどうぞ"})
        reply = page.locator(f"{WIDGET} .msg.agent")
        await reply.wait_for(timeout=10000)
        assert "担当のハナです" in await reply.locator(".bubble").inner_text()
        assert "Hana" in await reply.locator(".meta").inner_text()
        await send(page, "荷物が届きません")
        _, relayed = await agent.expect("agent:shopper_message")
        assert relayed["message"]["text"] == "荷物が届きません"
        await agent.call("handback", {"conversation_id": session_id})
    finally:
        await agent.close()


async def test_no_agent_online_offers_a_contact_form(browser, server):
    page = await widget_page(browser, server.url, locale="en-US")
    await open_chat(page)
    await send(page, "I want to talk to a human")
    form = page.locator(f"{WIDGET} form.contact")
    await form.wait_for(timeout=15000)
    await form.locator("input[type=email]").fill("mia@example.com")
    await form.locator("input[autocomplete=name]").fill("Mia <b>")
    await form.locator("button").click()
    await page.locator(f"{WIDGET} .msg.system", has_text="Thanks!").wait_for(timeout=10000)
    await page.reload()
    await wait_for_count(messages(page, "system"), 2)  # the offline notice and the stored contact
    assert await page.locator(f"{WIDGET} form.contact").count() == 0


async def test_messages_typed_while_the_server_is_down_arrive_once_in_order(browser, model_path, tmp_path):
    first = ServerProcess(tmp_path / "var", model_path).start()
    second = None
    try:
        page = await widget_page(browser, first.url, locale="en-US")
        await open_chat(page)
        await send(page, "hello")
        await wait_for_count(messages(page, "bot"), 1)
        first.kill()
        await page.locator(f"{WIDGET} .status.on").wait_for(timeout=10000)
        await send(page, "how long does shipping to Germany take?")
        await send(page, "and which payment methods do you take?")
        assert await page.locator(f"{WIDGET} .msg.shopper.pending").count() == 2
        second = ServerProcess(tmp_path / "var", model_path)
        second.port = first.port
        second.start()
        await wait_for_count(messages(page, "bot"), 3, timeout=40)
        assert await page.locator(f"{WIDGET} .msg.shopper.pending").count() == 0
        await page.reload()
        texts = await wait_for_count(messages(page), 6)
        shopper = await messages(page, "shopper").all_inner_texts()
        assert shopper == ["hello", "how long does shipping to Germany take?",
                           "and which payment methods do you take?"]
        assert any("Germany" in text for text in texts[3:])
        assert await messages(page, "bot").count() == 3
    finally:
        first.kill()
        if second:
            second.stop()


async def test_global_api_checks_arguments_and_switches_language_and_direction(browser, server):
    page = await widget_page(browser, server.url, locale="ko-KR")
    assert await page.locator(f"{WIDGET} textarea").get_attribute("placeholder") == "메시지를 입력하세요…"
    for call in ("Crossdesk.setLanguage(42)", "Crossdesk.init({colour: 'red'})", "Crossdesk.setUser('bob')",
                 "Crossdesk.init({position: 'top'})", "Crossdesk.setUser({email: 5})"):
        error = await page.evaluate(f"() => {{ try {{ {call}; return null }} catch (e) {{ return e.name }} }}")
        assert error == "TypeError", call
    await page.evaluate("Crossdesk.setLanguage('fr-CA')")
    assert await page.locator(f"{WIDGET} button.launcher").inner_text() == "Aide"
    await page.evaluate("Crossdesk.setLanguage('ar')")
    assert await page.locator(f"{WIDGET} .root").get_attribute("dir") == "rtl"
    await page.evaluate("Crossdesk.open()")
    assert await page.locator(f"{WIDGET} .panel.open").count() == 1
    box = await page.locator(f"{WIDGET} .panel").bounding_box()
    assert box["x"] < 100  # mirrored: the panel sits on the left in right-to-left layout
    await page.locator(f"{WIDGET} select").select_option("zh-TW")
    assert await page.locator(f"{WIDGET} button.send, {WIDGET} form.compose button").inner_text() == "傳送"
    await page.evaluate("Crossdesk.destroy()")
    assert await page.locator(WIDGET).count() == 0


async def test_keyboard_only_use_and_focus_management(browser, server):
    page = await widget_page(browser, server.url, locale="en-US")
    await page.locator(f"{WIDGET} button.launcher").focus()
    await page.keyboard.press("Enter")
    assert await page.locator(f"{WIDGET} button.launcher").get_attribute("aria-expanded") == "true"
    assert await page.evaluate("document.querySelector('#crossdesk-widget').shadowRoot.activeElement.tagName") == "TEXTAREA"
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await wait_for_count(messages(page, "bot"), 1)
    assert await page.locator(f"{WIDGET} [role=log][aria-live=polite]").count() == 1
    await page.keyboard.press("Escape")
    assert await page.locator(f"{WIDGET} .panel.open").count() == 0
    assert await page.evaluate("document.querySelector('#crossdesk-widget').shadowRoot.activeElement.className") == "launcher"


async def test_unread_badge_counts_replies_while_closed(browser, server):
    page = await widget_page(browser, server.url, locale="en-US")
    await page.evaluate("Crossdesk.open()")
    await page.locator(f"{WIDGET} textarea").fill("hi")
    # Submit and close in one browser task: the reply cannot be handled before the panel closes.
    await page.evaluate("""() => {
        document.querySelector('#crossdesk-widget').shadowRoot.querySelector('form.compose').requestSubmit();
        Crossdesk.close();
    }""")
    badge = page.locator(f"{WIDGET} .badge.on")
    await badge.wait_for(timeout=15000)
    assert int(await badge.inner_text()) >= 1
    await page.evaluate("Crossdesk.open()")
    assert await page.locator(f"{WIDGET} .badge.on").count() == 0


async def test_full_screen_on_phones_and_host_styles_do_not_leak_in(browser, server):
    # bypass_csp: the hostile host styles are injected inline, which the demo storefront's CSP would block.
    page = await widget_page(browser, server.url, locale="en-US", viewport={"width": 375, "height": 667},
                             is_mobile=True, has_touch=True, bypass_csp=True)
    await page.add_style_tag(content="* { color: red !important; font-size: 40px !important; "
                                     "background: yellow !important; } button { display: none !important; }")
    launcher = page.locator(f"{WIDGET} button.launcher")
    assert await launcher.is_visible()
    style = await launcher.evaluate("b => [getComputedStyle(b).fontSize, getComputedStyle(b).color]")
    assert style == ["14px", "rgb(255, 255, 255)"]
    await launcher.click()
    box = await page.locator(f"{WIDGET} .panel").bounding_box()
    assert box["width"] == 375 and box["height"] >= 600
    host_button = await page.evaluate(
        "() => { const b = document.createElement('button'); document.body.append(b);"
        " return getComputedStyle(b).borderRadius }")
    assert host_button != "16px"  # the widget's own button styles stay inside its shadow root
    await screenshot(page, "widget-mobile")


async def test_storefront_on_another_origin_only_when_allowed(browser, model_path, tmp_path):
    """The server refuses storefront origins that are not in CROSSDESK_ALLOWED_ORIGINS."""
    import http.server
    import threading
    from functools import partial

    shop = tmp_path / "shop"
    shop.mkdir()
    servers = []
    for _ in range(2):
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(shop))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    allowed, refused = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    crossdesk = ServerProcess(tmp_path / "var", model_path, env={"CROSSDESK_ALLOWED_ORIGINS": allowed}).start()
    try:
        (shop / "index.html").write_text(
            f'<!doctype html><meta charset="utf-8"><title>shop</title>'
            f'<script src="{crossdesk.url}/widget/crossdesk.js" defer></script>')
        context = await browser.new_context(locale="en-US")
        good = await open_page(context, allowed + "/index.html")
        await open_chat(good)
        await send(good, "hello")
        await wait_for_count(messages(good, "bot"), 1)
        bad = await open_page(context, refused + "/index.html")
        await bad.locator(f"{WIDGET} .status.on").wait_for(state="attached", timeout=10000)
        status = await bad.evaluate(
            f"fetch('{crossdesk.url}/api/login', {{method: 'POST', body: '{{}}'}}).then(r => r.status, e => 'blocked')")
        assert status in (403, "blocked")
        import urllib.error
        import urllib.request
        request = urllib.request.Request(crossdesk.url + "/api/login", data=b"{}", method="POST",
                                         headers={"Origin": refused, "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refusal:
            urllib.request.urlopen(request, timeout=5)
        assert refusal.value.code == 403
    finally:
        crossdesk.stop()
        for httpd in servers:
            httpd.shutdown()


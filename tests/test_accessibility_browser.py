"""Every page stays free of WCAG 2.1 A/AA violations, checked by axe-core (from npm) in real Chromium."""

import json

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot
from tests.npm_packages import AXE, needs_npm_file, npm_file
from tests.support import AgentClient, add_agent, login

pytestmark = [needs_chromium, needs_npm_file(AXE)]
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def axe_violations(page) -> list[dict]:
    """Run axe-core on the page as it is now (open shadow roots included).

    Pages run under a strict CSP that blocks an injected script, so contexts here bypass it
    (``tests/test_security_browser.py`` checks the CSP itself).
    """
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(content=npm_file(AXE).read_text(encoding="utf-8"))
    result = await page.evaluate("""(tags) => axe.run(document, {runOnly: {type: "tag", values: tags},
                                                         resultTypes: ["violations"]})""", WCAG_21_AA)
    return result["violations"]


def report(violations: list[dict]) -> str:
    """The violations' ids, help, and the elements (targets) that fail."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    {json.dumps(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


async def assert_accessible(page) -> None:
    violations = await axe_violations(page)
    assert not violations, "axe-core found WCAG 2.1 AA violations:\n" + report(violations)


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def test_storefront_with_the_widget_open_and_a_bot_reply(browser, server):
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    box = page.locator(f"{WIDGET} textarea")
    await box.fill("hello")
    await box.press("Enter")
    await page.locator(f"{WIDGET} .replies button").first.wait_for(timeout=30000)  # the greeting offers topics
    await assert_accessible(page)


async def test_axe_sees_inside_the_widgets_shadow_root(browser, server):
    """The check itself: a nameless button put into the widget's open shadow root is reported."""
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    await page.evaluate("""() => document.querySelector('#crossdesk-widget').shadowRoot
                              .querySelector('[role=log]').append(document.createElement('button'))""")
    violations = await axe_violations(page)
    assert [v["id"] for v in violations] == ["button-name"], report(violations)
    assert violations[0]["nodes"][0]["target"][0][0] == "#crossdesk-widget"


async def test_console_login_screen(browser, server):
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/console")
    await page.locator("#login-form").wait_for()
    await assert_accessible(page)


async def test_studio_login_screen(browser, server):
    """(The studio's other screens: tests/test_studio_browser.py.)"""
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/studio")
    await page.locator("#login-form").wait_for()
    await assert_accessible(page)


async def test_console_with_a_claimed_conversation_open(browser, server):
    add_agent(server.var_dir, "axel", "axel-password-1", languages="en")
    shop = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await shop.locator(f"{WIDGET} button.launcher").click()
    box = shop.locator(f"{WIDGET} textarea")
    await box.fill("I want to talk to a real person")
    await box.press("Enter")
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=30000)
    session_id = await shop.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")

    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/console")
    await page.fill("#login-form [name=username]", "axel")
    await page.fill("#login-form [name=password]", "axel-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator(f"#queue li[data-id='{session_id}'] button.claim").click(timeout=30000)
    await page.locator(f".conversation[data-id='{session_id}'] .transcript .msg").first.wait_for()
    await screenshot(page, "console-accessibility")
    await assert_accessible(page)


async def test_console_ticket_view(browser, server):
    add_agent(server.var_dir, "tilda", "tilda-password-1", languages="en")
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/console")
    await page.fill("#login-form [name=username]", "tilda")
    await page.fill("#login-form [name=password]", "tilda-password-1")
    await page.click("#login-form button[type=submit]")
    await page.click("#show-tickets")
    await page.locator("#tickets .ticket-list tbody td").first.wait_for()
    await assert_accessible(page)


async def test_console_desk_notes_macro_list_and_history_tags(browser, server):
    """notes.js: the notes and tags panel with a customer, the macro list open, the history's tag column."""
    add_agent(server.var_dir, "noemi", "noemi-password-1", languages="en")
    shop = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await shop.locator(f"{WIDGET} button.launcher").click()
    await shop.evaluate("() => window.Crossdesk.setUser({id: 'c-1', name: 'Nia', email: 'nia@example.com'})")
    box = shop.locator(f"{WIDGET} textarea")
    await box.fill("I want to talk to a real person")
    await box.press("Enter")
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=30000)
    session_id = await shop.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")

    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/console")
    await page.fill("#login-form [name=username]", "noemi")
    await page.fill("#login-form [name=password]", "noemi-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator(f"#queue li[data-id='{session_id}'] button.claim").click(timeout=30000)
    view = page.locator(f".conversation[data-id='{session_id}']")
    await view.locator(".customer .unverified").wait_for()
    await view.locator(".note-input").fill("A private note")
    await view.locator(".add-note button[type=submit]").click()
    await view.locator(".note-list .note").wait_for()
    await view.locator(".tag-input").fill("vip")
    await view.locator(".tag-input").press("Enter")
    await view.locator(".tag-chip").wait_for()
    await view.locator("textarea.reply-text").focus()
    await page.keyboard.press("Control+k")
    await view.locator(".macro-search").type("return")
    await view.locator(".macro-option").first.wait_for()
    await assert_accessible(page)
    await page.click("#show-history")
    await page.fill("#search [name=tag]", "vip")
    await page.click("#search button[type=submit]")
    await page.locator("#results tr[data-id]").first.wait_for()
    await assert_accessible(page)
async def test_console_team_screen_with_an_agent_being_edited(browser, server):
    add_agent(server.var_dir, "tamsin", "tamsin-password-1", languages="en", role="admin")
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/console")
    await page.fill("#login-form [name=username]", "tamsin")
    await page.fill("#login-form [name=password]", "tamsin-password-1")
    await page.click("#login-form button[type=submit]")
    await page.click("#show-team")
    await page.locator("#team-agents tr[data-username=tamsin] button").first.click()
    await page.locator("#team-editor form").first.wait_for()
    await assert_accessible(page)


async def test_widget_showing_its_place_in_the_queue(browser, server):
    add_agent(server.var_dir, "quinn", "quinn-password-1", languages="en")
    agent = AgentClient(server.url, login(server.url, "quinn", "quinn-password-1")[1]["token"])
    await agent.connect()  # someone online: the place comes with an expected wait
    page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    box = page.locator(f"{WIDGET} textarea")
    await box.fill("I want to talk to a real person")
    await box.press("Enter")
    await page.locator(f"{WIDGET} p.queue", has_text="in line").wait_for(timeout=30000)
    await assert_accessible(page)
    await agent.close()


async def claimed_in_console(browser, server, username: str, **context_options):
    """A shopper handed off and the console (``context_options``: locale, viewport...) with it claimed."""
    add_agent(server.var_dir, username, f"{username}-password-1", languages="en")
    shop = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), server.url + "/")
    await shop.locator(f"{WIDGET} button.launcher").click()
    box = shop.locator(f"{WIDGET} textarea")
    await box.fill("I want to talk to a real person")
    await box.press("Enter")
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=30000)
    session_id = await shop.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")
    page = await open_page(await browser.new_context(bypass_csp=True, **context_options), server.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    claim = page.locator(f"#queue li[data-id='{session_id}'] button.claim")
    await claim.wait_for(timeout=30000)
    return page, claim, page.locator(f".conversation[data-id='{session_id}']")


async def test_console_in_korean_with_a_claimed_conversation_open(browser, server):
    """The queue and a conversation in Korean (the browser's language); <html lang> follows."""
    page, claim, view = await claimed_in_console(browser, server, "kora", locale="ko-KR")
    assert await page.evaluate("document.documentElement.lang") == "ko"
    await assert_accessible(page)
    await claim.click()
    await view.locator(".transcript .msg").first.wait_for()
    await assert_accessible(page)


async def test_console_on_a_phone_queue_and_conversation(browser, server):
    """390 x 844: the queue list, then the claimed conversation full width."""
    page, claim, view = await claimed_in_console(browser, server, "phoebe", locale="en-US",
                                                 viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await assert_accessible(page)
    await claim.tap()
    await view.locator(".transcript .msg").first.wait_for()
    await screenshot(page, "console-accessibility-phone")
    await assert_accessible(page)

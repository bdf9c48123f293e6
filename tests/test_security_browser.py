"""The console and the demo storefront under their Content-Security-Policy in real Chromium; logout from another tab."""

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page
from tests.support import add_agent

pytestmark = needs_chromium

# Recorded from the first moment of every page: CSP violations and console errors about them.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture(scope="module")
def accounts(server):
    add_agent(server.var_dir, "nora", "nora-password-1", languages="en")
    add_agent(server.var_dir, "ivan", "ivan-password-1", languages="en")
    return server


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def watched_context(browser):
    context = await browser.new_context(locale="en-US")
    await context.add_init_script(WATCH_CSP)
    context.csp_messages = []
    context.on("console", lambda message: context.csp_messages.append(message.text)
               if "Content Security Policy" in message.text else None)
    return context


async def log_in(context, server, name: str):
    page = await open_page(context, server.url + "/console")
    await page.fill("#login-form [name=username]", name)
    await page.fill("#login-form [name=password]", f"{name}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def violations(page) -> list:
    return await page.evaluate("window.__csp")


async def test_console_and_storefront_do_their_normal_work_without_a_csp_violation(browser, accounts):
    server = accounts
    agent_context, shop_context = await watched_context(browser), await watched_context(browser)
    agent = await log_in(agent_context, server, "nora")
    shop = await open_page(shop_context, server.url + "/")
    launcher = shop.locator(f"{WIDGET} button.launcher")
    await launcher.click()
    # The widget's styles reached its shadow root under style-src 'self' (the storefront's accent colour).
    assert await launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(176, 36, 90)"
    box = shop.locator(f"{WIDGET} textarea")
    await box.fill("I want to talk to a real person")
    await box.press("Enter")
    await shop.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=15000)
    session_id = await shop.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")

    # This shopper's entry: the shared server's queue also holds other tests' waiting conversations.
    await agent.locator(f"#queue li[data-id='{session_id}'] button.claim").click()
    view = agent.locator(f".conversation[data-id='{session_id}']")
    await view.wait_for(timeout=10000)
    await view.locator("input.canned-search").fill("return")
    await view.locator("textarea.reply-text").fill("Hello from Nora")
    await view.locator("textarea.reply-text").press("Enter")
    await shop.locator(f"{WIDGET} .msg.agent", has_text="Hello from Nora").wait_for(timeout=10000)
    await view.locator("button.resolve").click()
    await view.wait_for(state="detached")
    await agent.click("#show-history")
    await agent.fill("#search [name=q]", "real person")
    await agent.click("#search button[type=submit]")
    await agent.locator("#results tr").first.wait_for()

    assert await violations(agent) == [] and await violations(shop) == []
    assert agent_context.csp_messages == [] and shop_context.csp_messages == []
    assert agent.errors == [] and shop.errors == []
    # The login lives in an HttpOnly cookie: no script on the page can read it.
    assert "crossdesk_agent" not in await agent.evaluate("document.cookie")
    stored = await agent.evaluate("JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert "token" not in stored


async def test_logging_out_in_another_tab_cuts_the_open_console_off(browser, accounts):
    server = accounts
    context = await watched_context(browser)
    first = await log_in(context, server, "ivan")
    second = await open_page(context, server.url + "/console")  # the same login (cookie), another tab
    await second.locator("#app").wait_for()
    await second.click("#logout")
    await second.locator("#login").wait_for()
    await first.locator("#login").wait_for(timeout=3000)  # pushed by the server, not noticed on next click
    assert "logged out" in await first.locator("#login-error").inner_text()
    assert await first.locator("#app").is_hidden()
    assert await violations(first) == [] and await violations(second) == []

"""What people see of #19 part 1, in real headless Chromium against the app served in-process (fake bot):
the shopper's place in the queue in the widget (Korean UI), and an admin's team screen creating an agent and
deactivating a logged-in agent whose console is cut off."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.inprocess import PASSWORD, closed, served

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("routing-browser")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    async with chromium() as browser:
        yield browser


async def queued_widget(browser, desk, locale: str):
    page = await open_page(await browser.new_context(locale=locale), desk.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    await send(page, "I want a human")
    await page.locator(f"{WIDGET} .msg.system").first.wait_for(timeout=15000)
    return page


async def console(browser, desk, username: str, accept_dialogs: bool = False):
    context = await browser.new_context(locale="en-US")
    if accept_dialogs:
        page = await context.new_page()
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.goto(desk.url + "/console")
    else:
        page = await open_page(context, desk.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def test_the_widget_shows_place_2_then_1_in_the_shoppers_language(browser, desk):
    agent, _ = await desk.agent("hana", languages=("en",))
    first = await queued_widget(browser, desk, "ko-KR")
    second = await queued_widget(browser, desk, "ko-KR")
    line = f"{WIDGET} p.queue"

    await first.locator(line, has_text="대기 순서: 1번째").wait_for(timeout=5000)
    await second.locator(line, has_text="대기 순서: 2번째").wait_for(timeout=5000)
    assert await second.locator(line).get_attribute("aria-live") == "polite"
    assert "예상 대기 시간" in await second.locator(line).inner_text()
    await screenshot(second, "widget-queue-position")
    await agent.call("claim", {"conversation_id": await session_of(first)})
    await second.locator(line, has_text="대기 순서: 1번째").wait_for(timeout=5000)
    await first.locator(line).wait_for(state="hidden", timeout=5000)  # taken: no place any more

    await agent.call("claim", {"conversation_id": await session_of(second)})
    await closed(agent)


async def test_an_admin_creates_an_agent_and_deactivating_a_logged_in_agent_cuts_their_console_off(browser, desk):
    desk.agent_token("ada", languages=("en",), role="admin")
    desk.agent_token("lee", languages=("en",))
    admin = await console(browser, desk, "ada", accept_dialogs=True)
    victim = await console(browser, desk, "lee")
    assert await victim.locator("#show-team").is_hidden()  # an agent has no team screen

    await admin.click("#show-team")
    for _ in range(50):  # until Lee's console is connected (the list shows who is online)
        if "online" in await admin.locator("#team-agents tr[data-username=lee] td.status").inner_text():
            break
        await asyncio.sleep(0.2)
        await admin.click("#show-team")
    form = admin.locator("#team-create")
    await form.locator("[name=username]").fill("jisoo")
    await form.locator("[name=display_name]").fill("Jisoo Park")
    await form.locator("[name=password]").fill("jisoo-password")
    await form.locator("[name=languages]").fill("ko, en")
    await form.locator("[name=skills]").fill("payments, returns")
    await form.locator("button[type=submit]").click()
    row = admin.locator("#team-agents tr[data-username=jisoo]")
    await row.wait_for(timeout=5000)
    assert "payments, returns" in await row.inner_text() and "ko, en" in await row.inner_text()

    await admin.locator("#team-agents tr[data-username=lee] button.deactivate").click()
    await admin.locator("#team-status", has_text="Lee is deactivated").wait_for(timeout=5000)
    await victim.locator("#login-error", has_text="Your account was deactivated.").wait_for(timeout=5000)
    await screenshot(admin, "console-team")

    assert desk.app.ctx.agents.authenticate("jisoo", "jisoo-password").skills == ["payments", "returns"]
    assert await victim.locator("#login").is_visible() and not await victim.locator("#app").is_visible()
    assert not desk.app.ctx.presence.is_online(desk.app.ctx.agents.by_username("lee").id)

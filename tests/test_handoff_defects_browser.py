"""Handoff defects from issue #13 seen in the widget and the console, in real headless Chromium."""

import asyncio

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page, screenshot, send, session_of
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login
from harness.translation_server import down_url

pytestmark = needs_chromium
TALK_TO_A_PERSON = f'{WIDGET} .replies button[data-payload="/request_human"]'


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory):
    """A server of its own: which agents are online is up to each test."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path).start()
    add_agent(server.var_dir, "nora", "nora-password-1", languages="en")
    server.token = login(server.url, "nora", "nora-password-1")[1]["token"]
    yield server
    server.stop()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


async def widget(browser, server, locale: str = "en-US"):
    page = await open_page(await browser.new_context(locale=locale), server.url + "/")
    await page.locator(f"{WIDGET} button.launcher").click()
    return page


async def reload(page) -> None:
    await page.reload()
    await page.locator(f"{WIDGET} button.launcher").click()


async def console(browser, server, username: str = "nora"):
    page = await open_page(await browser.new_context(locale="en-US"), server.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def test_contact_form_survives_typing_and_reloads_and_a_left_contact_reads_as_thanks(browser, desk):
    page = await widget(browser, desk)  # no agent online
    await send(page, "I want to talk to a human")
    form = page.locator(f"{WIDGET} form.contact")
    await form.wait_for(timeout=15000)
    await send(page, "hello? is anyone there")  # typed after the form appeared
    await page.locator(f"{WIDGET} .msg.shopper:not(.pending)", has_text="is anyone there").wait_for(timeout=10000)
    await reload(page)
    await page.locator(f"{WIDGET} .msg.shopper", has_text="is anyone there").wait_for(timeout=10000)
    await form.wait_for(timeout=5000)  # still queued, no contact left: the form is back
    assert await form.count() == 1
    await form.locator("input[type=email]").fill("mia@example.com")
    await form.locator("input[autocomplete=name]").fill("Mia")
    await form.locator("button").click()
    thanks = page.locator(f"{WIDGET} .msg.system", has_text="Thanks! We'll reply by e-mail.")
    await thanks.wait_for(timeout=10000)
    await page.evaluate("localStorage.removeItem('crossdesk.contact:' + JSON.parse(localStorage.getItem('crossdesk.session')))")
    await reload(page)  # the server's transcript alone tells the widget a contact was left
    await thanks.wait_for(timeout=10000)
    shown = await page.locator(f"{WIDGET} .log").inner_text()
    assert "mia@example.com" not in shown and await form.count() == 0
    await screenshot(page, "widget-contact-left")
    assert page.errors == []


async def test_talk_to_a_person_is_gone_once_handed_off_and_a_silent_agent_stops_typing(browser, desk):
    agent = AgentClient(desk.url, desk.token)
    await agent.connect()
    try:
        page = await widget(browser, desk)
        await send(page, "I forgot my password")
        await page.locator(TALK_TO_A_PERSON).wait_for(timeout=15000)  # offered while the bot has the chat
        await send(page, "my login doesn't work either")
        await page.locator(f"{WIDGET} .msg.system").wait_for(timeout=15000)  # queued for a person
        assert await page.locator(TALK_TO_A_PERSON).count() == 0
        session_id = await session_of(page)
        assert (await agent.call("claim", {"conversation_id": session_id}))["ok"]
        await page.locator(f"{WIDGET} .msg.system", has_text="Nora").wait_for(timeout=10000)
        await reload(page)
        await page.locator(f"{WIDGET} .msg.system", has_text="Nora").wait_for(timeout=10000)
        assert await page.locator(TALK_TO_A_PERSON).count() == 0

        # The agent starts typing, then goes quiet without a word (console closed): the indicator expires.
        assert (await agent.call("typing", {"conversation_id": session_id, "typing": True}))["ok"]
        typing = page.locator(f"{WIDGET} .typing")
        await page.locator(f"{WIDGET} .typing", has_text="Nora").wait_for(timeout=5000)
        started = asyncio.get_running_loop().time()
        await page.wait_for_function(
            f"() => !document.querySelector('{WIDGET}').shadowRoot.querySelector('.typing').textContent",
            timeout=12000)
        assert asyncio.get_running_loop().time() - started < 9 and await typing.inner_text() == ""
        await agent.call("resolve", {"conversation_id": session_id})
    finally:
        await agent.close()


async def test_console_takes_back_typing_and_warns_when_replies_are_not_translated(browser, desk):
    agent = await console(browser, desk)
    korean = Shopper(desk.url)
    await korean.connect(locale="ko-KR")
    await korean.ask("상담원 연결해주세요")
    entry = agent.locator(f"#queue li[data-id='{korean.session_id}'] button.claim")
    await entry.wait_for(timeout=15000)
    await entry.click()
    view = agent.locator(f".conversation[data-id='{korean.session_id}']")
    warning = view.locator(".translation-warning")
    await warning.wait_for(timeout=10000)
    assert "not translated" in await warning.inner_text() and "ko" in await warning.inner_text()

    box = view.locator("textarea.reply-text")
    await box.type("Let me chec")
    _, typing = await korean.expect("crossdesk:typing", where=lambda t: t["typing"] is True)
    await box.fill("")  # the agent deleted the draft
    _, stopped = await korean.expect("crossdesk:typing", timeout=3, where=lambda t: t["typing"] is False)
    await box.type("One moment please")
    await korean.expect("crossdesk:typing", where=lambda t: t["typing"] is True)
    await box.press("Enter")
    _, reply = await korean.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
    assert reply["text"] == "One moment please"
    await korean.expect("crossdesk:typing", timeout=3, where=lambda t: t["typing"] is False)
    await screenshot(agent, "console-no-translator-warning")
    await view.locator("button.handback").click()

    english = Shopper(desk.url)  # same language as the agent: no warning
    await english.connect()
    assert "France" in (await english.ask("how long does shipping to France take?"))["text"]
    await english.ask("I want to talk to a person")
    entry = agent.locator(f"#queue li[data-id='{english.session_id}'] button.claim")
    await entry.wait_for(timeout=15000)
    await entry.click()
    view = agent.locator(f".conversation[data-id='{english.session_id}']")
    await view.locator("textarea.reply-text").wait_for()
    assert await view.locator(".translation-warning").is_hidden()
    await view.locator("input.canned-search").fill("return")
    first = view.locator(".canned button").first
    await first.wait_for(timeout=5000)
    assert (await first.inner_text()).startswith("You can return items within 30 days")
    await view.locator("input.canned-search").fill("shipping to")
    await view.locator(".canned button", has_text="France").first.wait_for(timeout=5000)  # the destination's facts
    await view.locator("button.handback").click()
    await korean.close()
    await english.close()


async def test_console_warns_when_a_reply_could_not_be_translated(browser, model_path, tmp_path):
    env = {"CROSSDESK_TRANSLATOR": "libre", "CROSSDESK_TRANSLATOR_URL": down_url()}  # configured, unreachable
    server = ServerProcess(tmp_path / "var", model_path, env=env).start()
    try:
        add_agent(server.var_dir, "ines", "ines-password-1", languages="ja")
        agent = await console(browser, server, "ines")
        shopper = Shopper(server.url)
        await shopper.connect(locale="fr-FR")
        await shopper.ask("je veux parler à un humain")
        await agent.locator(f"#queue li[data-id='{shopper.session_id}'] button.claim").click()
        view = agent.locator(f".conversation[data-id='{shopper.session_id}']")
        box = view.locator("textarea.reply-text")
        await box.wait_for(timeout=10000)
        assert await view.locator(".reply > .translation-warning").is_hidden()  # a translator is configured
        await box.fill("少々お待ちください")
        await box.press("Enter")
        note = view.locator(".row .translation-warning")
        await note.wait_for(timeout=10000)
        assert (await note.inner_text()).startswith("Translation failed (")
        await view.locator("textarea.preview").press("Enter")  # the agent sends it as written anyway
        _, reply = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
        assert reply["text"] == "少々お待ちください"
        await shopper.close()
    finally:
        server.stop()

"""The console's ticket view in real headless Chromium: lists, filters, assignment, an e-mailed answer
with its translation preview, due soon / overdue marked in text, escalations announced, axe clean."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.translation_server import FakeLibreTranslate
from tests.browser import chromium, needs_chromium, open_page, screenshot
from tests.mail import Smtp
from tests.support import ServerProcess, Shopper, add_agent
from tests.test_accessibility_browser import assert_accessible

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def smtp():
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def translator():
    server = FakeLibreTranslate().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def desk(model_path, tmp_path_factory, smtp, translator):
    process = ServerProcess(tmp_path_factory.mktemp("ticket-view"), model_path, env={
        "CROSSDESK_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "CROSSDESK_MAIL_REPLY_TO": "help@shop.example",
        "CROSSDESK_TRANSLATOR": "libre", "CROSSDESK_TRANSLATOR_URL": translator.url,
        "CROSSDESK_TICKET_PROMISE_HOURS": "24,fr=0.001", "CROSSDESK_TICKET_CHECK_SECONDS": "0.5",
    }).start()
    add_agent(process.var_dir, "kana", "kana-password-1", languages="en,ja")
    yield process
    process.stop()


async def offline_contact(desk, text: str, address: str) -> str:
    shopper = Shopper(desk.url)
    await shopper.connect()
    notice = await shopper.ask(text)
    assert notice["event"] == "utter_handoff_offline", notice
    assert (await shopper.client.call("crossdesk:contact", {"email": address}, timeout=15))["ok"]
    await shopper.close()
    return shopper.session_id


async def test_agent_takes_a_ticket_and_answers_by_email_with_a_preview(desk, smtp):
    await offline_contact(desk, "Ich möchte mit einem Menschen sprechen", "lena@example.de")
    async with chromium() as browser:
        page = await open_page(await browser.new_context(locale="en-US", bypass_csp=True), desk.url + "/console")
        await page.fill("#login-form [name=username]", "kana")
        await page.fill("#login-form [name=password]", "kana-password-1")
        await page.click("#login-form button[type=submit]")
        await page.click("#show-tickets")
        tickets = page.locator("#tickets")
        await tickets.locator("button[data-view=mine][aria-pressed=true]").wait_for()
        await tickets.locator(".ticket-list tbody", has_text="No tickets here.").wait_for()  # none is Kana's yet

        # Kana steps away; a French shopper leaves an address: a ticket due in 3.6 s, announced as due soon.
        await page.select_option("#presence", "away")
        await asyncio.sleep(0.5)
        await offline_contact(desk, "Je veux parler à un humain", "jules@example.fr")
        overdue_at = time.monotonic() + 3.6 + 0.5  # its promise: 0.001 h
        await page.select_option("#presence", "online")
        await page.locator("#ticket-alerts li", has_text="is due soon").wait_for(timeout=15000)

        await tickets.locator("button[data-view=unassigned]").click()
        rows = tickets.locator(".ticket-list tbody tr")
        await rows.nth(1).wait_for()
        await tickets.locator("select[name=language]").select_option("de")
        await tickets.locator("#ticket-filters button[type=submit]").click()
        await page.wait_for_function("document.querySelectorAll('#tickets .ticket-list tbody tr').length === 1")
        row = rows.first
        assert "lena@example.de" in await row.inner_text() and "On time" in await row.inner_text()

        await row.locator("button.link").click()
        detail = page.locator("#ticket-detail")
        await detail.locator("text=Ich möchte mit einem Menschen sprechen").wait_for()
        await detail.locator("button.take").click()
        await detail.locator("select[name=assignee]").wait_for()
        await page.wait_for_function("document.querySelector('#ticket-detail select[name=assignee]').value !== ''")
        assert await detail.locator("select[name=assignee] option:checked").inner_text() == "Kana"

        await detail.locator("textarea[name=answer]").fill("Your parcel ships tomorrow.")
        await detail.locator("button", has_text="Preview in the shopper's language").click()
        await detail.locator(".preview", has_text="[de] Your parcel ships tomorrow.").wait_for()
        await assert_accessible(page)
        await screenshot(page, "ticket-view")
        async with page.expect_response(lambda response: "/api/tickets?" in response.url) as reloaded:
            await detail.locator("button", has_text="Send").click()
        await (await reloaded.value).finished()  # (after the answer the ticket list reloads: the line stays)
        await page.evaluate("() => new Promise(done => setTimeout(done, 200))")
        assert await page.locator("#ticket-status").inner_text() == "Answer sent to lena@example.de."

        [mail] = await smtp.inbox.wait_for(lambda m: m["To"] == "lena@example.de")
        body = mail.get_content()
        assert "[de] Your parcel ships tomorrow." in body and "Ich möchte mit einem Menschen sprechen" in body
        assert mail["Reply-To"] == "help@shop.example" and "Re: deine Anfrage" in mail["Subject"]
        await asyncio.sleep(0.5)
        await tickets.locator("button[data-view=mine]").click()
        await page.locator("#tickets .ticket-list tbody tr", has_text="lena@example.de").wait_for()
        await page.locator("#tickets .ticket-list tbody tr button.link").first.click()
        await detail.locator(".ticket-mail li.sent", has_text="Sent").wait_for()
        assert "Pending" in await page.locator("#tickets .ticket-list tbody").inner_text()

        # Overdue: the French ticket, marked in words (not by colour alone), also in Japanese.
        await asyncio.sleep(max(0.0, overdue_at - time.monotonic()))  # on a quick run it is not late yet
        await tickets.locator("select[name=language]").select_option("")
        await tickets.locator("button[data-view=overdue]").click()
        overdue = page.locator("#tickets .ticket-list tbody tr.overdue", has_text="jules@example.fr")
        await overdue.wait_for(timeout=15000)
        assert "Overdue" in await overdue.inner_text()
        await page.select_option("#ui-language", "ja")
        await page.locator("#tickets button[data-view=overdue]", has_text="期限超過").wait_for()
        await page.locator("#tickets .ticket-list tbody tr.overdue", has_text="期限超過").wait_for()
        await assert_accessible(page)

        # A conversation Kana holds, marked for follow-up from its header: a ticket of hers.
        await page.select_option("#ui-language", "en")
        shopper = Shopper(desk.url)
        await shopper.connect()
        await shopper.ask("I want to talk to a real person")
        await page.locator(f"#queue li[data-id='{shopper.session_id}'] button.claim").click(timeout=30000)
        conversation = page.locator(f".conversation[data-id='{shopper.session_id}']")
        await conversation.locator("button.follow-up").click()
        await page.locator("#toast", has_text="opened: due").wait_for()
        await page.click("#show-tickets")
        await tickets.locator("button[data-view=mine]").click()
        await page.locator("#tickets .ticket-list tbody tr", has_text="CD-3").wait_for()
        await shopper.close()

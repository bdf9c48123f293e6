"""The console's Privacy panel in real headless Chromium: an admin exports and erases a shopper and reads
the audit log; an agent does not get the panel."""

import asyncio
import json

import pytest

from tests.browser import chromium, needs_chromium, screenshot
from tests.support import ServerProcess, Shopper, add_agent
from tests.test_privacy import add_admin, stored_counts

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def accounts(model_path, tmp_path_factory):
    """A server of its own with an admin and an agent."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path).start()
    add_admin(server.var_dir, "ada", "ada-password-1")
    add_agent(server.var_dir, "kai", "kai-password-1", languages="en")
    yield server
    server.stop()


async def console(browser, server, username: str):
    """A logged-in console page whose confirm() dialogs are accepted (and recorded)."""
    context = await browser.new_context(locale="en-US", accept_downloads=True)
    page = await context.new_page()
    page.dialogs, page.errors = [], []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        asyncio.ensure_future(dialog.accept())

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    await page.goto(server.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", f"{username}-password-1")
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def test_an_admin_exports_and_erases_a_shopper_from_the_console(accounts):
    server = accounts
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask("how long does shipping to France take?")
    await shopper.client.call("crossdesk:contact", {"email": "zoe@example.com", "name": "Zoé"}, timeout=15)

    async with chromium() as browser:
        agent = await console(browser, server, "kai")
        assert await agent.locator("#show-admin").is_hidden()
        admin = await console(browser, server, "ada")
        await admin.click("#show-admin")
        assert await admin.locator("#admin").is_visible() and await admin.locator("#history").is_hidden()

        await admin.fill("#shopper-form [name=email]", "zoe@example.com")
        async with admin.expect_download() as download_info:
            await admin.click("#shopper-form button.export-shopper")
        exported = json.loads((await (await download_info.value).path()).read_text())
        [conversation] = exported["conversations"]
        assert conversation["id"] == shopper.session_id
        assert conversation["contacts"] == [{"email": "zoe@example.com", "name": "Zoé"}]
        assert conversation["messages"][0]["text"] == "how long does shipping to France take?"

        await admin.click("#shopper-form button.delete-shopper")
        await admin.locator("#shopper-result", has_text="Deleted 1 conversation(s).").wait_for()
        assert admin.dialogs == ["Delete every conversation, message and contact of this shopper? "
                                 "This cannot be undone."]
        assert not any(stored_counts(server.var_dir, shopper.session_id).values())
        await admin.locator("#audit tr", has_text="shopper_delete").wait_for()
        rows = await admin.locator("#audit tr").all_inner_texts()
        assert any("shopper_export" in row and "ada" in row and "email-sha256:" in row for row in rows)
        assert not any("zoe@example.com" in row for row in rows)
        await screenshot(admin, "console-privacy")

        await admin.click("#shopper-form button.delete-shopper")  # nothing is left to delete
        await admin.locator("#shopper-result", has_text="Nothing is stored for this shopper.").wait_for()
        await admin.select_option("#ui-language", "ja")
        assert await admin.locator("#show-admin").inner_text() == "プライバシー"
        assert await admin.locator("#admin h3").inner_text() == "監査ログ"
        assert admin.errors == [] and agent.errors == []
    await shopper.close()

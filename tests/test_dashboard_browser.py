"""The KPI dashboard in real headless Chromium: an admin sees charts and tables of a seeded history."""

from __future__ import annotations

import re

import pytest

from handoff.store import SQLStore
from tests.browser import chromium, needs_chromium, open_page, screenshot
from tests.kpi_history import seed
from tests.support import ServerProcess

pytestmark = needs_chromium
# The console's strict policy (no inline script or style): the dashboard and Chart.js must live with it.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' blob: data:"


@pytest.fixture(scope="module")
def kpi_server(model_path, tmp_path_factory):
    var = tmp_path_factory.mktemp("dashboard")
    seeded = SQLStore(f"sqlite:///{var / 'crossdesk.db'}")
    seed(seeded)
    seeded.close()
    process = ServerProcess(var, model_path).start()
    yield process
    process.stop()


async def strict_console(browser, url: str, username: str, password: str):
    """The console served with a strict Content-Security-Policy, logged in as ``username``."""
    context = await browser.new_context(locale="en-US", accept_downloads=True, timezone_id="Asia/Tokyo")

    async def with_csp(route):
        response = await route.fetch()
        await route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})

    await context.route("**/console", with_csp)
    page = await open_page(context, url + "/console")
    page.violations = []
    page.on("console", lambda m: page.violations.append(m.text) if "Content Security Policy" in m.text else None)
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", password)
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    return page


async def rows(page, chart: str) -> list[list[str]]:
    return await page.eval_on_selector_all(
        f"#kpi-{chart} tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")


async def test_an_admin_sees_every_chart_with_its_table_and_exports_csv(kpi_server):
    async with chromium() as browser:
        page = await strict_console(browser, kpi_server.url, "aiko", "password-aiko")
        await page.click("#show-dashboard")
        await page.locator("#kpi-status").filter(has_text="Computed").wait_for()
        await page.fill("#kpi-form [name=from]", "2026-03-03")
        await page.fill("#kpi-form [name=to]", "2026-03-03")
        assert await page.input_value("#kpi-form [name=tz]") == "Asia/Tokyo"  # the browser's zone by default
        await page.click("#kpi-form button[type=submit]")
        # (a locator, not wait_for_function: Playwright's polling predicate is an eval the CSP refuses)
        await page.locator("#kpi-containment_by_language tbody tr:first-child td:nth-child(2)").filter(
            has_text=re.compile("^7$")).wait_for()

        assert (await rows(page, "containment_by_language"))[0] == ["(all)", "7", "2", "28.6"]
        assert await rows(page, "response_times") == [
            ["Queue wait", "5", "60", "120", "1"], ["Bot first response", "7", "2", "3", "–"],
            ["Person first response", "5", "40", "180", "1"], ["Resolution time", "4", "300", "1000", "–"]]
        assert await rows(page, "agents") == [["Aiko", "2", "2", "20", "1", "400"], ["Ben", "3", "3", "40", "3", "300"]]
        assert await rows(page, "not_understood") == [["fr", "blorp?", "2"], ["ja", "ほげほげ", "1"]]
        assert await rows(page, "csat_by_agent") == [["Aiko", "1", "5", "100", "0", "0", "0", "0", "1"],
                                                     ["Ben", "3", "3.67", "66.7", "0", "1", "0", "1", "1"]]
        assert await rows(page, "tickets") == [
            ["(all)", "4", "3", "2", "33.3"], ["de", "1", "0", "1", "0"], ["en", "1", "1", "1", "0"],
            ["fr", "1", "1", "0", "–"], ["ja", "1", "1", "0", "100"]]
        # Every chart but the message list is drawn by Chart.js on a canvas with the same numbers.
        drawn = await page.evaluate("""() => [...document.querySelectorAll('#kpi-charts canvas')].map(c => {
            const chart = window.Chart.getChart(c);
            return [c.closest('section').id, c.width > 100 && c.height > 100, chart.data.datasets[0].data];
        })""")
        assert [d[0] for d in drawn] == [
            "kpi-containment_by_language", "kpi-containment_by_intent", "kpi-lost_by_trigger",
            "kpi-handoffs_by_trigger_language", "kpi-response_times", "kpi-volume_by_hour", "kpi-volume_by_weekday",
            "kpi-agents", "kpi-tickets", "kpi-csat_by_language", "kpi-csat_by_agent"]
        assert all(d[1] for d in drawn)
        assert dict((d[0], d[2]) for d in drawn)["kpi-volume_by_weekday"] == [0, 7, 0, 0, 0, 0, 0]

        async with page.expect_download() as download:
            await page.click("#kpi-handoffs_by_trigger_language .kpi-csv")
        path = await (await download.value).path()
        assert open(path, encoding="utf-8").read().splitlines()[:2] == ["trigger,language,handoffs", "request_human,ko,2"]

        await page.select_option("#ui-language", "ja")
        await page.locator("#kpi-agents h3").filter(has_text="担当者別").wait_for()
        assert await page.locator("#empty").is_hidden() and await page.locator("#history").is_hidden()
        await screenshot(page, "dashboard")
        assert page.errors == [] and page.violations == []


async def test_an_agent_does_not_see_the_dashboard(kpi_server):
    async with chromium() as browser:
        page = await strict_console(browser, kpi_server.url, "ben", "password-ben")
        await page.locator("#show-history").wait_for()
        assert await page.locator("#show-dashboard").is_hidden()
        assert await page.locator("#dashboard").is_hidden()
        # The console's session is its HttpOnly cookie (no token in the page): logged in, yet refused.
        status = await page.evaluate("async () => (await fetch('/api/admin/kpis', {credentials: 'same-origin'})).status")
        assert status == 403
        assert not await page.evaluate("'Chart' in window")  # agents never download the chart library

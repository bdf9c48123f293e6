"""Real headless Chromium (Debian's ``chromium``) driven by Playwright, for the browser tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import AsyncIterator

import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS, ROOT

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
ARTIFACTS = Path(os.environ.get("CROSSDESK_TEST_ARTIFACTS", ROOT / "test-artifacts"))
WIDGET = "#crossdesk-widget"


@contextlib.asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator:
    """A headless browser (Debian's chromium)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(context, url: str):
    """A page at ``url`` that records dialogs and uncaught errors."""
    page = await context.new_page()
    page.dialogs, page.errors = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    await page.goto(url)
    return page


async def screenshot(page, name: str) -> None:
    """Keep a screenshot in the test-artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def send(page, text: str) -> None:
    """Type ``text`` into the widget and press Enter."""
    box = page.locator(f"{WIDGET} textarea")
    await box.fill(text)
    await box.press("Enter")


async def session_of(page) -> str:
    """The widget's session id, once it has one."""
    for _ in range(100):
        session = await page.evaluate("JSON.parse(localStorage.getItem('crossdesk.session'))")
        if session:
            return session
        await asyncio.sleep(0.1)
    raise AssertionError("no session")

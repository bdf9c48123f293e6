"""Message times in the widget follow the shopper's locale (real Chromium, real server)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.browser import WIDGET, chromium, needs_chromium, open_page

pytestmark = needs_chromium


def zone_where_it_is_2_pm() -> str:
    """A fixed-offset time zone whose clock shows 14:xx now (so 12- and 24-hour differ)."""
    offset = (14 - dt.datetime.now(dt.timezone.utc).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}"  # (POSIX sign: Etc/GMT-2 is UTC+2)


@pytest.mark.parametrize("locale, expected", [
    ("en-GB", r"1[45]:\d\d"),  # 24-hour
    ("en-US", r"[23]:\d\d\sPM"),  # 12-hour
])
async def test_message_times_use_the_shoppers_own_clock_format(server, locale, expected):
    async with chromium() as browser:
        context = await browser.new_context(locale=locale, timezone_id=zone_where_it_is_2_pm())
        page = await open_page(context, server.url + "/")
        await page.locator(f"{WIDGET} button.launcher").click()
        box = page.locator(f"{WIDGET} textarea")
        await box.fill("hello")
        await box.press("Enter")
        bot_time = page.locator(f"{WIDGET} .msg.bot .meta time").first
        await bot_time.wait_for(timeout=20000)
        shopper_meta = await page.locator(f"{WIDGET} .msg.shopper .meta").first.inner_text()  # "You · 14:05"
        for clock in (await bot_time.inner_text(), shopper_meta.split(" · ")[-1]):
            assert re.fullmatch(expected, clock), (locale, clock)
        assert page.errors == []

"""The agent desk of issue #19 as agents see it, in real headless Chromium against the app served in-process
(``create_app``, a fake bot that answers Korean in Korean; shoppers on real sockets):

- routing: a Korean conversation shows up in the Korean-speaking agent's queue first, saying why ("in your
  language"), and in the English-only agent's queue only after the widen delay ("machine translation"); a
  failed payment says "for your team: payments"; handoff reasons, senders and waits read in the agent's
  language;
- auto-assignment under a race of arrivals: every conversation lands in exactly one agent's console;
- a macro with no Korean text offered in a Korean conversation: machine-translated and marked so;
- a verified customer's earlier conversation, handled by another agent, opens read-only from the customer
  panel; notes and macros are edited and deleted in the panel; a ticket's history names who changed what.

Each screen state is checked with axe-core (WCAG 2.1 AA) as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import pytest
import pytest_asyncio

from harness.translation_server import FakeLibreTranslate
from tests.browser import chromium, needs_chromium, open_page, screenshot
from tests.inprocess import PASSWORD, closed, served, until
from tests.npm_packages import AXE, needs_npm_file
from tests.test_accessibility_browser import assert_accessible
from tests.test_routing import KoreanFakeBot

pytestmark = [needs_chromium, needs_npm_file(AXE), pytest.mark.asyncio(loop_scope="module")]
WIDEN = 5.0  # CROSSDESK_ROUTING_WIDEN_SECONDS on the routing server
SECRET = "desk-browser-identity-secret"
LIMIT = 3  # conversations per agent on the auto-assigning server
KOREAN_HANDOFF = "사람과 이야기하고 싶어요"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    translator = FakeLibreTranslate().start()  # answers "[ko] <text>"
    try:
        async with served(tmp_path_factory.mktemp("desk-browser"), bot=KoreanFakeBot(), routing_widen_seconds=WIDEN,
                          identity_secret=SECRET, translator="libre", translator_url=translator.url) as running:
            yield running
    finally:
        translator.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    async with chromium() as browser:
        yield browser


async def console(browser, desk, username: str, locale: str = "en-US", **account):
    """A logged-in console whose socket is connected (the agent is online)."""
    desk.agent_token(username, **account)
    page = await open_page(await browser.new_context(locale=locale, bypass_csp=True), desk.url + "/console")
    await page.fill("#login-form [name=username]", username)
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    agent_id = desk.app.ctx.agents.by_username(username).id
    await until(lambda: desk.app.ctx.presence.is_online(agent_id), timeout=10)
    return page


async def asked(desk, *messages: str, **say):
    """A shopper (socket) who said ``messages``, the last one handing them over; waits until queued."""
    shopper = await desk.shopper()
    for text in messages:
        assert (await shopper.say(text, **say))["ok"]
    await until(lambda: desk.app.ctx.store.get_conversation(shopper.session_id).state == "waiting", timeout=10)
    return shopper


async def test_a_korean_conversation_reaches_the_korean_agents_console_first_and_says_why(browser, desk):
    jiwoo = await console(browser, desk, "desk19-jiwoo", locale="ko-KR", languages=("ko", "en"))
    ella = await console(browser, desk, "desk19-ella", languages=("en",))
    desk.agent_token("desk19-pay", languages=("en",))
    desk.app.ctx.agents.update(desk.app.ctx.agents.by_username("desk19-pay").id, skills=["payments"])
    pay = await console(browser, desk, "desk19-pay")

    shopper = await asked(desk, KOREAN_HANDOFF)
    queued_at = time.monotonic()
    mine = jiwoo.locator(f"#queue li[data-id='{shopper.session_id}']")
    await mine.wait_for(timeout=WIDEN * 1000)
    reached_jiwoo = time.monotonic() - queued_at
    assert await mine.locator(".route").inner_text() == "내 언어 (ko)"  # why it is offered to me
    assert await mine.locator(".reason").inner_text() == "상담원 연결 요청"  # not the raw "request_human"
    assert await ella.locator(f"#queue li[data-id='{shopper.session_id}']").count() == 0
    await asyncio.sleep(1.2)  # the wait ticks on, in Korean units ("1초 대기"; it was "1s 대기")
    wait = await mine.locator(".wait").inner_text()
    assert "초" in wait and "s " not in wait, wait
    await assert_accessible(jiwoo)
    await screenshot(jiwoo, "desk-queue-routed-korean")

    theirs = ella.locator(f"#queue li[data-id='{shopper.session_id}']")
    await theirs.wait_for(timeout=(WIDEN + 5) * 1000)
    reached_ella = time.monotonic() - queued_at
    assert await theirs.locator(".route").inner_text() == "Open to every agent · machine translation"
    assert await theirs.locator(".reason").inner_text() == "Asked for a person"
    assert reached_jiwoo < WIDEN - 1 and reached_ella >= WIDEN - 0.3, (reached_jiwoo, reached_ella)

    payment = await asked(desk, "my card payment failed", "I want a human")
    entry = pay.locator(f"#queue li[data-id='{payment.session_id}']")
    await entry.wait_for(timeout=WIDEN * 1000)
    assert await entry.locator(".route").inner_text() == "For your team: payments"
    assert await ella.locator(f"#queue li[data-id='{payment.session_id}']").count() == 0

    await mine.locator("button.claim").click()
    await theirs.wait_for(state="detached", timeout=5000)  # taken: gone from the other console at once
    view = jiwoo.locator(f".conversation[data-id='{shopper.session_id}']")
    await view.locator(".msg.shopper .who").first.wait_for()
    assert await view.locator(".msg.shopper .who").first.inner_text() == "고객"  # not the raw "shopper"
    assert await view.locator(".msg.system .who").first.inner_text() == "시스템"
    # A macro written in English only: offered in Korean by machine translation, and marked so.
    jiwoo_id = desk.app.ctx.agents.by_username("desk19-jiwoo").id
    desk.app.ctx.desk_notes.add_macro(jiwoo_id, "Refund timing", "en",
                                      {"en": "Refunds take {refund_days} days."}, jiwoo_id)
    await view.locator("textarea.reply-text").press("Control+k")
    await view.locator(".macro-search").type("refund")
    option = view.locator(".macro-option[aria-selected=true]", has_text="Refund timing")
    await option.wait_for(timeout=5000)
    assert (await option.locator(".macro-text").inner_text()).startswith("[ko] Refunds take ")
    assert await option.locator(".translated-note").inner_text() == "en에서 기계 번역했습니다."
    await view.locator(".macro-search").press("Enter")
    assert (await view.locator("textarea.reply-text").input_value()).startswith("[ko] Refunds take ")
    await view.locator(".macro-warning", has_text="기계 번역").wait_for()
    await assert_accessible(jiwoo)

    await entry.locator("button.claim").click()
    for page in (jiwoo, ella, pay):
        assert page.errors == []
        await page.context.close()
    await closed(shopper, payment)


def sign(customer_id: str) -> str:
    return hmac.new(SECRET.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


async def test_an_earlier_conversation_another_agent_handled_opens_read_only_and_notes_and_macros_are_edited(
        browser, desk):
    user = {"id": "cust-19", "name": "Ren", "email": "ren@example.com"}
    earlier = await asked(desk, "I want a human", metadata={"user": {**user, "hash": sign("cust-19")}})
    other, _ = await desk.agent("desk19-olga", languages=("en",))
    assert (await other.call("claim", {"conversation_id": earlier.session_id}))["ok"]
    assert (await other.call("send", {"conversation_id": earlier.session_id, "text": "Refund sent to your card"}))["ok"]
    assert (await other.call("resolve", {"conversation_id": earlier.session_id, "outcome": "refund"}))["ok"]

    page = await console(browser, desk, "desk19-rosa", languages=("en",))
    later = await asked(desk, "I want a human", metadata={"user": {**user, "hash": sign("cust-19")}})
    await page.locator(f"#queue li[data-id='{later.session_id}'] button.claim").click(timeout=10000)
    view = page.locator(f".conversation[data-id='{later.session_id}']")
    link = view.locator(f".customer .earlier a[data-id='{earlier.session_id}']")
    await link.click(timeout=10000)
    viewer = page.locator("#viewer")
    await viewer.locator("h3", has_text="Earlier conversation of this customer (read-only)").wait_for(timeout=5000)
    await viewer.locator(".msg.agent", has_text="Refund sent to your card").wait_for()
    assert await viewer.locator(".msg.agent .who").inner_text() == "Desk19-Olga"  # its name, not "agent"
    assert await viewer.locator(".export-json").count() == 0  # read-only: for context, not to take away
    await assert_accessible(page)
    await screenshot(page, "desk-earlier-read-only")

    # Back to the conversation: a note is written, edited in place, then deleted.
    await page.locator(f"#mine li[data-id='{later.session_id}']").click()
    await view.locator(".note-input").fill("Asked for a refund twice")
    await view.locator(".add-note button").click()
    note = view.locator(".note-list li.note", has_text="Asked for a refund twice")
    await note.locator("button.edit").click()
    await note.locator("textarea.note-edit").fill("Asked for a refund three times")
    await assert_accessible(page)
    await note.locator(".edit-note button[type=submit]").click()
    await view.locator(".note-list li.note .text", has_text="Asked for a refund three times").wait_for(timeout=5000)
    assert note_texts(desk, later.session_id) == ["Asked for a refund three times"]
    await view.locator(".note-list li.note button.delete").click()
    await view.locator(".note-list li.muted", has_text="No notes yet.").wait_for(timeout=5000)
    assert note_texts(desk, later.session_id) == []

    # A macro is saved, edited, and given a German text beside its English one.
    await view.locator(".new-macro summary").click()
    form = view.locator(".new-macro form")
    await form.locator("[name=title]").fill("Refund timing")
    await form.locator("[name=text]").fill("Refunds take {refund_days} days.")
    await form.locator("button[type=submit]").click()
    item = view.locator(".own-macros li", has_text="Refund timing")
    await item.locator("button.edit").click()
    assert await form.locator("[name=text]").input_value() == "Refunds take {refund_days} days."
    await form.locator("[name=text]").fill("Refunds reach your card within {refund_days} days.")
    await assert_accessible(page)
    await form.locator("button[type=submit]").click()
    await view.locator(".desk-status", has_text="Macro saved.").wait_for()
    await item.locator("button.edit").click()
    await form.locator("[name=language]").select_option("de")
    assert await form.locator("[name=text]").input_value() == ""
    await form.locator("[name=text]").fill("Erstattungen dauern {refund_days} Tage.")
    await form.locator("button[type=submit]").click()
    await view.locator(".desk-status", has_text="Macro saved.").wait_for()
    rosa = desk.app.ctx.agents.by_username("desk19-rosa").id
    macro = next(m for m in desk.app.ctx.desk_notes.macros_for(rosa) if m["title"] == "Refund timing")
    assert macro["texts"] == {"en": "Refunds reach your card within {refund_days} days.",
                              "de": "Erstattungen dauern {refund_days} Tage."}
    # Followed up by ticket: its history names people and changes in words, not "agent:7 assignee_id null → 7".
    await view.locator("button.follow-up").click()
    await page.click("#show-tickets")
    row = page.locator("#tickets .ticket-list tbody tr").first
    await row.locator("button.link").click(timeout=10000)
    history = page.locator("#ticket-detail .ticket-history")
    await history.locator("li", has_text="opened the ticket").wait_for(timeout=5000)
    lines = await history.locator("li").all_inner_texts()
    assert any("Desk19-Rosa · opened the ticket" in line for line in lines), lines
    assert any("Desk19-Rosa · assignee Nobody → Desk19-Rosa" in line for line in lines), lines
    assert not any("agent:" in line or "assignee_id" in line or "null" in line for line in lines), lines
    await assert_accessible(page)
    assert page.errors == []
    await page.context.close()
    await closed(earlier, later, other)


def note_texts(desk, conversation_id: str) -> list[str]:
    return [note["text"] for note in desk.app.ctx.desk_notes.notes(conversation_id)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def auto(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("desk-browser-auto"), auto_assign=True,
                      agent_max_conversations=LIMIT) as running:
        yield running


async def test_a_race_of_arrivals_is_auto_assigned_and_each_conversation_shows_in_exactly_one_console(browser, auto):
    names = ("desk19-ada", "desk19-bea", "desk19-cai")
    pages = [await console(browser, auto, name) for name in names]
    shoppers = [await auto.shopper() for _ in range(len(names) * LIMIT + 2)]
    await asyncio.gather(*(s.say("I want a human") for s in shoppers))

    async def opened(page) -> list[str]:
        return await page.locator("#mine li").evaluate_all("(items) => items.map((item) => item.dataset.id)")

    deadline = time.monotonic() + 15
    while True:
        shown = [await opened(page) for page in pages]
        if sum(map(len, shown)) >= len(names) * LIMIT or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # later pushes must not assign anything more
    shown = [await opened(page) for page in pages]
    everyone = [cid for ids in shown for cid in ids]

    assert [len(ids) for ids in shown] == [LIMIT] * len(names)  # balanced, nobody over the limit
    assert len(set(everyone)) == len(everyone)  # no conversation in two consoles
    held = {c.id: c.agent_id for c in auto.app.ctx.store.conversations_in(("with_agent",))}
    ids = {name: auto.app.ctx.agents.by_username(name).id for name in names}
    for name, page_ids in zip(names, shown):
        assert all(held[cid] == ids[name] for cid in page_ids)  # each console shows what its agent holds
    waiting = {s.session_id for s in shoppers} - set(everyone)
    for page in pages:  # the two left over wait in every console's queue
        queued = await page.locator("#queue li").evaluate_all("(items) => items.map((item) => item.dataset.id)")
        assert set(queued) == waiting
    await screenshot(pages[0], "desk-auto-assigned")
    for page in pages:
        assert page.errors == []
        await page.context.close()
    await closed(*shoppers)


PHONE = {"width": 390, "height": 844}


async def fits(page, locator) -> dict:
    """The element's box, asserted to lie within the phone's width (nothing clipped or scrolled sideways)."""
    box = await locator.bounding_box()
    assert box is not None, locator
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (locator, box)
    return box


async def test_on_a_phone_the_routing_line_and_note_editing_fit_the_screen(browser, desk):
    desk.agent_token("desk19-phone", languages=("en",))
    context = await browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True)
    page = await open_page(context, desk.url + "/console")
    await page.fill("#login-form [name=username]", "desk19-phone")
    await page.fill("#login-form [name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.locator("#app").wait_for()
    shopper = await asked(desk, "I want a human")
    entry = page.locator(f"#queue li[data-id='{shopper.session_id}']")
    await entry.locator(".route", has_text="In your language (en)").wait_for(timeout=10000)
    for part in (entry, entry.locator(".route"), entry.locator("button.claim")):
        await fits(page, part)
    await entry.locator("button.claim").tap()

    view = page.locator(f".conversation[data-id='{shopper.session_id}']")
    await view.locator(".note-input").fill("Wants a call back " + "x" * 80)  # a long word must wrap
    await view.locator(".add-note button").tap()
    note = view.locator(".note-list li.note").first
    await note.locator("button.edit").wait_for()
    await note.scroll_into_view_if_needed()
    for part in (note, note.locator("button.edit"), note.locator("button.delete")):
        await fits(page, part)
    assert (await note.locator("button.edit").bounding_box())["height"] >= 44  # a finger's size
    await note.locator("button.edit").tap()
    for part in (note.locator("textarea.note-edit"), note.locator(".edit-note button[type=submit]")):
        await fits(page, part)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(page, "desk-phone-note-editing")
    await assert_accessible(page)
    assert page.errors == []
    await context.close()
    await closed(shopper)

"""Routing (handoff/routing.py) and the shopper's place in the queue (handoff/queue_position.py), in-process:
the app from ``create_app`` around a fake bot that answers Korean in Korean, real Socket.IO clients."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from bot.engine import BotReply
from tests.inprocess import FakeBot, closed, served

pytestmark = pytest.mark.asyncio(loop_scope="module")
WIDEN = 2.0  # CROSSDESK_ROUTING_WIDEN_SECONDS here


class KoreanFakeBot(FakeBot):
    """The fake bot, plus Korean (answered in Korean) and a failed payment."""

    ANSWERS = {**FakeBot.ANSWERS,
               "사람과 이야기하고 싶어요": ("request_human", "utter_request_human", "상담원을 연결해 드릴게요."),
               "my card payment failed": ("payment_failed", "utter_payment_failed", "Sorry, try another card.")}

    async def handle(self, text, sender_id, metadata=None) -> BotReply:
        reply = await super().handle(text, sender_id, metadata)
        if any("\uac00" <= ch <= "\ud7a3" for ch in text):
            reply = BotReply(language="ko", intent=reply.intent, confidence=reply.confidence, entities=[],
                             messages=[{**m, "language": "ko"} for m in reply.messages], paused=reply.paused)
        return reply


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("routing"), bot=KoreanFakeBot(), routing_widen_seconds=WIDEN) as running:
        yield running


def offered(conversation_id):
    return lambda data: any(entry["conversation_id"] == conversation_id for entry in data["queue"])


async def queued(desk, text: str):
    shopper = await desk.shopper()
    shopper.client.on("crossdesk:queue", shopper._recorder("crossdesk:queue"))
    await shopper.say(text)
    await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "system")  # the waiting notice
    return shopper


async def clear_queue(desk, agent):
    """Take every waiting conversation so the next test starts with an empty queue."""
    for entry in desk.app.ctx.handoffs.queue():
        await agent.call("claim", {"conversation_id": entry["conversation_id"]})


async def test_a_korean_conversation_reaches_the_korean_speaking_agent_first_and_everyone_after_the_delay(desk):
    minji, _ = await desk.agent("minji", languages=("ko",))
    emma, _ = await desk.agent("emma", languages=("en",))
    shopper = await queued(desk, "사람과 이야기하고 싶어요")
    queued_at = time.monotonic()

    _, first = await minji.expect("agent:queue", timeout=WIDEN, where=offered(shopper.session_id))
    _, later = await emma.expect("agent:queue", timeout=WIDEN + 3, where=offered(shopper.session_id))
    emma_waited = time.monotonic() - queued_at

    entry = next(e for e in first["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["language"] == "ko" and entry["offered"] == "language"
    assert emma_waited >= WIDEN - 0.2  # the English-only agent did not get it before the widen delay
    assert next(e for e in later["queue"] if e["conversation_id"] == shopper.session_id)["offered"] == "everyone"
    await clear_queue(desk, minji)
    await closed(shopper, minji, emma)


async def test_with_no_korean_speaker_online_everyone_gets_a_korean_conversation_at_once(desk):
    emma, _ = await desk.agent("emma", languages=("en",))
    shopper = await queued(desk, "사람과 이야기하고 싶어요")
    queued_at = time.monotonic()

    await emma.expect("agent:queue", timeout=WIDEN, where=offered(shopper.session_id))

    assert time.monotonic() - queued_at < WIDEN - 0.5
    await clear_queue(desk, emma)
    await closed(shopper, emma)


async def test_a_failed_payment_goes_to_the_payments_team_before_the_other_agents_of_its_language(desk):
    desk.agent_token("paula", languages=("en",))
    paula = desk.app.ctx.agents.by_username("paula")
    desk.app.ctx.agents.update(paula.id, skills=["payments"])
    payments, _ = await desk.agent("paula")
    other, _ = await desk.agent("oscar", languages=("en",))
    shopper = await desk.shopper()
    await shopper.say("my card payment failed")
    await shopper.expect("bot_uttered")
    await shopper.say("I want a human")
    queued_at = time.monotonic()

    _, first = await payments.expect("agent:queue", timeout=WIDEN, where=offered(shopper.session_id))
    await other.expect("agent:queue", timeout=WIDEN + 3, where=offered(shopper.session_id))

    entry = next(e for e in first["queue"] if e["conversation_id"] == shopper.session_id)
    assert entry["skill"] == "payments" and entry["offered"] == "skill"
    assert time.monotonic() - queued_at >= WIDEN - 0.2
    await clear_queue(desk, payments)
    await closed(shopper, payments, other)


async def test_the_shopper_sees_position_2_then_1_with_an_expected_wait_and_null_once_taken(desk):
    agent, _ = await desk.agent("watcher", languages=("en",))
    first = await queued(desk, "I want a human")
    second = await queued(desk, "I want a human")

    _, one = await first.expect("crossdesk:queue", where=lambda d: d["position"] is not None)
    _, two = await second.expect("crossdesk:queue", where=lambda d: d["position"] == 2)
    await agent.call("claim", {"conversation_id": first.session_id})
    _, moved = await second.expect("crossdesk:queue", where=lambda d: d["position"] == 1)
    _, taken = await first.expect("crossdesk:queue", where=lambda d: d["position"] is None)

    assert one["position"] == 1 and isinstance(one["expected_wait_seconds"], int)
    assert two["expected_wait_seconds"] >= one["expected_wait_seconds"] > 0
    assert moved["expected_wait_seconds"] <= two["expected_wait_seconds"]
    assert taken == {"position": None, "expected_wait_seconds": None}
    await clear_queue(desk, agent)
    await closed(first, second, agent)


async def test_a_tab_that_reconnects_while_queued_is_told_its_place_again(desk):
    agent, _ = await desk.agent("watcher2", languages=("en",))
    shopper = await queued(desk, "I want a human")
    await shopper.expect("crossdesk:queue", where=lambda d: d["position"] == 1)

    tab = await desk.shopper(session_id=shopper.session_id)
    tab.client.on("crossdesk:queue", tab._recorder("crossdesk:queue"))
    await tab.client.emit("session_request", {"session_id": shopper.session_id, "extensions": 1})
    _, again = await tab.expect("crossdesk:queue")

    assert again["position"] == 1
    await clear_queue(desk, agent)
    await closed(shopper, tab, agent)

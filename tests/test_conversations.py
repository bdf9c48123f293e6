"""handoff/conversations.py, in-process: a shopper message is stored, read by the bot, answered, and a turn that
calls for a person queues the conversation (the app from ``create_app`` around a fake bot: ``tests/inprocess.py``)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from tests.inprocess import closed, served

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("conversations")) as running:
        yield running


def stored(desk, session_id):
    return desk.app.ctx.store.transcript(session_id)


async def test_a_message_is_answered_by_the_bot_and_stored_with_what_the_bot_understood(desk):
    shopper = await desk.shopper()

    ack = await shopper.say("How long does shipping take", message_id="m-1")
    _, reply = await shopper.expect("bot_uttered")

    assert ack["ok"] and ack["message_id"] == "m-1" and not ack["duplicate"]
    assert reply == {"text": "About a week.", "id": reply["id"], "sender": "bot", "language": "en", "ts": reply["ts"]}
    said, answered = stored(desk, shopper.session_id)
    assert (said.sender, said.text, said.data["intent"], said.data["confidence"]) == (
        "shopper", "How long does shipping take", "shipping_time", 0.99)
    assert (answered.sender, answered.id) == ("bot", reply["id"])
    await closed(shopper)


async def test_a_resent_message_id_is_stored_and_answered_once(desk):
    shopper = await desk.shopper()

    first = await shopper.say("hello", message_id="same")
    await shopper.expect("bot_uttered")
    again = await shopper.say("hello", message_id="same")

    assert first["id"] == again["id"] and again["duplicate"] is True
    assert desk.bot.handled.count((shopper.session_id, "hello")) == 1
    assert [m.sender for m in stored(desk, shopper.session_id)] == ["shopper", "bot"]
    await closed(shopper)


async def test_two_fallbacks_in_a_row_queue_the_conversation_and_tell_the_shopper_no_one_is_online(desk):
    shopper = await desk.shopper()

    await shopper.ask("qwerty")
    await shopper.say("asdfgh")
    _, apology = await shopper.expect("bot_uttered")
    _, notice = await shopper.expect("bot_uttered")

    assert apology["sender"] == "bot" and apology["text"] == "Sorry, I didn't get that."
    assert notice["sender"] == "system" and notice["event"] == "utter_handoff_offline"  # no agent is connected
    conversation = desk.app.ctx.store.get_conversation(shopper.session_id)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "fallback")
    await closed(shopper)


async def test_repeated_out_of_scope_is_queued_and_kept_until_the_first_agent_comes_online(desk):
    # (Moved from tests/test_handoff.py, where it started a server and a Rasa model of its own.)
    shopper = await desk.shopper()
    first = await shopper.ask("I forgot my password")
    await shopper.say("my login doesn't work either")
    _, apology = await shopper.expect("bot_uttered")
    _, notice = await shopper.expect("bot_uttered")
    await shopper.say("my e-mail is test@example.com")

    agent, hello = await desk.agent("late")

    assert first["sender"] == apology["sender"] == "bot"
    assert notice["sender"] == "system" and "24 hours" in notice["text"]  # no agent was online: when to expect one
    [entry] = [e for e in hello["queue"] if e["conversation_id"] == shopper.session_id]
    assert entry["reason"] == "out_of_scope" and entry["last_message"] == "my e-mail is test@example.com"
    await closed(shopper, agent)


async def test_asking_for_a_person_drops_the_bots_promise_and_keeps_only_the_queue_notice(desk):
    shopper = await desk.shopper()

    await shopper.say("I want a human")
    _, first = await shopper.expect("bot_uttered")

    assert first["sender"] == "system"  # not the bot's "I'll connect you" before "our team is offline"
    assert [m.sender for m in stored(desk, shopper.session_id)] == ["shopper", "system"]
    await closed(shopper)


async def test_while_queued_the_bot_reads_messages_but_does_not_answer_them(desk):
    shopper = await desk.shopper()
    await shopper.say("my parcel is damaged")
    await shopper.expect("bot_uttered", where=lambda m: m["sender"] == "system")

    ack = await shopper.say("hello?")
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):  # (3.10: asyncio has its own)
        await shopper.expect("bot_uttered", timeout=0.5)

    assert ack["ok"]
    assert stored(desk, shopper.session_id)[-1].text == "hello?"
    assert (shopper.session_id, "hello?") not in desk.bot.handled  # relayed to the queue, not given to the bot
    await closed(shopper)

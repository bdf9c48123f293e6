"""Messages acknowledged just before a crash (SIGKILL) are answered after the restart, in order, once."""

import asyncio
import json
import sqlite3

from tests.support import ServerProcess, Shopper

# As many as a conversation may have waiting for the bot (max_pending_per_conversation): one more
# would be refused ``busy`` before it is stored, so at most this many can be left unanswered by a crash.
QUESTIONS = [
    "how long does shipping to Germany take?", "which payment methods do you accept?",
    "how long does shipping to France take?", "what is your return policy?",
    "how much is shipping to Austria?", "do you ship to Canada?", "how long does shipping to Spain take?",
    "can I pay with PayPal?", "how long does shipping to Italy take?", "how long does shipping to Korea take?",
]


def stored(var_dir, session_id: str) -> list[tuple[str, str, dict]]:
    """(sender, text, data) of every stored message of the session, in order, read from the database file."""
    with sqlite3.connect(var_dir / "crossdesk.db") as db:
        rows = db.execute("SELECT sender, text, data FROM messages WHERE conversation_id = ? ORDER BY id",
                          (session_id,)).fetchall()
    return [(sender, text, json.loads(data)) for sender, text, data in rows]


async def test_messages_acknowledged_before_a_crash_are_answered_once_after_the_restart(model_path, tmp_path):
    var = tmp_path / "var"
    first = ServerProcess(var, model_path).start()
    try:
        shopper = Shopper(first.url)
        session_id = await shopper.connect()
        for number, question in enumerate(QUESTIONS):  # a burst: each acknowledged once stored
            assert (await shopper.say(question, message_id=f"q{number}"))["ok"]
    finally:
        first.kill()  # right after the acks, while the bot is still answering
    before = stored(var, session_id)
    unanswered = [text for sender, text, data in before if sender == "shopper" and "intent" not in data]
    assert unanswered, "the bot answered the whole burst before the kill: nothing to recover"
    assert [text for sender, text, _ in before if sender == "shopper"] == QUESTIONS

    second = ServerProcess(var, model_path).start()
    try:
        shopper = Shopper(second.url)  # reconnects at once, while the answers are on their way
        await shopper.client.connect(second.url, transports=["websocket"])
        # With the extensions: the history and the messages' ids and senders are checked below.
        await shopper.client.emit("session_request", {"session_id": session_id, "extensions": 1})
        shopper.session_id = session_id
        resent = await shopper.say(QUESTIONS[-1], message_id=f"q{len(QUESTIONS) - 1}")
        assert resent["ok"] and resent["duplicate"] is True
        for _ in range(150):  # answered in the background once the bot is loaded
            after = stored(var, session_id)
            if sum(sender == "bot" for sender, _, _ in after) >= len(QUESTIONS):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # nothing is answered twice
        after = stored(var, session_id)
        shoppers = [(text, data) for sender, text, data in after if sender == "shopper"]
        assert [text for text, _ in shoppers] == QUESTIONS and all("intent" in data for _, data in shoppers)
        assert sum(sender == "bot" for sender, _, _ in after) == len(QUESTIONS)  # one answer each, none twice
        # In order: each recovered answer fits the question it follows.
        recovered = [text for sender, text, _ in after[len(before):] if sender == "bot"]
        assert len(recovered) == len(unanswered)
        for question, answer in zip(unanswered, recovered):
            country = next((c for c in ("Germany", "France", "Austria", "Spain", "Italy", "Korea", "Canada")
                            if c in question), None)
            assert country is None or country in answer, (question, answer)
        # The reconnected shopper got every one: live, or in the history if it was stored before the replay.
        seen = {}
        while not shopper.events.empty():
            name, data = shopper.events.get_nowait()
            for message in data["messages"] if name == "crossdesk:history" else [data] if name == "bot_uttered" else []:
                if message.get("sender") == "bot":
                    seen[message["id"]] = message["text"]
        assert [seen[key] for key in sorted(seen)][-len(recovered):] == recovered
        assert "recovery: answered" in second.log()
        await shopper.close()
    finally:
        second.stop()

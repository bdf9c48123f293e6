"""Reply cost independent of history: long conversations roll Rasa sessions, the store appends (issue #21).

In-process, on the real trained model and a SQLite tracker store.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from actions.actions import pending_topic
from actions.inprocess import InProcessActionEndpoint
from bot.engine import SESSION_EVENTS, BotEngine, build_agent
from bot.tracker_store import CachingSQLTrackerStore
from crossdesk import compat

TURNS = ["hi", "how long does shipping to Germany take?", "thanks!", "what is your return policy",
         "how much is shipping?", "bye"]


@pytest.fixture(scope="module")
def engine(model_path, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('trackers') / 'trackers.db'}"
    bot = BotEngine(lambda: build_agent(str(model_path), url, action_endpoint=InProcessActionEndpoint()),
                    awaiting_answer=pending_topic)
    bot.start()
    asyncio.run(bot.wait_ready(600))
    bot.url = url
    yield bot
    bot.stop()


def store_of(engine) -> CachingSQLTrackerStore:
    store = engine._agent.tracker_store
    return getattr(store, "_tracker_store", store)


def stored_rows(engine, sender_id: str) -> int:
    with sa.create_engine(engine.url).connect() as db:
        return db.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender_id}).scalar()


def test_a_long_conversation_keeps_a_bounded_tracker_and_its_slots(engine):
    async def talk():
        replies = []
        for turn in range(60):
            replies.append(await engine.handle(TURNS[turn % len(TURNS)], "long-1"))
        return replies

    replies = asyncio.run(talk())
    tracker = store_of(engine)._cache["long-1"]
    assert len(tracker.events) < SESSION_EVENTS + 15  # 60 turns are ~400 events without sessions
    assert tracker.get_slot("country") == "DE"  # carried over from turn 2 through every new session
    # "how much is shipping?" after 60 turns still knows the destination from long ago
    assert replies[-2].intent == "shipping_cost" and "Germany" in replies[-2].messages[0]["text"]


def test_after_a_restart_the_bot_sees_the_same_session_as_the_cache(engine):
    cached = store_of(engine)._cache["long-1"]
    fresh = CachingSQLTrackerStore(domain=engine._agent.domain, dialect="sqlite", db=engine.url.split("///")[1])
    reloaded = asyncio.run(fresh.retrieve("long-1"))
    def summary(tracker):
        return [(e.type_name, getattr(e, "text", None), getattr(e, "action_name", None), e.timestamp)
                for e in tracker.events]

    assert summary(reloaded) == summary(cached)
    assert reloaded.current_slot_values() == cached.current_slot_values()
    assert stored_rows(engine, "long-1") > 300  # the whole history is still stored


def test_a_tracker_with_many_events_saves_one_more_event_as_one_row(engine, monkeypatch):
    from rasa.shared.core.events import ConversationPaused, ConversationResumed

    for turn in range(8):
        asyncio.run(engine.handle(TURNS[turn % len(TURNS)], "append-1"))
    before = stored_rows(engine, "append-1")
    inserts = []

    def count_inserts(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    def by_driver(insert):  # (on SQLite a cached tracker's new events skip SQLAlchemy: crossdesk/compat.py)
        def counted(engine, table, rows, *statements):
            inserts.extend(["INSERT"] * bool(rows))
            return insert(engine, table, rows, *statements)
        return counted

    store = store_of(engine)
    sa.event.listen(store.engine, "before_cursor_execute", count_inserts)
    monkeypatch.setattr(compat, "_insert_event_rows", by_driver(compat._insert_event_rows))
    try:
        asyncio.run(engine.run_on_tracker("append-1", [ConversationPaused()]))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count_inserts)
    assert before > 40 and stored_rows(engine, "append-1") == before + 1
    assert len(inserts) == 1
    asyncio.run(engine.run_on_tracker("append-1", [ConversationResumed()]))


def test_a_paused_conversation_is_never_rolled_over_and_stays_paused(engine):
    from rasa.shared.core.events import ConversationPaused

    asyncio.run(engine.handle("hi", "paused-1"))
    asyncio.run(engine.run_on_tracker("paused-1", [ConversationPaused()]))
    replies = [asyncio.run(engine.handle(TURNS[turn % len(TURNS)], "paused-1")) for turn in range(70)]
    assert all(reply.paused and not reply.messages for reply in replies)
    events = store_of(engine)._cache["paused-1"].events
    assert len(events) > SESSION_EVENTS  # the agent's session is whole: no new session while paused
    assert sum(event.type_name == "session_started" for event in events) == 1

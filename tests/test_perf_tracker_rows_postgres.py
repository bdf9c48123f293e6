"""A conversation's next turn saved to PostgreSQL without an ORM session (issue #21, scaled-out CPU per reply).

``CachingSQLTrackerStore`` knows which events of a cached tracker are new; on PostgreSQL they
now go to the table in one INSERT on a pooled driver connection: the same rows, in the same
order, as Rasa's own ``SQLTrackerStore`` stores, and the same tracker rebuilt from them. A new
conversation is found absent without Rasa's ORM query. Real PostgreSQL.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ProgrammingError

from bot.tracker_store import CachingSQLTrackerStore

DOMAIN = Domain.from_dict({"slots": {"country": {"type": "text", "mappings": [{"type": "custom"}]}}})


def store_args(url: str) -> dict:
    parsed = make_url(url)
    return {"dialect": "postgresql", "host": parsed.host, "port": parsed.port, "db": parsed.database,
            "username": parsed.username, "password": parsed.password}


def first_turn() -> list:
    return [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1),
            ActionExecuted("action_listen", timestamp=1.2),
            UserUttered("hallo", {"name": "greet", "confidence": 0.99}, timestamp=1.3),
            ActionExecuted("utter_greet", timestamp=1.4), BotUttered("Hallo!", {"language": "de"}, timestamp=1.5),
            ActionExecuted("action_listen", timestamp=1.6)]


def next_turn() -> list:
    return [UserUttered("wie lange dauert der versand?", {"name": "shipping_time", "confidence": 0.93},
                        [{"entity": "country", "value": "DE", "start": 0, "end": 2}],
                        parse_data={"intent": {"name": "shipping_time", "confidence": 0.93}, "text": "wie lange"},
                        timestamp=2.0),
            SlotSet("country", "DE", timestamp=2.1), ActionExecuted("utter_shipping_time", timestamp=2.2),
            BotUttered("3-5 Werktage", {"language": "de"}, timestamp=2.3), ActionExecuted("action_listen", timestamp=2.4)]


def two_turns(store, sender_id: str) -> list[str]:
    """Save a first turn, then the next one on the tracker the store hands back; SQLAlchemy statements of the second."""
    asyncio.run(store.save(DialogueStateTracker.from_events(sender_id, first_turn())))
    tracker = asyncio.run(store.retrieve(sender_id))
    for event in next_turn():
        tracker.update(event)
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    asyncio.run(store.save(tracker))
    return statements


def rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(sa.text(
                "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"))]
    finally:
        engine.dispose()


@pytest.fixture
def two_databases(postgres_cluster):
    return postgres_cluster.create_database(), postgres_cluster.create_database()


def test_the_next_turn_is_rasas_rows_without_an_orm_session_and_rebuilds_the_same_tracker(two_databases):
    rasa_url, our_url = two_databases
    rasa_store = SQLTrackerStore(DOMAIN, **store_args(rasa_url))
    ours = CachingSQLTrackerStore(domain=DOMAIN, **store_args(our_url))
    two_turns(rasa_store, "shopper-pg")
    statements = two_turns(ours, "shopper-pg")

    assert statements == []  # (before: the INSERT, and the session's work, through SQLAlchemy)
    assert len(rows(our_url)) == 12 and rows(our_url) == rows(rasa_url)
    reloaded = asyncio.run(CachingSQLTrackerStore(domain=DOMAIN, **store_args(our_url)).retrieve("shopper-pg"))
    by_rasa = asyncio.run(SQLTrackerStore(DOMAIN, **store_args(rasa_url)).retrieve("shopper-pg"))
    assert [e.as_dict() for e in reloaded.events] == [e.as_dict() for e in by_rasa.events]
    assert reloaded.get_slot("country") == "DE" and reloaded.latest_message.intent["name"] == "shipping_time"


def test_a_failing_save_is_sqlalchemys_error_stores_nothing_and_the_next_turn_reads_sql_again(postgres_url):
    ours = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))
    asyncio.run(ours.save(DialogueStateTracker.from_events("shopper-err", first_turn())))
    tracker = asyncio.run(ours.retrieve("shopper-err"))
    for event in next_turn():
        tracker.update(event)
    with ours.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
    try:
        with pytest.raises(ProgrammingError):
            asyncio.run(ours.save(tracker))
    finally:
        with ours.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE events_away RENAME TO events"))
    assert len(rows(postgres_url)) == 7
    again = asyncio.run(ours.retrieve("shopper-err"))  # the half-saved tracker was dropped: rebuilt from SQL
    assert again is not tracker and again.latest_message.text == "hallo" and again.get_slot("country") is None


def test_a_new_conversation_is_found_absent_without_rasas_events_query_and_a_stored_one_still_found(postgres_url):
    ours = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))
    statements: list[str] = []
    sa.event.listen(ours.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert asyncio.run(ours.retrieve("new-shopper-pg")) is None
    assert statements == []  # (before: Rasa's ORM query with its latest-session subquery, twice per first turn)
    asyncio.run(ours.save(DialogueStateTracker.from_events("new-shopper-pg", first_turn() + next_turn())))
    reopened = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))  # (a restart: nothing cached)
    tracker = asyncio.run(reopened.retrieve("new-shopper-pg"))
    by_rasa = asyncio.run(SQLTrackerStore(DOMAIN, **store_args(postgres_url)).retrieve("new-shopper-pg"))
    assert [e.as_dict() for e in tracker.events] == [e.as_dict() for e in by_rasa.events]
    assert tracker.get_slot("country") == "DE"

"""A conversation's row and the bot's turn on PostgreSQL without SQLAlchemy's statement machinery (issue #21).

With several processes the rows are not cached, so each shopper message reads its row three
times; ``SQLStore.get_conversation`` and ``record_turn`` now run on a pooled driver connection:
the same conversation as SQLAlchemy's select, the same stored turn as on SQLite, the same errors.
Real PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from handoff.store import SQLStore
from handoff.store.sql import _conversation, conversations


@pytest.fixture
def store(postgres_url):
    store = SQLStore(postgres_url)
    yield store
    store.close()


def through_sqlalchemy(store, conversation_id):
    with store.engine.connect() as conn:
        row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
    return _conversation(row) if row else None


def test_a_conversation_read_is_the_one_sqlalchemy_reads_without_its_statement_machinery(store):
    store.ensure_conversation("pg-read", locale="de-AT", context={"page": "/cart", "cart": [1, 2]})
    store.update_conversation("pg-read", language="de", state="queued", waiting_since=12.5, handoff_reason="asked")
    statements = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    ours = store.get_conversation("pg-read")
    assert statements == []  # (before: the select went through SQLAlchemy's Connection)
    assert ours == through_sqlalchemy(store, "pg-read")
    assert (ours.language, ours.locale, ours.state, ours.waiting_since, ours.context) == \
        ("de", "de-AT", "queued", 12.5, {"page": "/cart", "cart": [1, 2]})
    assert store.get_conversation("nobody") is None
    assert store.ensure_conversation("pg-new").state == "bot"


def test_a_driver_error_is_sqlalchemys_and_the_store_carries_on(store):
    store.ensure_conversation("pg-error")
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE conversations RENAME TO conversations_away"))
    try:
        with pytest.raises(ProgrammingError):
            store.get_conversation("pg-error")
    finally:
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE conversations_away RENAME TO conversations"))
    for _ in range(3):  # (no connection left in an aborted transaction in the pool)
        assert store.get_conversation("pg-error").id == "pg-error"


def a_turn(store, conversation_id):
    store.ensure_conversation(conversation_id)
    shopper, _ = store.add_message(conversation_id, "shopper", "wie lange dauert der versand?")
    understanding = {"intent": "shipping_time", "confidence": 0.93}
    replies = [("3-5 Werktage", "de", {"response": "utter_shipping_time"}), ("Noch etwas?", "de", {})]
    bot = store.record_turn(conversation_id, shopper.id, understanding, "de", replies)
    with store.engine.connect() as conn:
        first_bot = conn.execute(text("SELECT first_bot_at FROM conversation_facts WHERE id = :id"),
                                 {"id": conversation_id}).scalar()
    return [(m.sender, m.text, m.language, m.data) for m in store.transcript(conversation_id)], bot, first_bot


def test_the_bots_turn_is_stored_as_on_sqlite_without_sqlalchemys_statement_machinery(store, tmp_path):
    sqlite = SQLStore(f"sqlite:///{tmp_path}/crossdesk.db")
    try:
        expected, _, _ = a_turn(sqlite, "pg-turn")
    finally:
        sqlite.close()
    statements = []
    store.ensure_conversation("pg-turn")
    event.listen(store.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]) if "messages SET" in args[2] else None)
    transcript, bot, first_bot = a_turn(store, "pg-turn")
    assert statements == []  # (before: the turn went through SQLAlchemy's Connection)
    assert transcript == expected and [m.id for m in bot] == [m.id for m in store.transcript("pg-turn")[1:]]
    assert first_bot == bot[0].created_at


def test_a_failing_turn_stores_nothing_and_raises_sqlalchemys_error(store):
    store.ensure_conversation("pg-turn-error")
    shopper, _ = store.add_message("pg-turn-error", "shopper", "hello")
    with pytest.raises(IntegrityError):  # (a bot reply to a conversation that is not there)
        store.record_turn("nobody", shopper.id, {"intent": "greet"}, "en", [("Hi!", "en", {})])
    assert [m.text for m in store.transcript("pg-turn-error")] == ["hello"]
    assert store.transcript("pg-turn-error")[0].data == {}  # (the shopper's row was not updated either)
    assert store.record_turn("pg-turn-error", shopper.id, {"intent": "greet"}, "en", [("Hi!", "en", {})])

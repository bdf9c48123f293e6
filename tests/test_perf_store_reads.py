"""A conversation row read on PostgreSQL without SQLAlchemy's statement machinery (issue #21), real PostgreSQL.

With several processes the rows are not cached, so each shopper message reads its row three
times; ``SQLStore.get_conversation`` now reads it on a pooled driver connection: the same
conversation as SQLAlchemy's select, the same errors.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import ProgrammingError

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

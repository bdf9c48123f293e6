"""Fewer round trips to PostgreSQL per shopper message (issue #21, scaled-out CPU per reply), and on
SQLite a conversation's read and update without SQLAlchemy's statement machinery (embedded CPU per reply).

Each shopper message reads its conversation row three times and stores the message once; the
statements PostgreSQL receives are read from its own statement log (``log_statement = all`` on
the test's database). A read or a language update is its one statement, on the thread's own
autocommit connection (no pool ping, no BEGIN/ROLLBACK around it; a lost connection is replaced and
the statement runs again); a message is stored without a savepoint around its insert; values,
repeated client ids and errors are as before. Real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time

import psycopg2
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import CachingSQLTrackerStore
from handoff.store import SQLStore
from harness.postgres import logged_statements
from handoff.store.records import NewMessage
from handoff.store.sql import _conversation, conversations



class StatementLog:
    """The statements PostgreSQL logged for one database since ``mark()``."""

    def __init__(self, cluster, url: str):
        database = url.rsplit("/", 1)[1]
        connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:  # (applies to connections opened from now on)
                cursor.execute(f'ALTER DATABASE "{database}" SET log_statement = \'all\'')
        finally:
            connection.close()
        self.path = cluster.dir / "postgres.log"
        self.offset = 0
        self.prepared: dict[str, str] = {}

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def since_mark(self) -> list[str]:
        """The statements run since ``mark()`` (a prepared one's ``EXECUTE`` as the statement; its one-time
        ``PREPARE`` on a connection left out): ``harness.postgres.logged_statements``."""
        with open(self.path, "rb") as log:
            lines = log.read().decode(errors="replace")
        logged_statements(lines[:self.offset].splitlines(), self.prepared)
        return logged_statements(lines[self.offset:].splitlines(), self.prepared)


@pytest.fixture
def logged(postgres_cluster, postgres_url):
    log = StatementLog(postgres_cluster, postgres_url)
    store = SQLStore(postgres_url)
    yield store, log
    store.close()


def test_a_conversation_read_is_one_statement_and_the_pooled_connections_stay_transactional(logged):
    store, log = logged
    store.ensure_conversation("rt-read", locale="fr-CA", context={"page": "/cart"})
    store.update_conversation("rt-read", language="fr")
    log.mark()
    conversation = store.get_conversation("rt-read")
    assert log.since_mark() == ["SELECT id,"]  # (before: SELECT 1, BEGIN, SELECT, ROLLBACK)
    assert (conversation.id, conversation.language, conversation.locale, conversation.context) == \
        ("rt-read", "fr", "fr-CA", {"page": "/cart"})
    assert store.get_conversation("nobody") is None
    # The pooled connection is back in transactions: a failing turn after a read still stores nothing.
    shopper, _ = store.add_message("rt-read", "shopper", "bonjour")
    with pytest.raises(IntegrityError):
        store.record_turn("rt-read", shopper.id, {"intent": "greet"}, "fr", [("Bonjour !", "fr", {}), (None, "fr", {})])
    assert [m.sender for m in store.transcript("rt-read")] == ["shopper"]
    assert "intent" not in store.transcript("rt-read")[0].data


def test_a_shopper_message_is_stored_without_a_savepoint_and_a_repeated_client_id_still_returns_the_original(logged):
    store, log = logged
    store.ensure_conversation("rt-store")
    log.mark()
    first, created = store.add_message("rt-store", "shopper", "where is my order?", client_id="c-1",
                                       data={"metadata": {"locale": "en"}})
    assert created
    # One statement with its KPI note, in autocommit (before: SELECT 1, BEGIN, INSERT, UPDATE
    # conversation_facts, COMMIT; before that also SAVEPOINT, RELEASE)
    assert log.since_mark() == ["WITH new"]
    again, created = store.add_message("rt-store", "shopper", "where is my order?", client_id="c-1")
    assert (again.id, again.text, again.data, created) == (first.id, "where is my order?",
                                                           {"metadata": {"locale": "en"}}, False)
    batch = store.add_messages([NewMessage("rt-store", "shopper", "one", client_id="c-2"),
                                NewMessage("rt-store", "shopper", "one again", client_id="c-2"),
                                NewMessage("rt-store", "shopper", "visa 4111 1111 1111 1111", client_id="c-3")])
    assert [(m.text, made) for m, made in batch] == [("one", True), ("one", False),
                                                     ("visa **** **** **** 1111", True)]
    assert [m.text for m in store.transcript("rt-store")] == ["where is my order?", "one",
                                                              "visa **** **** **** 1111"]
    with store.engine.connect() as conn:  # the KPI note of the first shopper message, as before
        assert conn.execute(text("SELECT first_shopper_id FROM conversation_facts WHERE id = 'rt-store'")).scalar() \
            == first.id
    with pytest.raises(IntegrityError):  # a driver error is SQLAlchemy's; nothing of the batch is kept
        store.add_messages([NewMessage("rt-store", "shopper", "kept?", client_id="c-4"),
                            NewMessage("no-such-conversation", "shopper", "orphan")])
    assert store.message_by_client_id("rt-store", "c-4") is None
    assert store.add_message("rt-store", "shopper", "still here")[1]  # the store carries on


def test_the_bots_turn_is_one_query_and_its_replies_keep_their_order(logged):
    store, log = logged
    store.ensure_conversation("rt-turn")
    shopper, _ = store.add_message("rt-turn", "shopper", "how long to Canada?")
    log.mark()
    replies = [(f"reply {n}", "en", {"n": n}) for n in range(5)]
    stored = store.record_turn("rt-turn", shopper.id, {"intent": "shipping_time"}, "en", replies)
    assert log.since_mark() == ["UPDATE messages"]  # (one query: the reading, the KPI note, the replies' INSERT)
    assert [(m.id, m.text, m.data) for m in stored] == \
        [(m.id, m.text, m.data) for m in store.transcript("rt-turn")[1:]] == \
        [(m.id, f"reply {n}", {"n": n}) for n, m in enumerate(stored)]
    assert store.transcript("rt-turn")[0].data == {"intent": "shipping_time"}
    assert store.record_turn("rt-turn", shopper.id, {"intent": "thank"}, None, []) == []
    assert (store.transcript("rt-turn")[0].data, store.transcript("rt-turn")[0].language) == ({"intent": "thank"}, "en")


def test_a_turns_new_tracker_events_are_one_insert(logged, postgres_url):
    from tests.test_perf_tracker_rows_postgres import DOMAIN, first_turn, next_turn, store_args

    _, log = logged
    trackers = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))
    asyncio.run(trackers.save(DialogueStateTracker.from_events("rt-events", first_turn())))
    tracker = asyncio.run(trackers.retrieve("rt-events"))
    for turn_event in next_turn():
        tracker.update(turn_event)
    asyncio.run(trackers.save(tracker))  # (the thread's connection is made: the pool pings it once)
    for turn_event in next_turn():
        tracker.update(turn_event)
    log.mark()
    asyncio.run(trackers.save(tracker))
    assert log.since_mark() == ["INSERT INTO"]  # (before: SELECT 1, BEGIN, INSERT, COMMIT)
    reopened = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))  # (nothing cached)
    assert [e.as_dict() for e in asyncio.run(reopened.retrieve("rt-events")).events] == \
        [e.as_dict() for e in tracker.events][1:]  # (Rasa reloads from the session_started event)


def test_postgresql_plans_a_statement_once_per_connection(logged):
    import threading

    store, log = logged
    store.ensure_conversation("rt-prepared")
    log.mark()
    reader = threading.Thread(target=lambda: [store.get_conversation("rt-prepared") for _ in range(3)])
    reader.start()  # (a thread's first read: its own new connection)
    reader.join()
    with open(log.path, "rb") as lines:
        lines.seek(log.offset)
        sent = [line.split("statement: ", 1)[1].split()[0] for line in lines.read().decode().splitlines()
                if "statement: " in line]
    # (before: three SELECTs, each parsed and planned; the pool's ping of the new connection aside)
    assert [word for word in sent if word != "SELECT"] == ["PREPARE", "EXECUTE", "EXECUTE", "EXECUTE"]
    assert log.since_mark() == ["SELECT 1"] * sent.count("SELECT") + ["SELECT id,"] * 3


def test_a_new_conversations_absent_tracker_is_one_lookup(logged, postgres_url):
    from tests.test_perf_tracker_rows_postgres import DOMAIN, store_args

    _, log = logged
    trackers = CachingSQLTrackerStore(domain=DOMAIN, **store_args(postgres_url))
    assert asyncio.run(trackers.retrieve("rt-absent-1")) is None  # (the thread's connection made, lookup prepared)
    log.mark()
    assert asyncio.run(trackers.retrieve("rt-absent-2")) is None
    assert log.since_mark() == ["SELECT 1"]  # (the lookup alone; before: the pool's SELECT 1, BEGIN, it, ROLLBACK)


def test_a_statement_whose_prepare_failed_is_prepared_again_next_time(logged):
    import threading

    store, _ = logged
    store.ensure_conversation("rt-unprepared")
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE conversations RENAME TO conversations_away"))
    found, failed = [], []

    def reader():  # (a new thread: its own connection, where the read was never prepared)
        try:
            store.get_conversation("rt-unprepared")
        except ProgrammingError as error:
            failed.append(error)
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE conversations_away RENAME TO conversations"))
        found.append(store.get_conversation("rt-unprepared").id)

    worker = threading.Thread(target=reader)
    worker.start()
    worker.join()
    assert len(failed) == 1 and found == ["rt-unprepared"]


def test_a_conversations_language_or_context_is_one_update(logged):
    store, log = logged
    store.ensure_conversation("rt-update", locale="ja-JP", context={"page": "/"})
    log.mark()
    store.update_conversation("rt-update", language="ja")
    assert log.since_mark() == ["UPDATE conversations"]  # (before: SELECT 1, BEGIN, UPDATE, COMMIT)
    store.update_conversation("rt-update", context={"skill": "billing"}, locale="ja")
    conversation = store.get_conversation("rt-update")
    assert (conversation.language, conversation.locale, conversation.context) == \
        ("ja", "ja", {"page": "/", "skill": "billing"})
    with pytest.raises(IntegrityError):  # (a driver error is SQLAlchemy's; the store carries on)
        store.update_conversation("rt-update", state=None)
    assert store.get_conversation("rt-update").state == "bot"


def terminate_connections(cluster, url: str) -> int:
    """Ends every connection to ``url``'s database, as a PostgreSQL restart would; returns how many."""
    connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            database = url.rsplit("/", 1)[1]
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                           (database,))
            ended = cursor.fetchone()[0]
            for _ in range(100):  # (pg_terminate_backend only signals: wait until they are gone)
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,))
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.02)
            return ended
    finally:
        connection.close()


def test_a_read_or_update_whose_connection_was_lost_runs_again_on_a_new_one_without_a_ping(logged, postgres_cluster,
                                                                                         postgres_url):
    store, log = logged
    store.ensure_conversation("rt-lost", locale="de-DE")
    assert terminate_connections(postgres_cluster, postgres_url) >= 1
    assert store.get_conversation("rt-lost").locale == "de-DE"  # (as the pool's ping did: no error)
    terminate_connections(postgres_cluster, postgres_url)
    store.update_conversation("rt-lost", language="de")
    log.mark()
    assert store.get_conversation("rt-lost").language == "de"
    assert log.since_mark() == ["SELECT id,"]
    # A write is never run twice: a connection PostgreSQL ended is found before it, without a round trip.
    terminate_connections(postgres_cluster, postgres_url)
    log.mark()
    assert store.add_message("rt-lost", "shopper", "noch da?", client_id="lost-1")[1]
    assert log.since_mark() == ["WITH new"]
    assert [m.text for m in store.transcript("rt-lost")] == ["noch da?"]


def test_each_thread_reads_on_its_own_connection_a_finished_threads_is_closed_and_close_ends_them(logged):
    import threading

    store, _ = logged
    store.ensure_conversation("rt-threads")
    seen, read, finish = [], threading.Barrier(4), threading.Barrier(4)

    def reader():
        seen.append(store.get_conversation("rt-threads").id)
        read.wait(10)
        finish.wait(10)

    workers = [threading.Thread(target=reader) for _ in range(3)]
    for worker in workers:
        worker.start()
    read.wait(10)
    drivers = [connection.dbapi_connection for connection in store._statements._open.values()]
    assert seen == ["rt-threads"] * 3 and len(set(drivers)) == 4  # (this thread's and the three workers')
    finish.wait(10)
    for worker in workers:
        worker.join()
    later = threading.Thread(target=lambda: store.get_conversation("rt-threads"))
    later.start()
    later.join()
    assert len(store._statements._open) == 2  # (this thread's and the last one's: the ended workers' closed)
    assert sum(1 for driver in drivers if driver.closed) == 3
    store.close()
    assert store._statements._open == {} and all(driver.closed for driver in drivers)


# -- the embedded default (a SQLite file) -------------------------------------------------------
@pytest.fixture
def sqlite_traced(tmp_path):
    """A SQLite store, the statements its driver connection runs, and those through SQLAlchemy."""
    store = SQLStore(f"sqlite:///{tmp_path / 'rt.db'}")
    driver, through_sqlalchemy = [], []
    store._driver_connection().set_trace_callback(lambda sql: driver.append(" ".join(sql.split()[:2])))
    event.listen(store.engine, "before_cursor_execute", lambda *args: through_sqlalchemy.append(args[2]))
    yield store, driver, through_sqlalchemy
    store.close()


def test_on_sqlite_a_language_switch_is_one_update_and_a_commit_on_the_driver_connection(sqlite_traced):
    store, driver, through_sqlalchemy = sqlite_traced
    store.ensure_conversation("rt-sqlite", locale="ko-KR", context={"page": "/"})
    driver.clear(), through_sqlalchemy.clear()
    store.update_conversation("rt-sqlite", language="ko")
    # (SQLite's trace repeats a statement for each trigger it fires; before, all went through SQLAlchemy)
    assert (list(dict.fromkeys(driver)), through_sqlalchemy) == (["BEGIN", "UPDATE conversations", "COMMIT"], [])
    store.update_conversation("rt-sqlite", context={"skill": "billing"}, locale="ko")
    conversation = store.get_conversation("rt-sqlite")
    assert through_sqlalchemy == []  # (the read too: the same SELECT on the driver connection)
    with store.engine.connect() as conn:  # what SQLAlchemy reads is the same
        row = conn.execute(select(conversations).where(conversations.c.id == "rt-sqlite")).first()
    assert conversation == _conversation(row)
    assert (conversation.language, conversation.locale, conversation.context) == \
        ("ko", "ko", {"page": "/", "skill": "billing"})
    assert store.get_conversation("nobody") is None
    with pytest.raises(IntegrityError):  # (a driver error is SQLAlchemy's; nothing kept; the store carries on)
        store.update_conversation("rt-sqlite", language="en", state=None)
    assert (store.get_conversation("rt-sqlite").state, store.get_conversation("rt-sqlite").language) == ("bot", "ko")
    store.update_conversation("rt-sqlite", language="en")
    assert store.get_conversation("rt-sqlite").language == "en"


def stored_rows(store, conversation_id):
    """The rows a new conversation left (times masked), read through SQLAlchemy."""
    with store.engine.connect() as conn:
        return {table: [tuple(value if not isinstance(value, float) else "time" for value in row)
                        for row in conn.execute(text(f"SELECT * FROM {table} WHERE {key} = :id"), {"id": conversation_id})]
                for table, key in (("conversations", "id"), ("transitions", "conversation_id"),
                                   ("conversation_facts", "id"))}


def test_on_sqlite_a_new_conversation_is_two_inserts_and_a_commit_with_the_rows_sqlalchemy_wrote(sqlite_traced, tmp_path):
    store, driver, through_sqlalchemy = sqlite_traced
    driver.clear(), through_sqlalchemy.clear()
    ours = store.ensure_conversation("rt-new", locale="de-CH", context={"page": "/cart"})
    assert (list(dict.fromkeys(driver)), through_sqlalchemy) == (
        ["SELECT id,", "BEGIN", "INSERT INTO", "COMMIT"], [])  # (the SELECT again after the commit)
    assert (ours.state, ours.locale, ours.context, ours.language) == ("bot", "de-CH", {"page": "/cart"}, None)
    before = SQLStore(f"sqlite:///{tmp_path / 'before.db'}")
    try:
        before._sqlite_path = None  # (as before: through SQLAlchemy)
        before.ensure_conversation("rt-new", locale="de-CH", context={"page": "/cart"})
        assert stored_rows(store, "rt-new") == stored_rows(before, "rt-new")
    finally:
        before.close()
    again = store.ensure_conversation("rt-new", locale="fr-FR")  # (another tab: the conversation as it is)
    assert (again.locale, again.created_at) == ("de-CH", ours.created_at)
    store._create_conversation_sqlite("rt-new", "fr-FR", "{}", 1.0)  # (created meanwhile: kept, no error)
    assert store.get_conversation("rt-new") == ours and len(stored_rows(store, "rt-new")["transitions"]) == 1

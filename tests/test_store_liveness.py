"""The store on a real PostgreSQL checks a pooled connection only when it sat idle (``handoff/store/liveness.py``)."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from handoff.store import SQLStore
from handoff.store.liveness import IDLE_SECONDS


def counting_pings(store: SQLStore) -> list:
    pings: list = []
    dialect = store.engine.dialect
    ping = dialect.do_ping
    dialect.do_ping = lambda connection: pings.append(1) or ping(connection)
    return pings


def test_a_connection_in_use_a_moment_ago_is_not_pinged_before_each_statement(postgres_url):
    store = SQLStore(postgres_url)
    store.ensure_conversation("s1")
    pings = counting_pings(store)
    for _ in range(20):
        assert store.get_conversation("s1").state == "bot"
    assert pings == []  # (pool_pre_ping: one SELECT 1 round trip before each of them)
    store.close()


def test_a_connection_postgresql_closed_while_it_sat_idle_is_replaced_before_use(postgres_url):
    store = SQLStore(postgres_url)
    store.ensure_conversation("s1")
    pings = counting_pings(store)
    admin = create_engine(postgres_url)
    with admin.connect() as connection:  # what a server restart does to every pooled connection
        ended = connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert ended >= 1
    time.sleep(IDLE_SECONDS + 0.2)
    assert store.get_conversation("s1").state == "bot"  # no error: checked, found closed, replaced
    assert pings
    store.close()

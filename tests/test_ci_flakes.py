"""Failures seen once in clean-clone CI runs, each provoked on purpose here.

Each test holds the lock or makes the timing that the CI run met by chance.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from handoff.presence import RedisPresence
from handoff.store import SQLStore
from handoff.store import migrate


def test_a_store_opens_a_new_sqlite_database_while_another_process_holds_its_write_lock(tmp_path):
    # What a process starting beside another one meets: the other holds the write lock of the new
    # (not yet WAL) file while switching it to WAL. SQLite's switch then failed at once with
    # "database is locked", without waiting, and the start failed (test_migrations'
    # processes-starting-together test, once on CI).
    path = tmp_path / "crossdesk.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_process_was_here (x INTEGER)")
    release = threading.Timer(0.5, holder.execute, ("COMMIT",))
    release.start()
    try:
        started = time.monotonic()
        store = SQLStore(f"sqlite:///{path}")
        waited = time.monotonic() - started
        try:
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert migrate.read_revision(conn) == migrate.head_revision()
        finally:
            store.close()
        assert waited >= 0.4  # it waited for the lock rather than getting past it some other way
    finally:
        release.join()
        holder.close()


async def test_presence_stop_ends_its_redis_tasks_whenever_it_comes(redis_url, caplog):
    # A stop that comes while the heartbeat or the room listener is inside a Redis command could
    # lose its cancellation in redis-py (handoff/presence.py, _cancelled): the task ran on, and a
    # CI run hung for good at a presence stop. Stops here come 0 to 6 loop turns after the start,
    # where the first commands are; before, 9 of these 21 stops (4 to 6 turns) left a task running.
    caplog.set_level(logging.WARNING, logger="handoff.presence")
    left_running = []
    for turns in list(range(7)) * 3:
        presence = RedisPresence(redis_url, heartbeat=0.1)
        await presence.start()
        tasks = [presence._task, presence._rooms_task]
        for _ in range(turns):
            await asyncio.sleep(0)
        await presence.stop()
        left_running += [turns for task in tasks if not task.done()]
        for task in tasks:
            task.cancel()
    assert left_running == [] and "left behind" not in caplog.text


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of this module's own: the test restarts it (the session's is shared)."""
    from harness.postgres import PostgresCluster, postgres_bin_dir

    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed: run scripts/ensure-services")
    cluster = PostgresCluster(postgres_bin_dir()).start()
    yield cluster
    cluster.stop()


def test_an_agent_logs_in_right_after_a_postgresql_restart_shorter_than_a_second(own_postgres):
    # A restart cuts every pooled connection. Main once checked a pooled connection only when it
    # had sat idle for 1 s (saving pool_pre_ping's round trip per checkout); a restart here takes
    # ~0.4 s, so a connection used just before it was handed out unchecked and the login's first
    # statement failed ("server closed the connection unexpectedly"). Both halves of a login
    # (handoff/api.py) must work at once after the restart.
    from handoff.store.agents import AgentStore

    store = SQLStore(own_postgres.create_database())
    try:
        agents = AgentStore(store)
        agents.add("flake-nadia", "flake-password-1", ["en"], "Nadia", "agent")
        assert agents.credentials("flake-nadia")[0] is not None  # (the pooled connection, used just now)
        own_postgres.restart()
        agent, stored = agents.credentials("flake-nadia")
        assert agent is not None and stored
        assert agents.agent_for_token(agents.issue_token(agent)).username == "flake-nadia"
    finally:
        store.close()


HANGING_TEST = '''
import time


def test_hangs_and_swallows_what_interrupts_it():
    while True:  # (like a loop teardown waiting for a task that lost its cancellation)
        try:
            time.sleep(0.2)
        except BaseException:
            pass
'''


def test_a_test_that_hangs_for_good_ends_the_run_with_its_traceback(tmp_path):
    # pytest-timeout's default (signal) method raises inside the hung code, which can swallow it:
    # the CI run hung for good. pytest.ini's method must end it and show where it hung.
    from tests.support import ROOT

    (tmp_path / "test_hanging.py").write_text(HANGING_TEST, encoding="utf-8")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(tmp_path),
                          "-p", "no:cacheprovider", "-o", "timeout=2", "-o", "addopts=", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and time.monotonic() - started < 30
    assert "Timeout" in run.stdout + run.stderr and "test_hangs_and_swallows_what_interrupts_it" in run.stdout + run.stderr

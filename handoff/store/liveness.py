"""Checking a pooled database connection before use only when it sat idle, not on every checkout.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: with PostgreSQL that was
6 of the 15 synchronous round trips the event loop made per bot reply (cProfile of one scaled-out
process, 200 replies), each one waiting for a PostgreSQL backend to be scheduled on a busy machine.
A connection used a moment ago is alive; one that sat idle may have been closed by a server
restart, so only that one is checked (and replaced, transparently, when the check fails). A
restart faster than the idle limit costs one failed statement, after which SQLAlchemy replaces
every pooled connection: the caller reports it as ``store_unavailable``, never a false success.
"""

from __future__ import annotations

import time
from functools import partial

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_SECONDS = 1.0


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_SECONDS) -> None:
    """Make ``engine``'s pool check a connection at checkout when it was idle ``idle_seconds`` or more."""
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", partial(_check_if_idle, engine, idle_seconds))


def _checked_in(dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _check_if_idle(engine: Engine, idle_seconds: float, dbapi_connection, record, proxy) -> None:
    checked_in = record.info.get("checked_in")
    if checked_in is None or time.monotonic() - checked_in < idle_seconds:
        return  # just connected, or in use a moment ago
    try:
        alive = engine.dialect.do_ping(dbapi_connection)  # (what pool_pre_ping runs: SELECT 1 in autocommit)
    except Exception as error:
        raise DisconnectionError("pooled connection is gone") from error  # the pool connects afresh
    if alive is False:
        raise DisconnectionError("pooled connection is gone")

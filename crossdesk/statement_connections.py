"""One PostgreSQL connection per thread, in autocommit, for single statements (each its own transaction).

A scaled-out server reads its conversation row ~3 times per shopper message (the rows are not
cached across processes) and often updates its language. Through the pool each of those was a
checkout with its ``pool_pre_ping`` (a ``SELECT 1`` round trip), the statement and a check-in:
about 5 % of a scaled-out server's CPU samples (py-spy --gil, 50 shoppers) and 3.7 of the ~25
statements PostgreSQL ran per reply. Here each thread keeps its own connection instead, and the
ping's job (a connection lost to a PostgreSQL restart is replaced, not reported) is done after
the fact: a statement that failed because its connection was lost runs once more on a new one.
Only for statements that give the same result when run twice (a read, an UPDATE setting values).

Writes that must not run twice (an INSERT) use :meth:`StatementConnections.write`: before it, the
connection is checked without a round trip (a connection PostgreSQL ended, by a restart or
``pg_terminate_backend``, has its notice or end of stream waiting on the socket) and replaced if
lost; a connection lost during the statement is reported, never retried. The stores use it for a
shopper message with its KPI note (one statement), the bot's turn and Rasa's new tracker events: per
reply ~10 fewer round trips (pool ping, BEGIN, COMMIT each) than the pool's transactions.
"""

from __future__ import annotations

import hashlib
import re
import select
import threading
from typing import Callable, Optional, TypeVar, Union

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")


class StatementConnections:
    """Per-thread autocommit driver connections taken out of ``engine``'s pool.

    Args:
        engine: a psycopg2 engine; its pool makes the connections (with its connect-time setup)
            and forgets them (``detach``), so the pool's own size is unchanged.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, object] = {}  # (every thread's, for close())

    def run(self, statement: str, parameters: tuple, use: Callable[[object], T]) -> T:
        """``use(cursor)`` after executing ``statement``; once more on a new connection if the
        connection was lost meanwhile. A driver error comes out as SQLAlchemy's (``OperationalError``
        while PostgreSQL is down)."""
        dbapi = self._engine.dialect.dbapi
        for attempt in (1, 2):
            connection = self._connection()  # (errors already SQLAlchemy's)
            try:
                with connection.dbapi_connection.cursor() as cursor:
                    cursor.execute(self._prepared(cursor, (statement,)), parameters)
                    return use(cursor)
            except dbapi.Error as error:
                lost = connection.dbapi_connection.closed
                if lost:
                    self._forget(connection)
                if not lost or attempt == 2:
                    raise DBAPIError.instance(statement, parameters, error, dbapi.Error) from error
        raise AssertionError("unreachable")

    def write(self, statements: Union[str, tuple[str, ...]], parameters, use: Callable[[object], T] = None) -> T:
        """``use(cursor)`` after executing ``statements`` once, as one transaction (several statements, with
        named parameters, go as one query: one round trip). Never run twice: a connection lost during it
        raises SQLAlchemy's error."""
        dbapi = self._engine.dialect.dbapi
        connection = self._connection()
        statements = (statements,) if isinstance(statements, str) else statements
        try:
            with connection.dbapi_connection.cursor() as cursor:
                cursor.execute(self._prepared(cursor, statements), parameters)
                return use(cursor) if use else None
        except dbapi.Error as error:
            if connection.dbapi_connection.closed:
                self._forget(connection)
            raise DBAPIError.instance("; ".join(statements), None, error, dbapi.Error) from error

    def _prepared(self, cursor, statements: tuple[str, ...]) -> str:
        """The query that runs ``statements``: ``EXECUTE`` of each, ``PREPARE``d on this thread's connection
        the first time it uses them (PostgreSQL then parses and plans each once per connection, not per
        call: a conversation's read cost its backend 77 µs, 20 µs prepared)."""
        prepared = self._local.prepared
        calls = []
        for statement in statements:
            known = prepared.get(statement)
            if known is None:
                if len(prepared) >= PREPARED_PER_CONNECTION:
                    calls.append(statement)
                    continue
                numbered, arguments = _numbered(statement)
                known = (_name(statement), arguments)
                cursor.execute(f"PREPARE {known[0]} AS {numbered}")
                prepared[statement] = known  # (only once it is: a PREPARE that failed is tried again next time)
            calls.append(f"EXECUTE {known[0]}({known[1]})" if known[1] else f"EXECUTE {known[0]}")
        return "; ".join(calls)

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None and (connection.dbapi_connection.closed or _ended(connection.dbapi_connection)):
            self._forget(connection)
            connection = None
        if connection is None:
            connection = self._engine.raw_connection()
            connection.detach()  # (the pool keeps its slot and no longer knows this connection)
            connection.dbapi_connection.autocommit = True
            self._local.connection = connection
            self._local.prepared = {}  # statement -> (its name on this connection, EXECUTE's arguments)
            with self._lock:
                ended = [thread for thread in self._open if not thread.is_alive()]
                stale = [self._open.pop(thread) for thread in ended]
                self._open[threading.current_thread()] = connection
            for old in stale:  # (a thread that ended leaves its connection behind)
                old.close()
        return connection

    def _forget(self, connection) -> None:
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            if self._open.get(threading.current_thread()) is connection:
                del self._open[threading.current_thread()]
        connection.close()

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            connections, self._open = list(self._open.values()), {}
        for connection in connections:
            connection.close()


PREPARED_PER_CONNECTION = 256
"""Statements a connection keeps prepared (ours are a few dozen; any more run unprepared)."""
_PARAMETER = re.compile(r"%(?:\((\w+)\))?s")


def _name(statement: str) -> str:
    """A prepared statement's name: the same for the same statement on every connection (logs read alike)."""
    return "crossdesk_" + hashlib.sha1(statement.encode()).hexdigest()[:16]


def _numbered(statement: str) -> tuple[str, str]:
    """``statement`` with PostgreSQL's ``$n`` for psycopg2's ``%s`` / ``%(name)s``, and the argument list
    (in psycopg2's placeholders) that ``EXECUTE`` passes for them."""
    names: list = []

    def number(match) -> str:
        name = match.group(1)
        if name is None or name not in names:
            names.append(name)
            return f"${len(names)}"
        return f"${names.index(name) + 1}"
    numbered = _PARAMETER.sub(number, statement)
    return numbered, ", ".join("%s" if name is None else f"%({name})s" for name in names)


def _ended(dbapi_connection) -> bool:
    """Whether PostgreSQL ended an idle connection: anything to read on its socket (an idle client is
    sent nothing else, since nothing here LISTENs) or a hang-up. A local check, no round trip."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def fetch_one(cursor) -> Optional[tuple]:
    """The first row a statement returned, or None."""
    return cursor.fetchone()


def nothing(_cursor) -> None:
    """For statements that return nothing."""
    return None

"""Schema migrations (Alembic): every start brings the database to the newest revision.

Revisions live in ``handoff/store/migrations/versions/`` as ``NNNN_name.py``
whose revision id is the file name (``0001_baseline``), one after another, so
the newest revision is known from the file names alone: a database already
at it costs one query and no Alembic import (importing Alembic takes ~0.2 s,
mostly SQLAlchemy dialect modules it loads). Only a database that needs work
loads Alembic, under a lock so that processes starting together upgrade it
once: PostgreSQL's advisory lock, SQLite's write lock (``BEGIN IMMEDIATE``).

A database made before migrations (the release-151fffb tables, no
``alembic_version``) is checked against the baseline and stamped
``0001_baseline``, then upgraded. A database at a revision this code does not
know (made by a newer release) is refused with ``SchemaError``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
BASELINE = "0001_baseline"
MADE_BEFORE_MIGRATIONS = "made before migrations"  # ``upgrade``'s "before" for such a database
# Any fixed 64-bit number: PostgreSQL advisory locks are named by numbers.
_PG_LOCK_KEY = 0x43524F53_5344534B  # "CROSSDSK"
_SQLITE_BUSY_MS = 5000  # the store's usual busy timeout (handoff/store/sql.py)
_SQLITE_UPGRADE_BUSY_MS = 120_000  # a start waits this long for another process's upgrade
_REVISION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")

# The tables and columns release 151fffb made with ``create_all`` (frozen: the baseline).
BASELINE_TABLES = {
    "conversations": {"id", "state", "language", "locale", "context", "agent_id", "handoff_reason",
                      "waiting_since", "created_at", "updated_at"},
    "messages": {"id", "conversation_id", "sender", "text", "language", "client_id", "data", "created_at"},
    "transitions": {"id", "conversation_id", "from_state", "to_state", "actor", "reason", "created_at"},
    "agents": {"id", "username", "password_hash", "display_name", "languages", "role", "created_at"},
    "agent_tokens": {"token_hash", "agent_id", "expires_at"},
}


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to this code's (message says why and what to do)."""


def revision_files() -> list[Path]:
    """The revision files, oldest first."""
    return sorted(path for path in VERSIONS_DIR.iterdir() if _REVISION_FILE.match(path.name))


def head_revision() -> str:
    """The newest revision id (the newest file's name)."""
    return revision_files()[-1].stem


def known_revisions() -> list[str]:
    """Every revision id this code has, oldest first."""
    return [path.stem for path in revision_files()]


def read_revision(conn: Connection) -> Optional[str]:
    """The revision stamped in the database, or None when it has no ``alembic_version``."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    if len(versions) > 1:
        raise SchemaError(f"database has several schema revisions {versions}; Crossdesk's history is linear")
    return versions[0] if versions else None


def ensure_schema(engine: Engine) -> None:
    """Bring the database to the newest revision (nothing to do costs one query)."""
    with engine.connect() as conn:
        current = read_revision(conn)
    if current != head_revision():
        upgrade(engine)


def upgrade(engine: Engine) -> tuple[Optional[str], str]:
    """Upgrade to the newest revision under a lock.

    Returns:
        (before, after): the revision before (None: empty database;
        ``MADE_BEFORE_MIGRATIONS``) and the newest revision.

    Raises:
        SchemaError: the database is newer than this code, or has some tables
            that are neither the baseline nor migrated ones.
    """
    head = head_revision()
    with _upgrade_lock(engine) as conn:
        current = read_revision(conn)
        before = current
        if current is not None and current not in known_revisions():
            raise SchemaError(
                f"the database schema is at revision {current!r}, newer than this Crossdesk (newest known: "
                f"{head!r}): it was upgraded by a newer release; run that release (or restore a backup)")
        if current == head:
            return before, head  # another process upgraded it while we waited for the lock
        from alembic import command

        config = _config(conn)
        if current is None and _check_made_before_migrations(conn):
            command.stamp(config, BASELINE)
            before = MADE_BEFORE_MIGRATIONS
            logger.info("database made before migrations: stamped %s", BASELINE)
        command.upgrade(config, "head")
    logger.info("database schema upgraded from %s to %s", before or "empty", head)
    return before, head


def _check_made_before_migrations(conn: Connection) -> bool:
    """True if the database holds release 151fffb's tables; False if it has none of them.

    Raises:
        SchemaError: some of them, or with other columns.
    """
    tables = set(inspect(conn).get_table_names())
    present = tables & BASELINE_TABLES.keys()
    if not present:
        return False
    missing = sorted(BASELINE_TABLES.keys() - present)
    if missing:
        raise SchemaError(f"the database has Crossdesk tables {sorted(present)} but not {missing} and no "
                          "alembic_version: it was not made by Crossdesk; use an empty database")
    for table, expected in BASELINE_TABLES.items():
        columns = {column["name"] for column in inspect(conn).get_columns(table)}
        if columns != expected:
            raise SchemaError(
                f"table {table!r} has columns {sorted(columns)}, not those of a Crossdesk database made before "
                f"migrations {sorted(expected)} (missing {sorted(expected - columns)}, extra "
                f"{sorted(columns - expected)}); fix it by hand or use an empty database")
    return True


@contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database's upgrade lock; commits at the end.

    PostgreSQL: a transaction-scoped advisory lock (its DDL is transactional,
    so a failed upgrade leaves nothing half done). SQLite: ``BEGIN IMMEDIATE``
    takes the write lock at once; its DDL is transactional too.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_UPGRADE_BUSY_MS}")
            conn.commit()
        transaction = conn.begin()
        try:
            if sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            yield conn
            transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
                conn.commit()


def _config(conn: Optional[Connection] = None):
    """Alembic configuration for our migrations (no alembic.ini), running on ``conn``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s")  # file name == revision id
    config.attributes["connection"] = conn
    return config


def describe(engine: Engine) -> str:
    """One line for operators: the database's revision and what ``db upgrade`` would do."""
    head = head_revision()
    with engine.connect() as conn:
        current = read_revision(conn)
        tables = set(inspect(conn).get_table_names())
    if current == head:
        return f"{current} (newest)"
    if current is not None and current not in known_revisions():
        return f"{current} (newer than this Crossdesk, whose newest is {head})"
    if current is not None:
        return f"{current} (behind: db upgrade brings it to {head})"
    if tables & BASELINE_TABLES.keys():
        then = "" if head == BASELINE else f", then brings it to {head}"
        return f"no revision: made before migrations (db upgrade checks its tables and stamps {BASELINE}{then})"
    return f"empty (db upgrade creates the schema at {head})"


MAX_REVISION_CHARS = 32  # Alembic's alembic_version.version_num column


def new_revision(message: str) -> Path:
    """Write the next revision, autogenerated from the difference between the models and the newest one.

    The comparison runs on a scratch SQLite database upgraded to the newest
    revision; review the file (PostgreSQL specifics are not compared there).
    """
    from alembic import command

    # alembic_version.version_num is VARCHAR(32): "NNNN_" plus at most 27 characters of slug.
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower())[:MAX_REVISION_CHARS - 5].strip("_") or "change"
    rev_id = f"{int(head_revision()[:4]) + 1:04d}_{slug}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/scratch.db", future=True)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                command.revision(_config(conn), message=message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    return VERSIONS_DIR / f"{rev_id}.py"

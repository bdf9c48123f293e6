"""SQL for shoppers' privacy: find a shopper's conversations, export them, delete them, find expired ones.

Every table of the store with a ``conversation_id`` column counts as part of a
conversation (messages, transitions, and whatever later features add), so an
export or a deletion never forgets a table. Rasa's tracker store lives in its
own database (``CROSSDESK_TRACKER_DB_URL``): its ``events`` rows are keyed by
``sender_id``, which is our session id.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import (
    Column, Integer, MetaData, String, Table, create_engine, delete, event, exists, func, inspect, select,
)
from sqlalchemy.engine import make_url

from handoff.store.sql import SQLStore, agent_tokens, audit_log, conversations, messages, metadata

BATCH = 500  # ids per statement: below SQLite's 999 bound variables, small enough to keep locks short
TRACKER_EVENTS = "events"  # Rasa 3.6 SQLTrackerStore's table (only the columns used here)
tracker_events = Table(TRACKER_EVENTS, MetaData(), Column("id", Integer, primary_key=True),
                       Column("sender_id", String(255)))


def conversation_tables() -> list:
    """The store's tables that hold rows of a conversation (children of ``conversations``)."""
    return [t for t in metadata.sorted_tables if t is not conversations and "conversation_id" in t.c]


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def emails_in(data: dict) -> set[str]:
    """Lower-cased e-mail addresses a message's data names (a left contact, ``metadata.user.email``)."""
    found = set()
    contact = data.get("contact") if data.get("event") == "contact" else None
    user = (data.get("metadata") or {}).get("user") if isinstance(data.get("metadata"), dict) else None
    for holder in (contact, user):
        if isinstance(holder, dict) and isinstance(holder.get("email"), str):
            found.add(holder["email"].strip().lower())
    return found


def _row(row) -> dict:
    values = dict(row._mapping)
    for key in ("data", "context", "details"):
        if isinstance(values.get(key), str):
            try:
                values[key] = json.loads(values[key])
            except ValueError:
                pass
    return values


def _sqlite_busy_timeout(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=5000")  # the bot thread writes the same file


class PrivacyStore:
    """Queries behind export, erasure and retention.

    Args:
        store: the conversation store.
        tracker_db_url: Rasa's tracker store URL (None: no tracker store to clean).
    """

    def __init__(self, store: SQLStore, tracker_db_url: Optional[str] = None):
        self.engine = store.engine
        self.tracker_db_url = tracker_db_url
        self._tracker_engine = None

    # -- finding -------------------------------------------------------------
    def conversation_ids_for_email(self, email: str) -> list[str]:
        """Every conversation where this e-mail was left as a contact or sent as ``metadata.user.email``.

        A LIKE on the JSON text narrows the rows (full scan of messages: an
        admin action, not a hot path); the JSON is then checked exactly.
        """
        needle = email.strip().lower()
        query = (select(messages.c.conversation_id, messages.c.data)
                 .where(func.lower(messages.c.data).like(_like_pattern(needle), escape="\\")))
        found = set()
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                try:
                    data = json.loads(row.data or "{}")
                except ValueError:
                    continue
                if isinstance(data, dict) and needle in emails_in(data):
                    found.add(row.conversation_id)
        return sorted(found)

    def expired(self, cutoff: float, limit: int = BATCH) -> list[str]:
        """Conversations whose last activity (state change or message) is older than ``cutoff``."""
        recent = exists().where(messages.c.conversation_id == conversations.c.id, messages.c.created_at >= cutoff)
        query = select(conversations.c.id).where(conversations.c.updated_at < cutoff, ~recent).limit(limit)
        with self.engine.connect() as conn:
            return [row.id for row in conn.execute(query)]

    def orphaned(self, cutoff: float, limit: int = BATCH) -> list[str]:
        """Ids of old messages whose conversation row is gone (a message that raced an erasure)."""
        known = exists().where(conversations.c.id == messages.c.conversation_id)
        query = (select(messages.c.conversation_id).where(messages.c.created_at < cutoff, ~known)
                 .group_by(messages.c.conversation_id).limit(limit))
        with self.engine.connect() as conn:
            return [row.conversation_id for row in conn.execute(query)]

    # -- export --------------------------------------------------------------
    def export(self, ids: list[str]) -> list[dict]:
        """Each conversation with every row that belongs to it, oldest first."""
        exported = []
        with self.engine.connect() as conn:
            for conversation_id in ids:
                row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
                entry = _row(row) if row else {"id": conversation_id}
                for table in conversation_tables():
                    query = select(table).where(table.c.conversation_id == conversation_id).order_by(*table.primary_key)
                    entry[table.name] = [_row(r) for r in conn.execute(query)]
                entry["contacts"] = [m["data"]["contact"] for m in entry.get("messages", [])
                                     if isinstance(m.get("data"), dict) and m["data"].get("event") == "contact"]
                if row or any(entry[t.name] for t in conversation_tables()):
                    exported.append(entry)
        return sorted(exported, key=lambda e: e.get("created_at") or 0)

    # -- deletion ------------------------------------------------------------
    def delete(self, ids: list[str]) -> dict[str, int]:
        """Delete the conversations and all their rows; counts per table."""
        counts = {table.name: 0 for table in conversation_tables()}
        counts["conversations"] = 0
        for chunk in _chunks(sorted(set(ids))):
            with self.engine.begin() as conn:
                for table in reversed(conversation_tables()):  # children first (ratings -> transitions)
                    counts[table.name] += conn.execute(
                        delete(table).where(table.c.conversation_id.in_(chunk))).rowcount
                counts["conversations"] += conn.execute(
                    delete(conversations).where(conversations.c.id.in_(chunk))).rowcount
        return counts

    def delete_tracker(self, ids: list[str]) -> int:
        """Delete Rasa's tracker events of these sessions; how many rows went."""
        engine = self._tracker()
        if engine is None or not ids:
            return 0
        if not inspect(engine).has_table(TRACKER_EVENTS):
            return 0
        table = tracker_events
        removed = 0
        for chunk in _chunks(sorted(set(ids))):
            with engine.begin() as conn:
                removed += conn.execute(delete(table).where(table.c.sender_id.in_(chunk))).rowcount
        return removed

    def tracker_event_count(self, conversation_id: str) -> int:
        """How many tracker events a session has (for checks and the export's summary)."""
        engine = self._tracker()
        if engine is None or not inspect(engine).has_table(TRACKER_EVENTS):
            return 0
        table = tracker_events
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)
                                .where(table.c.sender_id == conversation_id)).scalar()

    def delete_old_audit(self, cutoff: float) -> int:
        """Audit rows older than ``cutoff``."""
        with self.engine.begin() as conn:
            return conn.execute(delete(audit_log).where(audit_log.c.created_at < cutoff)).rowcount

    def delete_expired_tokens(self, now: Optional[float] = None) -> int:
        """Login tokens past their expiry."""
        with self.engine.begin() as conn:
            return conn.execute(delete(agent_tokens).where(agent_tokens.c.expires_at < (now or time.time()))).rowcount

    def _tracker(self):
        """An engine on the tracker database, or None when there is none (never creates a SQLite file)."""
        if self._tracker_engine is None and self.tracker_db_url:
            url = make_url(self.tracker_db_url)
            if url.get_backend_name() == "sqlite":
                if not url.database or url.database == ":memory:" or not Path(url.database).exists():
                    return None
                self._tracker_engine = create_engine(url, future=True)
                event.listen(self._tracker_engine, "connect", _sqlite_busy_timeout)
            else:
                self._tracker_engine = create_engine(url, future=True)
        return self._tracker_engine

    def close(self) -> None:
        """Release the tracker database's connections."""
        if self._tracker_engine is not None:
            self._tracker_engine.dispose()
            self._tracker_engine = None

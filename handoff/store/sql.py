"""SQL conversation store (SQLite file by default, PostgreSQL when scaled out).

Writes are small transactions; shopper messages that arrive together share
one (``handoff/store/group_commit.py``). SQLite runs in WAL mode with
``synchronous=NORMAL`` (a committed write survives a killed process; only an
OS crash can lose the last moments) on one reused connection per thread.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator, Optional

from sqlalchemy import (
    BigInteger, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
    UniqueConstraint, create_engine, event, exists, func, or_, select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import SingletonThreadPool

from handoff.store.closing import InUse
from handoff.store.kpi_facts import FIRST_BOT, note_messages, on_connection, pyformat, with_shopper_note
from handoff.store.masking import mask_card_numbers
from handoff.store.records import Conversation, NewMessage, StoredMessage
from crossdesk.statement_connections import StatementConnections, fetch_one, nothing
from handoff.store import migrate

metadata = MetaData()

conversations = Table(
    "conversations", metadata,
    Column("id", String(64), primary_key=True),
    Column("state", String(16), nullable=False, default="bot"),
    Column("language", String(16)),
    Column("locale", String(35)),
    Column("context", Text, nullable=False, default="{}"),
    Column("agent_id", Integer),
    Column("handoff_reason", String(64)),
    Column("waiting_since", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_conversations_updated", "updated_at"),  # retention, history search
)

# The rows of messages the KPI figures' partial indexes hold (the queries repeat these conditions).
NOT_UNDERSTOOD_ROWS = "sender = 'shopper' AND data LIKE '%nlu_fallback%'"
AGENT_ROWS = "sender = 'agent'"

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("sender", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("client_id", String(64)),
    Column("data", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("conversation_id", "client_id", name="uq_message_client_id"),
    Index("ix_messages_conversation", "conversation_id", "id"),
    Index("ix_messages_created", "created_at"),  # KPIs and retention read messages by time
    # KPIs: the in-range conversations from the index alone (0007_kpi_summary). Time first, like
    # ix_messages_created: led by sender, it made SQLite pick it for one conversation's agent replies.
    Index("ix_messages_created_sender", "created_at", "sender", "conversation_id"),
    # KPIs (0008_conversation_facts): partial indexes, so the figures read only their few rows. The
    # messages the bot did not understand: its LIKE must be written the same in the query (handoff/kpis.py).
    Index("ix_messages_not_understood", "created_at",
          sqlite_where=sql_text(NOT_UNDERSTOOD_ROWS), postgresql_where=sql_text(NOT_UNDERSTOOD_ROWS)),
    Index("ix_messages_agent", "created_at", sqlite_where=sql_text(AGENT_ROWS),
          postgresql_where=sql_text(AGENT_ROWS)),
)

transitions = Table(
    "transitions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_transitions_conversation", "conversation_id", "id"),  # bundles, KPIs, search by outcome
)


# The KPI dashboard's summary of each conversation (``id`` is the conversation's), kept by triggers in
# the same transaction as every message and transition written (migration 0008_conversation_facts,
# which documents each column). Not a child table for erasure: it goes with its conversation's row.
conversation_facts = Table(
    "conversation_facts", metadata,
    Column("id", String(64), primary_key=True),
    Column("language", String(16)),
    Column("first_shopper_id", Integer),
    Column("first_shopper_at", Float),
    Column("last_shopper_at", Float),  # to within an hour: see the migration
    Column("first_intent", Text),
    Column("first_bot_at", Float),
    Column("first_handoff_id", Integer),
    Column("first_handoff_at", Float),
    Column("first_handoff_reason", String(64)),
    # Covering (the report reads a range of them from the index alone): over 100,000 conversations a range
    # read through the table cost ~10x (0.2 s against 0.02 s of CPU here).
    Index("ix_conversation_facts_first_shopper", "first_shopper_at", "first_bot_at", "first_shopper_id", "language",
          "first_intent", "first_handoff_at", "first_handoff_reason", "id"),
    Index("ix_conversation_facts_last_shopper", "last_shopper_at", "first_shopper_at", "id"),
)

# The KPI dashboard's per-event summaries (migration 0011_kpi_facts_more documents each column): one row per
# transition into waiting/with_agent/resolved with what the report pairs it with, and agents' messages
# per agent and UTC quarter hour. Kept by a trigger on transitions and by add_messages (kpi_facts.py).
transition_facts = Table(
    "transition_facts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the transition's
    Column("conv_id", String(64), nullable=False),  # (not conversation_id: no child table for export)
    Column("to_state", String(16), nullable=False),
    Column("handoff", Integer, nullable=False),
    Column("reason", String(64)),
    Column("agent", String(64)),
    Column("at", Float, nullable=False),
    Column("language", String(16)),  # the conversation's (its language changes: kept by a trigger)
    Column("next_state", String(16)),
    Column("next_at", Float),
    Column("reply_id", Integer),
    Column("reply_at", Float),
    Column("reply_agent", String(64)),
    Column("started_at", Float),
    # Covering: each figure reads a range of it from the index alone (20,000 handoffs: 20 ms against 140 ms).
    Index("ix_transition_facts_state", "to_state", "at", "handoff", "next_state", "next_at", "reply_at", "reply_agent",
          "agent", "started_at", "reason", "language", "conv_id"),
    Index("ix_transition_facts_conversation", "conv_id", "id"),
)

agent_message_counts = Table(
    "agent_message_counts", metadata,
    Column("quarter", BigInteger, primary_key=True),  # created_at // 900 (first: the report reads a range)
    Column("agent", String(64), primary_key=True),
    Column("messages", Integer, nullable=False),
)


agents = Table(
    "agents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("languages", Text, nullable=False, default="[]"),
    Column("role", String(16), nullable=False, default="agent"),
    Column("created_at", Float, nullable=False),
    Column("deactivated_at", Float),  # set by `agents deactivate`: no login, tokens stop working
    # Skills/teams a waiting conversation is routed by (handoff/routing.py), a JSON list like languages.
    Column("skills", Text, nullable=False, default="[]", server_default="[]"),
)

agent_tokens = Table(
    "agent_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False),
    Column("expires_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", Integer),  # None: the command line or the server itself (retention)
    Column("action", String(32), nullable=False),
    Column("target", String(255)),
    Column("details", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Index("ix_audit_log_created", "created_at"),
    Index("ix_audit_log_agent", "agent_id", "created_at"),
)

# The studio's review inbox: shopper messages the bot missed (fallback, out of scope, low
# confidence, handoff), with what staff did about them (handoff/studio/inbox.py).
review_items = Table(
    "review_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, nullable=False, unique=True),
    Column("conversation_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(16)),
    Column("intent", String(64)),
    Column("confidence", Float),
    Column("reason", String(32), nullable=False),  # fallback, out_of_scope, low_confidence, handoff
    Column("trigger", String(64)),  # the handoff trigger, for reason handoff
    Column("state", String(16), nullable=False, default="open"),  # open, added, out_of_scope, dismissed
    Column("resolution", String(64)),  # the intent it was added to
    Column("acted_by", Integer),
    Column("acted_at", Float),
    Column("created_at", Float, nullable=False),
    Index("ix_review_items_state", "state", "message_id"),
    Index("ix_review_items_conversation", "conversation_id"),  # erasure
)

# Who changed which content file, when and how (the studio's edits; handoff/studio/content.py).
content_changes = Table(
    "content_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", Integer),
    Column("username", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # example, answer, fact
    Column("path", String(255), nullable=False),
    Column("summary", Text, nullable=False),
    Column("commit", String(64)),
    Column("created_at", Float, nullable=False),
    Index("ix_content_changes_created", "created_at"),
)

ratings = Table(  # CSAT: one per resolution (the ``resolved`` transition), handoff/csat.py
    "ratings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("resolution_id", Integer, ForeignKey("transitions.id"), nullable=False, unique=True),
    Column("agent_id", Integer),  # who resolved it
    Column("rating", Integer, nullable=False),
    Column("comment", Text),
    Column("language", String(16)),
    Column("created_at", Float, nullable=False),
    Index("ix_ratings_created", "created_at"),
)

attachments = Table(  # photos and PDFs (handoff/attachments.py); the bytes live in var/uploads
    "attachments", metadata,
    Column("id", String(32), primary_key=True),  # random: also the file's name on disk
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("message_id", Integer),  # the transcript message that shows it
    Column("uploader", String(64), nullable=False),  # "shopper" or "agent:<id>"
    Column("content_type", String(64), nullable=False),  # sniffed from the bytes, never the client's word
    Column("filename", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("created_at", Float, nullable=False),
    Index("ix_attachments_conversation", "conversation_id"),
)


# Tickets (#17): a request that outlives the chat. ``escalated`` is the highest announcement made
# ("", "due_soon", "overdue"): a compare-and-set on it stores each escalation once.
tickets = Table(
    "tickets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("source", String(16), nullable=False),  # contact | follow_up | left
    Column("priority", String(16), nullable=False, default="normal"),
    Column("assignee_id", Integer),
    Column("tags", Text, nullable=False, default="[]"),
    Column("language", String(16)),
    Column("email", String(254)),
    Column("name", String(100)),
    Column("due_at", Float, nullable=False),
    Column("escalated", String(16), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("solved_at", Float),
    Index("ix_tickets_status_due", "status", "due_at"),
    Index("ix_tickets_conversation", "conversation_id"),
    Index("ix_tickets_created", "created_at"),
    sqlite_autoincrement=True,  # a reference (CD-<id>) is never given again, not even after an erasure
)

# Its history and mail carry the conversation id too: a shopper's export and erasure find every row
# by conversation (handoff/store/privacy.py). Every change of a ticket, its private notes (kind "note": never shown to the shopper) and escalations.
ticket_events = Table(
    "ticket_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, nullable=False),  # (no foreign key: privacy deletion goes by conversation)
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Index("ix_ticket_events_ticket", "ticket_id", "id"),
    Index("ix_ticket_events_kind", "kind", "created_at"),
)

# Outgoing e-mail: queued in the same database so a restart keeps it; retried until sent.
outgoing_mail = Table(
    "outgoing_mail", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("message_id", Integer),
    Column("to_addr", String(254), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, default="queued"),  # queued | failed | sent
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Index("ix_outgoing_mail_due", "status", "next_attempt_at"),
    Index("ix_outgoing_mail_ticket", "ticket_id"),
)


# Issue #19, desk notes (handoff/desk_notes.py): agents' private notes and tags on a conversation
# (never sent to the shopper), saved replies (macros) and the shop's customer a conversation is linked
# to. Notes, tags and the customer link carry the conversation id: a shopper's export and erasure
# (handoff/store/privacy.py) find them like every other row of the conversation.
conversation_notes = Table(
    "conversation_notes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(64), ForeignKey("conversations.id"), nullable=False),
    Column("agent_id", Integer),
    Column("author", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_conversation_notes_conversation", "conversation_id", "id"),
)

conversation_tags = Table(
    "conversation_tags", metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id"), primary_key=True),
    Column("tag", String(32), primary_key=True),  # normalised: [a-z0-9-]{1,32}
    Column("agent_id", Integer),
    Column("created_at", Float, nullable=False),
    Index("ix_conversation_tags_tag", "tag", "conversation_id"),  # the history's tag filter
)

macros = Table(
    "macros", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer),  # None: shared with every agent (created by an admin)
    Column("title", String(80), nullable=False),
    Column("source_language", String(16), nullable=False),  # translated from when a language has no text
    Column("texts", Text, nullable=False, default="{}"),  # {language: text}
    Column("created_by", Integer),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_macros_owner", "owner_id"),
)

# One row per conversation whose widget passed a user (``Crossdesk.setUser``). Only ``verified`` rows
# (a correct HMAC of the id) are ever matched by ``customer_id``: an unsigned id is shown, never merged.
conversation_customers = Table(
    "conversation_customers", metadata,
    Column("conversation_id", String(64), ForeignKey("conversations.id"), primary_key=True),
    Column("customer_id", String(200), nullable=False),
    Column("email", String(254)),
    Column("name", String(200)),
    Column("verified", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_conversation_customers_customer", "customer_id", "verified"),
)


# Built once: executing a prepared construct skips per-call statement building.
_INSERT_MESSAGE = messages.insert()
# The relay's hot path on SQLite goes straight to a per-thread driver connection.
_MESSAGE_COLUMNS = ("conversation_id", "sender", "text", "language", "client_id", "data", "created_at")
_CLIENT_ID = _MESSAGE_COLUMNS.index("client_id")
_SQLITE_INSERT_MESSAGE = (f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)})"
                          f" VALUES ({', '.join('?' for _ in _MESSAGE_COLUMNS)})")

_PG_INSERT_MESSAGE = (f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)})"  # (psycopg2's paramstyle)
                      f" VALUES ({', '.join('%s' for _ in _MESSAGE_COLUMNS)}) RETURNING id")

# A repeated client id (the widget resending after a lost ack) inserts nothing and returns no row.
_PG_INSERT_MESSAGE_ONCE = _PG_INSERT_MESSAGE.replace(
    " RETURNING id", " ON CONFLICT ON CONSTRAINT uq_message_client_id DO NOTHING RETURNING id")
# A shopper message and its KPI note in one statement (``StatementConnections.write``).
_PG_STORE_SHOPPER_MESSAGE = with_shopper_note(_PG_INSERT_MESSAGE_ONCE + ", conversation_id, created_at, data")
_SENDER = _MESSAGE_COLUMNS.index("sender")


@functools.lru_cache(maxsize=64)
def _pg_turn(with_language: bool, replies: int) -> tuple[str, ...]:
    """``record_turn``'s statements for PostgreSQL (sent as one query), with named parameters: the bot's reading
    of the shopper message, then (with replies) the KPI note of the first bot message and the replies'
    INSERT, last, so that its ids are what the query returns."""
    statements = ["UPDATE messages SET data = %(data)s" + (", language = %(language)s" if with_language else "")
                  + " WHERE id = %(shopper)s"]
    if replies:
        statements.append(pyformat(FIRST_BOT))
        rows = ", ".join(f"(%(cid)s, 'bot', %(text{i})s, %(language{i})s, NULL, %(data{i})s, %(at)s)"
                         for i in range(replies))
        statements.append(f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)}) VALUES {rows} RETURNING id")
    return tuple(statements)


def _ids_in_order(cursor) -> list[int]:
    """The ids a multi-row INSERT returned, in the order of its rows (a sequence's, ascending)."""
    return sorted(row[0] for row in cursor.fetchall()) if cursor.description else []


def _record_turn_sqlite(raw: sqlite3.Connection, conversation_id: str, shopper_message_id: int,
                       understanding: dict, language: Optional[str],
                       bot_messages: list[tuple[str, Optional[str], dict]]) -> list[StoredMessage]:
    """``SQLStore.record_turn`` on a SQLite file, on the thread's driver connection.

    The same statements in one transaction as through SQLAlchemy, without its compilation and
    execution contexts: the bot's turn cost the event loop ~9 % of a reply's CPU samples that way
    (py-spy ``--gil``, 50 shoppers).
    """
    now = time.time()
    stored = []
    try:
        data = json.dumps(understanding, ensure_ascii=False)
        if language:
            raw.execute("UPDATE messages SET data = ?, language = ? WHERE id = ?", (data, language, shopper_message_id))
        else:
            raw.execute("UPDATE messages SET data = ? WHERE id = ?", (data, shopper_message_id))
        for text, message_language, message_data in bot_messages:
            row = (conversation_id, "bot", text, message_language, None,
                   json.dumps(message_data, ensure_ascii=False), now)
            message_id = raw.execute(_SQLITE_INSERT_MESSAGE, row).lastrowid
            stored.append(StoredMessage(message_id, conversation_id, "bot", text, message_language, None,
                                        message_data, now))
        note_messages(raw.executemany, "sqlite",
                      [(m.id, conversation_id, "bot", now, "{}") for m in stored[:1]])  # (the first is enough)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    return stored


def agent_took_part(agent_id: int):
    """Condition on ``transitions``: rows that put this agent on a conversation.

    An agent takes part by claiming or taking over (actor ``agent:<id>``) or by
    receiving a transfer (reason ``transfer:<id>``).
    """
    return or_(transitions.c.actor == f"agent:{agent_id}", transitions.c.reason == f"transfer:{agent_id}")


_SQLITE_BUSY_S = 5.0  # the busy timeout below, for the switch to WAL that does not wait by itself
_WAL_RETRY_S = 0.01


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
    cursor.close()


def _switch_to_wal(cursor, wait_s: float = _SQLITE_BUSY_S) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the write lock (up to ``wait_s``).

    The busy timeout does not cover this switch: it reads the database header
    (a shared lock), then needs the write lock, and SQLite answers "database is
    locked" at once, without calling the busy handler, when another connection
    already holds it (a read lock waiting on a write lock could deadlock). On a
    new database file, processes that start together (several workers, the CLI
    beside the server) all make this switch: 2 of 480 processes started 6 at a
    time on new files failed, and it fails every time while a connection holds
    the write lock.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(_WAL_RETRY_S)


def _noted(rows: list[tuple], ids: list[Optional[int]]) -> list[tuple]:
    """(id, conversation id, sender, created_at, data) of the rows just inserted, for the KPI summaries."""
    return [(message_id, row[0], row[1], row[6], row[5]) for row, message_id in zip(rows, ids)
            if message_id is not None]


def _is_repeated_client_id(error: Exception) -> bool:
    """The insert broke the unique (conversation, client id) constraint, not another one."""
    text = str(error)
    return "uq_message_client_id" in text or "messages.client_id" in text  # (PostgreSQL, SQLite wording)


def _masked(message: NewMessage) -> NewMessage:
    """The message with card numbers masked in its text and in an attached original (an agent's own wording)."""
    text = mask_card_numbers(message.text)
    translation = (message.data or {}).get("translation")
    original = translation.get("text") if isinstance(translation, dict) else None
    if isinstance(original, str) and mask_card_numbers(original) != original:
        message = replace(message, data={**message.data, "translation": {**translation,
                                                                         "text": mask_card_numbers(original)}})
    return message if text is message.text else replace(message, text=text)


def _conversation(row) -> Conversation:
    return Conversation(
        id=row.id, state=row.state, language=row.language, locale=row.locale,
        context=json.loads(row.context or "{}"), agent_id=row.agent_id, handoff_reason=row.handoff_reason,
        waiting_since=row.waiting_since, created_at=row.created_at, updated_at=row.updated_at,
    )


_ConversationRow = namedtuple("_ConversationRow", [column.name for column in conversations.c])
_CONVERSATION_BY_ID = (f"SELECT {', '.join(_ConversationRow._fields)} FROM conversations "  # (psycopg2's paramstyle)
                       "WHERE id = %s")
_SQLITE_CONVERSATION_BY_ID = _CONVERSATION_BY_ID.replace("%s", "?")
_SQLITE_NEW_CONVERSATION = ("INSERT INTO conversations (id, state, locale, context, created_at, updated_at)"
                            " VALUES (?, 'bot', ?, ?, ?, ?)")
_SQLITE_FIRST_TRANSITION = ("INSERT INTO transitions (conversation_id, from_state, to_state, actor, reason, created_at)"
                            " VALUES (?, NULL, 'bot', 'shopper', 'session_start', ?)")


def _message(row) -> StoredMessage:
    return StoredMessage(
        id=row.id, conversation_id=row.conversation_id, sender=row.sender, text=row.text,
        language=row.language, client_id=row.client_id, data=json.loads(row.data or "{}"),
        created_at=row.created_at,
    )


class SQLStore:
    """Conversations, their messages and state transitions.

    Args:
        url: SQLAlchemy URL (``sqlite:///var/crossdesk.db``, ``postgresql://...``).
    """

    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread. The pool closes a thread's connection once more threads than
        # pool_size have used it, even while that thread is using it (an ERROR with a traceback):
        # the event loop, the bot thread and every executor thread (logins, retention, KPIs,
        # recovery, erasure) stay well under 64.
        # check_same_thread=False: only so that close() (on the event loop's thread) can close them.
        options = ({"poolclass": SingletonThreadPool, "pool_size": 64, "connect_args": {"check_same_thread": False}}
                   if url.startswith("sqlite") else {"pool_pre_ping": True})  # (a server restart: reconnect, not fail)
        self.engine = create_engine(url, future=True, **options)
        self._in_use = InUse()  # (on SQLite, close() waits for threads still inside a statement)
        self._sqlite_path = None
        self._local = threading.local()
        self._driver_connections: list[sqlite3.Connection] = []
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # (Only SQLite's pool closes connections other threads hold; PostgreSQL's closes idle ones.)
            event.listen(self.engine, "checkout", self._in_use.checkout)
            event.listen(self.engine, "checkin", self._in_use.checkin)
            if self.engine.url.database and self.engine.url.database != ":memory:":
                self._sqlite_path = self.engine.url.database
        self._statements = StatementConnections(self.engine) if self.engine.dialect.driver == "psycopg2" else None
        migrate.ensure_schema(self.engine)  # (handoff/store/migrate.py: raises SchemaError if it cannot)

    @property
    def shares_commits(self) -> bool:
        """Whether ``add_messages`` writes a batch in one transaction (all or nothing).

        True on a SQLite file; elsewhere every message is its own transaction.
        """
        return self._sqlite_path is not None

    def _driver_connection(self) -> sqlite3.Connection:
        """This thread's own sqlite3 connection for the message insert (no pool checkout per message)."""
        raw = getattr(self._local, "connection", None)
        if raw is None:
            raw = sqlite3.connect(self._sqlite_path, check_same_thread=False)  # closed by close()
            _sqlite_pragmas(raw, None)
            self._local.connection = raw
            self._driver_connections.append(raw)
        return raw

    def close(self) -> None:
        """Release connections, once no thread is inside one (see handoff/store/closing.py)."""
        self._in_use.close_when_idle(self._close_now)

    def _close_now(self) -> None:
        for raw in self._driver_connections:
            raw.close()
        self._driver_connections.clear()
        if self._statements is not None:
            self._statements.close()
        self.engine.dispose()

    # -- conversations -------------------------------------------------------
    def get_conversation(self, conversation_id: str) -> Optional[Conversation]:
        """The conversation, or None."""
        if self.engine.dialect.driver == "psycopg2":
            return self._conversation_by_driver(conversation_id)
        if self._sqlite_path is not None:
            return self._conversation_sqlite(conversation_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
        return _conversation(row) if row else None

    def _conversation_by_driver(self, conversation_id: str) -> Optional[Conversation]:
        """``get_conversation`` on PostgreSQL: the same SELECT, on this thread's autocommit driver connection.

        With several processes the conversation rows are not cached (handoff/scaleout.py), so each
        shopper message reads its row three times (receive, state, answer); through SQLAlchemy's
        Connection, statement and result objects that was ~15 % of a scaled-out server's CPU
        samples (py-spy --gil, 50 shoppers), and a pool checkout with its ping ~5 % more
        (crossdesk/statement_connections.py). One statement is its own transaction: no BEGIN or
        ROLLBACK around it. A driver error comes out as SQLAlchemy's (``OperationalError`` while
        PostgreSQL is down, what the namespaces answer with a clear error).
        """
        row = self._statements.run(_CONVERSATION_BY_ID, (conversation_id,), fetch_one)
        return _conversation(_ConversationRow(*row)) if row else None

    def _conversation_sqlite(self, conversation_id: str) -> Optional[Conversation]:
        """``get_conversation`` on a SQLite file: the same SELECT on this thread's driver connection
        (no pool checkout, statement or result objects); a driver error comes out as SQLAlchemy's."""
        with self._in_use.using():
            try:
                row = self._driver_connection().execute(_SQLITE_CONVERSATION_BY_ID, (conversation_id,)).fetchone()
            except sqlite3.Error as error:
                raise DBAPIError.instance(_SQLITE_CONVERSATION_BY_ID, (conversation_id,), error, sqlite3.Error) \
                    from error
        return _conversation(_ConversationRow(*row)) if row else None

    def conversation_exists(self, conversation_id: str) -> bool:
        """Whether the conversation row is there (on SQLite without a pool checkout: it runs per message)."""
        if self._sqlite_path is not None:
            with self._in_use.using():
                row = self._driver_connection().execute("SELECT 1 FROM conversations WHERE id = ?",
                                                        (conversation_id,))
                return row.fetchone() is not None
        query = select(conversations.c.id).where(conversations.c.id == conversation_id)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def ensure_conversation(self, conversation_id: str, locale: Optional[str] = None,
                            context: Optional[dict] = None) -> Conversation:
        """Get the conversation, creating it (state ``bot``) if new."""
        existing = self.get_conversation(conversation_id)
        if existing:
            return existing
        now = time.time()
        if self._sqlite_path is not None:
            self._create_conversation_sqlite(conversation_id, locale, json.dumps(context or {}), now)
            return self.get_conversation(conversation_id)
        try:
            with self.engine.begin() as conn:
                conn.execute(conversations.insert().values(
                    id=conversation_id, state="bot", locale=locale,
                    context=json.dumps(context or {}), created_at=now, updated_at=now,
                ))
                conn.execute(transitions.insert().values(
                    conversation_id=conversation_id, from_state=None, to_state="bot",
                    actor="shopper", reason="session_start", created_at=now,
                ))
        except IntegrityError:
            pass  # created concurrently by another tab
        return self.get_conversation(conversation_id)

    def _create_conversation_sqlite(self, conversation_id: str, locale: Optional[str], context: str,
                                    now: float) -> None:
        """``ensure_conversation``'s two inserts in one transaction on this thread's driver connection.

        Through SQLAlchemy (two statements compiled per call) a new shopper's session request cost ~20 %
        of the event loop's CPU samples when 50 shoppers arrived at once (py-spy --gil). A conversation
        created meanwhile by another tab is kept as it is; a driver error comes out as SQLAlchemy's.
        """
        try:
            with self._sqlite_transaction(_SQLITE_NEW_CONVERSATION) as raw:
                raw.execute(_SQLITE_NEW_CONVERSATION, (conversation_id, locale, context, now, now))
                raw.execute(_SQLITE_FIRST_TRANSITION, (conversation_id, now))
        except IntegrityError:
            pass  # created concurrently by another tab

    @contextmanager
    def _sqlite_transaction(self, statement: str) -> Iterator[sqlite3.Connection]:
        """This thread's driver connection for one transaction: committed after the block, rolled back
        on any error; sqlite3's errors come out as SQLAlchemy's (``statement`` names the failing one)."""
        with self._in_use.using():
            raw = self._driver_connection()
            try:
                yield raw
                raw.commit()
            except sqlite3.Error as error:
                raw.rollback()
                raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error
            except BaseException:
                raw.rollback()
                raise

    def update_conversation(self, conversation_id: str, **values) -> None:
        """Set language, locale or context (context is merged)."""
        if "context" in values:
            current = self.get_conversation(conversation_id)
            merged = {**(current.context if current else {}), **(values["context"] or {})}
            values["context"] = json.dumps(merged)
        values["updated_at"] = time.time()
        if self.engine.dialect.driver == "psycopg2" and all(name in conversations.c for name in values):
            self._update_conversation_by_driver(conversation_id, values)
            return
        if self._sqlite_path is not None and all(name in conversations.c for name in values):
            self._update_conversation_sqlite(conversation_id, values)
            return
        with self.engine.begin() as conn:
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(**values))

    def _update_conversation_by_driver(self, conversation_id: str, values: dict) -> None:
        """``update_conversation`` on PostgreSQL: the same UPDATE, one statement on this thread's autocommit
        driver connection (no BEGIN/COMMIT, no pool checkout or ping; run again on a new connection if
        the old one was lost: it sets the same values). Through SQLAlchemy (a statement compiled per
        call, since the values differ) a shopper switching language cost ~3 % of a scaled-out server's
        CPU samples (py-spy --gil, bench.scaleout's 50 shoppers, whose messages change language every
        turn). Errors come out as SQLAlchemy's.
        """
        sql = f"UPDATE conversations SET {', '.join(f'{name} = %s' for name in values)} WHERE id = %s"
        self._statements.run(sql, (*values.values(), conversation_id), nothing)

    def _update_conversation_sqlite(self, conversation_id: str, values: dict) -> None:
        """``update_conversation`` on a SQLite file: the same UPDATE and commit on this thread's driver
        connection. Through SQLAlchemy (a statement compiled per call) a shopper switching language cost
        ~4.5 % of an embedded server's CPU samples (py-spy --gil, bench.scaleout's 50 shoppers, whose
        messages change language every turn). A driver error comes out as SQLAlchemy's; nothing is kept.
        """
        sql = f"UPDATE conversations SET {', '.join(f'{name} = ?' for name in values)} WHERE id = ?"
        with self._sqlite_transaction(sql) as raw:
            raw.execute(sql, (*values.values(), conversation_id))

    def transition(self, conversation_id: str, to_state: str, actor: str, reason: str,
                   from_states: tuple[str, ...], agent_id: Optional[int] = None,
                   max_load: Optional[int] = None, held_by: Optional[int] = None) -> bool:
        """Change state only if the current state is one of ``from_states`` (and, with ``held_by``,
        only while that agent holds the conversation: a transfer or a requeue that raced it has won).

        The check and the change are one UPDATE, so of two agents claiming the
        same conversation exactly one wins. Returns whether this call won.
        With ``max_load`` the same UPDATE also requires that ``agent_id`` holds
        fewer conversations than that (auto-assignment: no agent above the limit
        under a race); on PostgreSQL the agent's row is locked first, so two such
        claims for one agent count one after the other.
        """
        now = time.time()
        values = {"state": to_state, "updated_at": now, "agent_id": agent_id}
        if to_state == "waiting":
            values.update(handoff_reason=reason, waiting_since=now)
        conditions = [conversations.c.id == conversation_id, conversations.c.state.in_(from_states)]
        if held_by is not None:
            conditions.append(conversations.c.agent_id == held_by)
        if max_load is not None:
            held = conversations.alias("held")
            conditions.append(select(func.count()).select_from(held).where(
                held.c.state == "with_agent", held.c.agent_id == agent_id).scalar_subquery() < max_load)
        with self.engine.begin() as conn:
            if max_load is not None:  # (FOR UPDATE is left out on SQLite, whose writes are serial anyway)
                conn.execute(select(agents.c.id).where(agents.c.id == agent_id).with_for_update())
            current = conn.execute(select(conversations.c.state).where(conversations.c.id == conversation_id)).scalar()
            result = conn.execute(conversations.update().where(*conditions).values(**values))
            if result.rowcount != 1:
                return False
            conn.execute(transitions.insert().values(
                conversation_id=conversation_id, from_state=current, to_state=to_state,
                actor=actor, reason=reason, created_at=now))
        return True

    def agent_loads(self) -> dict[int, int]:
        """How many conversations each agent holds (agents holding none are left out), in one query."""
        query = (select(conversations.c.agent_id, func.count()).where(conversations.c.state == "with_agent")
                 .group_by(conversations.c.agent_id))
        with self.engine.connect() as conn:
            return {agent_id: count for agent_id, count in conn.execute(query) if agent_id is not None}

    def recent_queue_waits(self, limit: int = 20) -> list[float]:
        """How long the last ``limit`` conversations taken from the queue had waited (s), newest first."""
        waited = transitions.alias("waited")
        queued_at = (select(func.max(waited.c.created_at))
                     .where(waited.c.conversation_id == transitions.c.conversation_id,
                            waited.c.to_state == "waiting", waited.c.id < transitions.c.id).scalar_subquery())
        query = (select(transitions.c.created_at - queued_at)
                 .where(transitions.c.to_state == "with_agent", transitions.c.from_state == "waiting")
                 .order_by(transitions.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [float(w) for w in conn.execute(query).scalars() if w is not None]

    def conversations_in(self, states: tuple[str, ...], agent_id: Optional[int] = None) -> list[Conversation]:
        """Conversations in some states (optionally assigned to one agent), oldest first."""
        query = select(conversations).where(conversations.c.state.in_(states))
        if agent_id is not None:
            query = query.where(conversations.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            return [_conversation(row) for row in conn.execute(query.order_by(conversations.c.updated_at))]

    def last_messages(self, states: tuple[str, ...], sender: str) -> dict[str, StoredMessage]:
        """The newest message from ``sender`` of every conversation in ``states``, in one query."""
        in_states = select(conversations.c.id).where(conversations.c.state.in_(states))
        newest = (select(func.max(messages.c.id))
                  .where(messages.c.conversation_id.in_(in_states.scalar_subquery()), messages.c.sender == sender)
                  .group_by(messages.c.conversation_id))
        with self.engine.connect() as conn:
            rows = conn.execute(select(messages).where(messages.c.id.in_(newest.scalar_subquery())))
            return {row.conversation_id: _message(row) for row in rows}

    # -- messages ------------------------------------------------------------
    def add_message(self, conversation_id: str, sender: str, text: str, language: Optional[str] = None,
                    client_id: Optional[str] = None, data: Optional[dict] = None) -> tuple[StoredMessage, bool]:
        """Store a message. Returns (message, created); a repeated ``client_id`` returns the original."""
        return self.add_messages([NewMessage(conversation_id, sender, text, language, client_id, data)])[0]

    def add_messages(self, batch: list[NewMessage]) -> list[tuple[StoredMessage, bool]]:
        """Store several messages in order, in one transaction (one commit for all).

        Returns (message, created) per message; a repeated ``client_id`` (also
        within the batch) returns the original and stores nothing. Card numbers
        are masked first: the stored text, and so everything that reads it (the
        bot, the agent, the history), only has their last four digits.
        """
        batch = [_masked(m) for m in batch]
        now = time.time()
        rows = [(m.conversation_id, m.sender, m.text, m.language, m.client_id,
                 json.dumps(m.data or {}, ensure_ascii=False), now) for m in batch]
        ids = self._insert_messages(rows)
        results = []
        for message, message_id in zip(batch, ids):
            if message_id is None:
                original = self.message_by_client_id(message.conversation_id, message.client_id)
                results.append((original, False))
            else:
                results.append((StoredMessage(message_id, message.conversation_id, message.sender, message.text,
                                              message.language, message.client_id, message.data or {}, now), True))
        return results

    def _insert_messages(self, rows: list[tuple]) -> list[Optional[int]]:
        """Insert rows; the id of each, or None where its client id was already stored."""
        if self._sqlite_path is not None:
            return self._insert_sqlite(rows)
        if self.engine.dialect.driver == "psycopg2":
            return self._insert_by_driver(rows)
        return self._insert_sqlalchemy(rows)

    def _insert_sqlite(self, rows: list[tuple]) -> list[Optional[int]]:
        """All rows in one transaction on this thread's driver connection.

        A duplicate client id fails only its own statement; the others commit.
        """
        with self._in_use.using():
            return self._insert_rows(self._driver_connection(), rows)

    @staticmethod
    def _insert_rows(raw: sqlite3.Connection, rows: list[tuple]) -> list[Optional[int]]:
        ids: list[Optional[int]] = []
        try:
            for row in rows:
                try:
                    ids.append(raw.execute(_SQLITE_INSERT_MESSAGE, row).lastrowid)
                except sqlite3.IntegrityError as error:
                    if row[_CLIENT_ID] is None or not _is_repeated_client_id(error):
                        raise
                    ids.append(None)
            note_messages(raw.executemany, "sqlite", _noted(rows, ids))
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        return ids

    def _insert_by_driver(self, rows: list[tuple]) -> list[Optional[int]]:
        """``_insert_messages`` on PostgreSQL, on driver connections (no SQLAlchemy statement machinery:
        it was ~7 % of a scaled-out server's CPU samples, py-spy --gil, 50 shoppers).

        A repeated client id inserts nothing and returns no id (``ON CONFLICT ... DO NOTHING``), so no
        savepoint is needed to keep the others. One shopper message (every message of the shopper
        namespace: nothing batches them on PostgreSQL) is one statement with its KPI note, in
        autocommit on the thread's connection: one round trip instead of five (ping, BEGIN, INSERT,
        note, COMMIT). Others go in one transaction on a pooled connection. Errors come out as
        SQLAlchemy's, as from ``engine.begin()``.
        """
        if len(rows) == 1 and rows[0][_SENDER] == "shopper":
            inserted = self._statements.write(_PG_STORE_SHOPPER_MESSAGE, rows[0], fetch_one)
            return [inserted[0] if inserted else None]
        ids: list[Optional[int]] = []
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                for row in rows:
                    cursor.execute(_PG_INSERT_MESSAGE_ONCE, row)
                    inserted = cursor.fetchone()
                    ids.append(inserted[0] if inserted else None)
            finally:
                cursor.close()
            note_messages(on_connection(SimpleNamespace(dialect=self.engine.dialect, connection=raw)), "postgresql",
                          _noted(rows, ids))
            raw.commit()
        except self.engine.dialect.dbapi.Error as error:
            raw.invalidate()  # (rolled back with it; may be a lost connection: not back to the pool)
            raise DBAPIError.instance(_PG_INSERT_MESSAGE_ONCE, None, error, self.engine.dialect.dbapi.Error) \
                from error
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()
        return ids

    def _insert_sqlalchemy(self, rows: list[tuple]) -> list[Optional[int]]:
        """All rows in one transaction, each in a savepoint.

        On PostgreSQL a failed insert aborts its whole transaction; a savepoint
        confines a duplicate client id to its own row, as on SQLite.
        """
        ids: list[Optional[int]] = []
        with self.engine.begin() as conn:
            for row in rows:
                try:
                    with conn.begin_nested():
                        result = conn.execute(_INSERT_MESSAGE, dict(zip(_MESSAGE_COLUMNS, row)))
                    ids.append(result.inserted_primary_key[0])
                except IntegrityError as error:
                    if row[_CLIENT_ID] is None or not _is_repeated_client_id(error):
                        raise
                    ids.append(None)
            note_messages(on_connection(conn), conn.dialect.name, _noted(rows, ids))
        return ids

    def record_turn(self, conversation_id: str, shopper_message_id: int, understanding: dict,
                    language: Optional[str], bot_messages: list[tuple[str, Optional[str], dict]]) -> list[StoredMessage]:
        """In one transaction: what the bot understood of a shopper message, and its replies.

        Args:
            bot_messages: ``(text, language, data)`` per bot message, in order.
        """
        if self._sqlite_path is not None:
            with self._in_use.using():
                return _record_turn_sqlite(self._driver_connection(), conversation_id, shopper_message_id,
                                           understanding, language, bot_messages)
        if self.engine.dialect.driver == "psycopg2":
            return self._record_turn_by_driver(conversation_id, shopper_message_id, understanding, language,
                                               bot_messages)
        now = time.time()
        stored = []
        with self.engine.begin() as conn:
            values = {"data": json.dumps(understanding, ensure_ascii=False)}
            if language:
                values["language"] = language
            conn.execute(messages.update().where(messages.c.id == shopper_message_id).values(**values))
            for text, message_language, data in bot_messages:
                result = conn.execute(_INSERT_MESSAGE, {
                    "conversation_id": conversation_id, "sender": "bot", "text": text, "language": message_language,
                    "client_id": None, "data": json.dumps(data, ensure_ascii=False), "created_at": now,
                })
                stored.append(StoredMessage(result.inserted_primary_key[0], conversation_id, "bot", text,
                                            message_language, None, data, now))
            note_messages(on_connection(conn), conn.dialect.name,
                          [(m.id, conversation_id, "bot", now, "{}") for m in stored[:1]])  # (the first is enough)
        return stored

    def _record_turn_by_driver(self, conversation_id: str, shopper_message_id: int, understanding: dict,
                               language: Optional[str],
                               bot_messages: list[tuple[str, Optional[str], dict]]) -> list[StoredMessage]:
        """``record_turn`` on PostgreSQL: the same statements sent as one query (one implicit transaction)
        in autocommit on the thread's connection: one round trip instead of a pooled transaction's
        ping, BEGIN, statements and COMMIT, and none of SQLAlchemy's statement machinery (through it the
        bot's turn was ~8 % of a scaled-out server's CPU samples). Errors come out as SQLAlchemy's;
        nothing of the turn is kept."""
        now = time.time()
        parameters = {"data": json.dumps(understanding, ensure_ascii=False), "language": language,
                      "shopper": shopper_message_id, "cid": conversation_id, "at": now}
        for index, (text, message_language, message_data) in enumerate(bot_messages):
            parameters.update({f"text{index}": text, f"language{index}": message_language,
                               f"data{index}": json.dumps(message_data, ensure_ascii=False)})
        ids = self._statements.write(_pg_turn(bool(language), len(bot_messages)), parameters, _ids_in_order)
        return [StoredMessage(message_id, conversation_id, "bot", text, message_language, None, message_data, now)
                for message_id, (text, message_language, message_data) in zip(ids, bot_messages)]

    def message_by_client_id(self, conversation_id: str, client_id: str) -> Optional[StoredMessage]:
        """The message a client sent with this id, if stored."""
        with self.engine.connect() as conn:
            row = conn.execute(select(messages).where(
                messages.c.conversation_id == conversation_id, messages.c.client_id == client_id)).first()
        return _message(row) if row else None

    def transcript(self, conversation_id: str, after_id: int = 0, limit: int = 500) -> list[StoredMessage]:
        """Messages in order (optionally only those after ``after_id``)."""
        query = (select(messages)
                 .where(messages.c.conversation_id == conversation_id, messages.c.id > after_id)
                 .order_by(messages.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [_message(row) for row in conn.execute(query)]

    def update_message_data(self, message_id: int, **values) -> None:
        """Merge ``values`` into a stored message's data (e.g. its translation)."""
        with self.engine.begin() as conn:
            raw = conn.execute(select(messages.c.data).where(messages.c.id == message_id)).scalar()
            merged = {**json.loads(raw or "{}"), **values}
            conn.execute(messages.update().where(messages.c.id == message_id)
                         .values(data=json.dumps(merged, ensure_ascii=False)))

    def search(self, text: Optional[str] = None, language: Optional[str] = None, since: Optional[float] = None,
               until: Optional[float] = None, outcome: Optional[str] = None, limit: int = 50,
               agent_id: Optional[int] = None, tag: Optional[str] = None) -> list[dict]:
        """Past conversations, newest first, filtered by message or note text, language, date, outcome
        and tag (and, with ``agent_id``, to the ones that agent took part in)."""
        query = select(conversations)
        if agent_id is not None:
            query = query.where(exists().where(transitions.c.conversation_id == conversations.c.id,
                                               agent_took_part(agent_id)))
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(
                exists().where(messages.c.conversation_id == conversations.c.id,
                               messages.c.text.like(pattern, escape="\\")),
                exists().where(conversation_notes.c.conversation_id == conversations.c.id,
                               conversation_notes.c.text.like(pattern, escape="\\"))))
        if tag:
            query = query.where(exists().where(conversation_tags.c.conversation_id == conversations.c.id,
                                               conversation_tags.c.tag == tag))
        if language:
            query = query.where(conversations.c.language == language)
        if since is not None:
            query = query.where(conversations.c.updated_at >= since)
        if until is not None:
            query = query.where(conversations.c.created_at <= until)
        if outcome:
            query = query.where(exists().where(
                transitions.c.conversation_id == conversations.c.id, transitions.c.to_state == "resolved",
                transitions.c.reason == outcome))
        query = query.order_by(conversations.c.updated_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            found = [_conversation(row) for row in conn.execute(query)]
            summaries = [self._summary(conn, c) for c in found]
            # One query for every row's tags: 0.8 ms for 50 rows vs 68-86 ms with one query per row (SQLite, 2000
            # conversations, on the shared 2-core machine).
            tags: dict[str, list[str]] = {}
            for row in conn.execute(select(conversation_tags.c.conversation_id, conversation_tags.c.tag)
                                    .where(conversation_tags.c.conversation_id.in_([c.id for c in found]))
                                    .order_by(conversation_tags.c.tag)):
                tags.setdefault(row.conversation_id, []).append(row.tag)
            return [{**summary, "tags": tags.get(summary["conversation_id"], [])} for summary in summaries]

    def _summary(self, conn, conversation: Conversation) -> dict:
        count, first = conn.execute(select(func.count(messages.c.id), func.min(messages.c.id))
                                    .where(messages.c.conversation_id == conversation.id)).one()
        first_text = conn.execute(select(messages.c.text).where(messages.c.id == first)).scalar() if first else None
        outcome = conn.execute(select(transitions.c.reason).where(
            transitions.c.conversation_id == conversation.id, transitions.c.to_state == "resolved")
            .order_by(transitions.c.id.desc()).limit(1)).scalar()
        return {"conversation_id": conversation.id, "state": conversation.state, "language": conversation.language,
                "created_at": conversation.created_at, "updated_at": conversation.updated_at,
                "messages": count, "first_message": first_text, "outcome": outcome}

    def transitions(self, conversation_id: str) -> list[dict]:
        """State transitions in order, with who/why/when."""
        query = select(transitions).where(transitions.c.conversation_id == conversation_id).order_by(transitions.c.id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def last_message_id(self) -> int:
        """The id of the newest stored message (0 when there is none)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(messages.c.id))).scalar() or 0

    def shopper_messages_without_understanding(self, states: tuple[str, ...]) -> tuple[list[StoredMessage], list[dict]]:
        """Shopper messages no turn was recorded for (``record_turn`` never ran), oldest first,
        in conversations now in ``states``; and the transitions of those conversations, in order."""
        in_states = select(conversations.c.id).where(conversations.c.state.in_(states)).scalar_subquery()
        condition = (messages.c.sender == "shopper", messages.c.conversation_id.in_(in_states),
                     messages.c.data.notlike('%"intent": %'))  # answered ones have {"intent": ...}
        with self.engine.connect() as conn:
            found = [_message(row) for row in conn.execute(select(messages).where(*condition).order_by(messages.c.id))]
            with_them = select(messages.c.conversation_id).where(*condition).distinct().scalar_subquery()
            steps = [dict(row._mapping) for row in conn.execute(
                select(transitions).where(transitions.c.conversation_id.in_(with_them)).order_by(transitions.c.id))]
        return [m for m in found if "intent" not in m.data], steps

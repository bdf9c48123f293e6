"""What a new message changes in the KPI summaries, written in the same transaction as the message.

SQLite runs every insert trigger's program for every inserted row (25-40 µs
per message, measured in session 8), so the summaries of messages are kept by
``SQLStore``'s write paths instead (``add_messages``, ``record_turn``), with
one conditional statement per kind of message in the group commit:
- a shopper message changes ``conversation_facts`` only when it is its
  conversation's first (or earlier than the first), or written an hour or more
  after the recorded last (migration ``0008_conversation_facts``); otherwise
  the statement is a primary-key lookup and writes nothing;
- a bot message only when it is the conversation's first;
- the first agent message at or after a handoff answers it (``transition_facts.reply_*``), and
  ``agent_message_counts`` counts each agent's messages per UTC quarter hour
  (migration ``0011_kpi_facts_more``).
Transitions, the bot's reading of a message and deletions keep the summaries by
triggers (rare writes). Writers that insert rows straight into ``messages``
(tests, benchmarks) call :func:`note_messages` too.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from typing import Callable, Iterable, Optional

QUARTER = 900  # seconds
SLACK = 3600  # conversation_facts.last_shopper_at moves only this much at a time (0008_conversation_facts)

REPLY = ("UPDATE transition_facts SET reply_id = :id, reply_at = :at, reply_agent = :agent "
         "WHERE conv_id = :cid AND handoff = 1 AND reply_id IS NULL AND at <= :at")
COUNT = ("INSERT INTO agent_message_counts (quarter, agent, messages) VALUES (:quarter, :agent, :n) "
         "ON CONFLICT (quarter, agent) DO UPDATE SET messages = agent_message_counts.messages + excluded.messages")
FIRST_BOT = ("UPDATE conversation_facts SET first_bot_at = :at WHERE id = :cid "
             "AND (first_bot_at IS NULL OR first_bot_at > :at)")


def _shopper_statement(dialect: str) -> str:
    """The 0008 trigger's conditional UPDATE for a shopper message, with parameters for its row."""
    if dialect == "postgresql":
        intent = "CAST(:data AS JSON) ->> 'intent'"
        earliest, latest = "LEAST(first_shopper_at, :at)", "GREATEST(last_shopper_at, :at)"  # (they skip NULLs)
    else:
        intent = "CAST(json_extract(:data, '$.intent') AS VARCHAR)"
        earliest, latest = "min(coalesce(first_shopper_at, :at), :at)", "max(coalesce(last_shopper_at, :at), :at)"
    return ("UPDATE conversation_facts SET first_shopper_id = coalesce(first_shopper_id, :id), "
            f"first_intent = CASE WHEN first_shopper_id IS NULL THEN {intent} ELSE first_intent END, "
            f"first_shopper_at = {earliest}, last_shopper_at = {latest} "
            "WHERE id = :cid AND (first_shopper_id IS NULL OR first_shopper_at > :at "
            f"OR last_shopper_at <= :at - {SLACK})")


SHOPPER = {dialect: _shopper_statement(dialect) for dialect in ("sqlite", "postgresql")}


def with_shopper_note(insert: str) -> str:
    """PostgreSQL: ``insert`` (one shopper message, ``RETURNING id, conversation_id, created_at, data``)
    and the :data:`SHOPPER` note of the row it inserted, as one statement (no row, no note); returns
    the new id, or nothing. One round trip in autocommit instead of a transaction's five."""
    inserted = {name: f"(SELECT {column} FROM new)" for name, column in
                (("id", "id"), ("cid", "conversation_id"), ("at", "created_at"), ("data", "data"))}
    note = re.sub(r":(\w+)", lambda match: inserted[match.group(1)], SHOPPER["postgresql"])
    return f"WITH new AS ({insert}), note AS ({note}) SELECT id FROM new"


def on_connection(conn) -> Callable[[str, list[dict]], object]:
    """``executemany(sql, rows)`` for :func:`note_messages` on a SQLAlchemy connection, on a DB-API cursor of
    its transaction: measured per call on the bot's turn, a ``text()`` statement cost 130-180 µs of CPU,
    ``exec_driver_sql`` 70-110 µs (a fresh execution context each time), a cursor ~10 µs."""
    named = conn.dialect.paramstyle == "pyformat"  # (psycopg2: %(name)s; sqlite3 takes :name as it is)

    def executemany(sql: str, rows: list[dict]) -> None:
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(pyformat(sql) if named else sql, rows)
        finally:
            cursor.close()
    return executemany


@functools.lru_cache(maxsize=16)
def pyformat(sql: str) -> str:
    """``sql`` with psycopg2's named parameters (``%(name)s``) for its ``:name`` ones."""
    return re.sub(r":(\w+)", r"%(\1)s", sql)


def agent_of(data_json: str) -> Optional[str]:
    """The ``agent_id`` of a message's JSON data as text (as the report's SQL reads it), or None."""
    agent = json.loads(data_json or "{}").get("agent_id")
    return None if agent is None else str(agent)


def note_messages(executemany: Callable[[str, list[dict]], object], dialect: str,
                  stored: Iterable[tuple[int, str, str, float, str]]) -> None:
    """Record messages just inserted, in id order.

    Args:
        executemany: runs one SQL statement (named ``:params``) for each dict, in the messages' transaction
            (``sqlite3.Connection.executemany`` or a SQLAlchemy connection's ``execute(text(...), rows)``).
        dialect: ``sqlite`` or ``postgresql``.
        stored: ``(message id, conversation id, sender, created_at, data as JSON text)`` per message.
    """
    shopper, bot, agent = [], [], []
    for message_id, cid, sender, at, data in stored:
        if sender == "shopper":
            shopper.append({"id": message_id, "cid": cid, "at": at, "data": data})
        elif sender == "bot":
            bot.append({"cid": cid, "at": at})
        elif sender == "agent":
            agent.append({"id": message_id, "cid": cid, "at": at, "agent": agent_of(data)})
    if shopper:
        executemany(SHOPPER[dialect], shopper)
    if bot:
        executemany(FIRST_BOT, bot)
    if agent:
        executemany(REPLY, agent)
        counts = Counter((int(r["at"] // QUARTER), r["agent"]) for r in agent if r["agent"] is not None)
        if counts:
            executemany(COUNT, [{"quarter": q, "agent": a, "n": n} for (q, a), n in counts.items()])

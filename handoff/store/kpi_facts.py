"""What an agent's message changes in the KPI summaries, written in the same transaction as the message.

Migration ``0011_kpi_facts_more`` keeps ``transition_facts`` by a trigger on
``transitions`` (a few rows per conversation). Agents' messages are far more
numerous and SQLite runs every insert trigger's program for every inserted row
(25-40 µs each, measured in session 8), so ``SQLStore.add_messages`` notes them
here instead, with at most two statements per group commit:
- the first agent message at or after a handoff answers it (``reply_*``);
- ``agent_message_counts`` counts each agent's messages per UTC quarter hour.
Writers that insert rows straight into ``messages`` (tests, benchmarks) call
:func:`note_agent_messages` too, or :func:`recount_agent_messages` afterwards.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Iterable, Optional

QUARTER = 900  # seconds

REPLY = ("UPDATE transition_facts SET reply_id = :id, reply_at = :at, reply_agent = :agent "
         "WHERE conv_id = :cid AND handoff = 1 AND reply_id IS NULL AND at <= :at")
COUNT = ("INSERT INTO agent_message_counts (quarter, agent, messages) VALUES (:quarter, :agent, :n) "
         "ON CONFLICT (quarter, agent) DO UPDATE SET messages = agent_message_counts.messages + excluded.messages")


def agent_of(data_json: str) -> Optional[str]:
    """The ``agent_id`` of a message's JSON data as text (as the report's SQL reads it), or None."""
    agent = json.loads(data_json or "{}").get("agent_id")
    return None if agent is None else str(agent)


def note_agent_messages(executemany: Callable[[str, list[dict]], object],
                        stored: Iterable[tuple[int, str, float, Optional[str]]]) -> None:
    """Record agent messages just inserted, in id order.

    Args:
        executemany: runs one SQL statement (named ``:params``) for each dict, in the message's transaction
            (``sqlite3.Connection.executemany`` or a SQLAlchemy connection's ``execute(text(...), rows)``).
        stored: ``(message id, conversation id, created_at, agent id as text or None)`` per agent message.
    """
    replies = [{"id": mid, "cid": cid, "at": at, "agent": agent} for mid, cid, at, agent in stored]
    if not replies:
        return
    executemany(REPLY, replies)
    counts = Counter((int(r["at"] // QUARTER), r["agent"]) for r in replies if r["agent"] is not None)
    if counts:
        executemany(COUNT, [{"quarter": q, "agent": a, "n": n} for (q, a), n in counts.items()])


def recount_agent_messages(conn) -> None:
    """Count every stored agent message again (after rows were inserted straight into ``messages``)."""
    if conn.dialect.name == "postgresql":
        agent, rough = "CAST(data AS JSON) ->> 'agent_id'", f"CAST(floor(created_at / {QUARTER}) AS BIGINT)"
    else:
        agent, rough = "CAST(json_extract(data, '$.agent_id') AS VARCHAR)", f"CAST(created_at / {QUARTER} AS INTEGER)"
    quarter = f"({rough} - CASE WHEN {rough} * {QUARTER} > created_at THEN 1 ELSE 0 END)"  # (exactly Python's //)
    conn.exec_driver_sql("DELETE FROM agent_message_counts")
    conn.exec_driver_sql(f"INSERT INTO agent_message_counts (quarter, agent, messages) SELECT {quarter}, {agent}, "
                         f"count(*) FROM messages WHERE sender = 'agent' AND {agent} IS NOT NULL "
                         f"GROUP BY {quarter}, {agent}")

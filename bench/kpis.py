"""How long the KPI dashboard's figures take over 100,000 stored conversations.

Generates a month of history in a temporary SQLite database (every conversation
in the 30-day range: the worst case): 2 bot turns per conversation, one in five
handed to a person (wait, agent replies, resolution), some messages the bot did
not understand. Then times what ``GET /api/admin/kpis`` does for the 30 days
(``kpis.compute`` and the JSON encoding). ``python -m bench.kpis [N]``
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from crossdesk.languages import AUTHORED
from handoff import kpis
from handoff.store import SQLStore
from handoff.store.kpi_facts import note_messages

LANGUAGES = AUTHORED
INTENTS = ("shipping_time", "shipping_cost", "order_tracking", "customs_duties", "payment_methods",
           "return_policy", "refund_status", "greet", "thank", "nlu_fallback")
TRIGGERS = ("request_human", "fallback", "delivery_problem", "out_of_scope")
DAYS = 30
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def generate(path: Path, conversations: int, seed: int = 7) -> dict:
    """Write ``conversations`` conversations with messages and transitions; returns row counts."""
    SQLStore(f"sqlite:///{path}").close()  # the schema
    rng = random.Random(seed)
    convs, msgs, moves = [], [], []
    for i in range(conversations):
        cid = f"bench-{i:07d}"
        at = START + rng.random() * (DAYS * 86400 - 7200)
        language = rng.choice(LANGUAGES)
        convs.append((cid, "bot", language, "{}", at, at))
        moves.append((cid, None, "bot", "shopper", "session_start", at))
        for turn in range(2):
            said = at + turn * 30
            intent = rng.choice(INTENTS)
            text = f"message {rng.randrange(50)}" if intent == "nlu_fallback" else "…"
            msgs.append((cid, "shopper", text, language, json.dumps({"intent": intent, "confidence": 0.8}), said))
            msgs.append((cid, "bot", "answer", language, "{}", said + rng.uniform(0.02, 0.4)))
        if rng.random() < 0.2:
            agent = rng.randrange(1, 21)
            asked = at + 61
            claimed = asked + rng.expovariate(1 / 90)
            moves.append((cid, "bot", "waiting", "bot", rng.choice(TRIGGERS), asked))
            moves.append((cid, "waiting", "with_agent", f"agent:{agent}", "claim", claimed))
            for k in range(3):
                msgs.append((cid, "agent", "reply", language, json.dumps({"agent_id": agent}), claimed + 20 + 40 * k))
            moves.append((cid, "with_agent", "resolved", f"agent:{agent}", "resolved", claimed + 600))
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO conversations (id, state, language, context, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", convs)
        db.executemany("INSERT INTO messages (conversation_id, sender, text, language, data, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", msgs)
        db.executemany("INSERT INTO transitions (conversation_id, from_state, to_state, actor, reason, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", moves)
        # Rows inserted straight: noted in the KPI summaries as SQLStore.add_messages notes them.
        stored = db.execute("SELECT id, conversation_id, sender, created_at, data FROM messages ORDER BY id")
        note_messages(db.executemany, "sqlite", stored.fetchall())
    return {"conversations": len(convs), "messages": len(msgs), "transitions": len(moves)}


def measure(conversations: int = 100_000, runs: int = 3) -> list[float]:
    """Seconds per KPI request for the 30-day range, ``runs`` times, over a fresh database.

    Prints wall and CPU time and the load average: on a shared machine the wall
    time mostly measures the other processes.
    """
    with tempfile.TemporaryDirectory(prefix="crossdesk-kpis-") as tmp:
        path = Path(tmp) / "crossdesk.db"
        started = time.perf_counter()
        counts = generate(path, conversations)
        print(f"kpis: generated {counts['conversations']:,} conversations, {counts['messages']:,} messages, "
              f"{counts['transitions']:,} transitions in {time.perf_counter() - started:.1f} s", flush=True)
        store = SQLStore(f"sqlite:///{path}")
        window = kpis.parse_window({"from": "2026-01-01", "to": "2026-01-30", "tz": "Asia/Tokyo"})
        seconds, cpu = [], []
        try:
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                report = kpis.compute(store.engine, window)
                json.dumps(report)
                seconds.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
        finally:
            store.close()
        total = report["charts"][0]["rows"][0]
        print(f"kpis: 30-day dashboard over {total[1]:,} conversations in range: "
              + ", ".join(f"{s * 1000:.0f} ms" for s in seconds)
              + f" (median {statistics.median(seconds) * 1000:.0f} ms; budget 1000 ms); CPU "
              + ", ".join(f"{s * 1000:.0f} ms" for s in cpu)
              + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        return seconds


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

"""What storing a message costs: ``SQLStore.add_messages`` and ``record_turn`` in µs per message (SQLite file).

Each round stores one shopper message in each of ``batch`` conversations (one
group commit of that size, as under load), the bot's turn for each
(``record_turn``: the shopper message's reading and one bot reply), then one
agent message in each (a batch, as relayed agent replies). The database
starts with the conversations only, so the figures are those of a young
database (no deep index pages). ``python -m bench.store_writes [batch] [rounds]``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from handoff.store import SQLStore
from handoff.store.records import NewMessage

KINDS = ("shopper", "bot_turn", "agent")


def _one_database(batch: int, rounds: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds spent per kind of write over ``rounds`` rounds."""
    spent = {kind: [0.0, 0.0] for kind in KINDS}

    def timed(kind: str, work):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = work()
        spent[kind][0] += time.perf_counter() - started
        spent[kind][1] += time.process_time() - started_cpu
        return result

    with tempfile.TemporaryDirectory(prefix="crossdesk-writes-") as tmp:
        store = SQLStore(f"sqlite:///{Path(tmp) / 'crossdesk.db'}")
        try:
            ids = [f"w-{i:04d}" for i in range(batch)]
            for cid in ids:
                store.ensure_conversation(cid)
            for n in range(rounds):
                said = [NewMessage(cid, "shopper", f"message {n}", "en", f"c{n}", None) for cid in ids]
                stored = timed("shopper", lambda: store.add_messages(said))
                for message, _ in stored:
                    timed("bot_turn", lambda: store.record_turn(
                        message.conversation_id, message.id, {"intent": "greet", "confidence": 0.9}, "en",
                        [("hello", "en", {})]))
                replies = [NewMessage(cid, "agent", f"reply {n}", "en", None, {"agent_id": 1}) for cid in ids]
                timed("agent", lambda: store.add_messages(replies))
        finally:
            store.close()
    return {kind: (wall, cpu) for kind, (wall, cpu) in spent.items()}


def measure(batch: int = 20, rounds: int = 200, repeats: int = 3) -> dict[str, list[float]]:
    """µs of CPU per message for each kind of write, ``repeats`` times over a fresh database each."""
    runs = [_one_database(batch, rounds) for _ in range(repeats)]
    count = batch * rounds
    cpu = {}
    for kind in KINDS:
        walls = [run[kind][0] / count * 1e6 for run in runs]
        cpu[kind] = [run[kind][1] / count * 1e6 for run in runs]
        print(f"store_writes: {kind} (batches of {batch if kind != 'bot_turn' else 1}): CPU "
              + ", ".join(f"{c:.1f}" for c in cpu[kind]) + f" µs per message (median {statistics.median(cpu[kind]):.1f});"
              + " wall " + ", ".join(f"{w:.1f}" for w in walls) + " µs", flush=True)
    return cpu


if __name__ == "__main__":
    measure(*(int(a) for a in sys.argv[1:3]))

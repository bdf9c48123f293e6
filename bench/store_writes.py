"""What storing a relayed message costs: ``SQLStore.add_messages`` in µs per message (SQLite file).

Each round stores one shopper message in each of ``conversations`` conversations
(a group commit of that size, as under load), then a bot reply per
conversation the way ``record_turn`` does; the shopper batches are timed.
``python -m bench.store_writes [batch] [rounds]``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from handoff.store import SQLStore
from handoff.store.records import NewMessage


def measure(batch: int = 20, rounds: int = 200, repeats: int = 3) -> list[float]:
    """µs per shopper message (wall and CPU), ``repeats`` times over a fresh database each."""
    results = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="crossdesk-writes-") as tmp:
            store = SQLStore(f"sqlite:///{Path(tmp) / 'crossdesk.db'}")
            try:
                ids = [f"w-{i:04d}" for i in range(batch)]
                for cid in ids:
                    store.ensure_conversation(cid)
                wall = cpu = 0.0
                for n in range(rounds):
                    messages = [NewMessage(cid, "shopper", f"message {n}", "en", f"c{n}", None) for cid in ids]
                    started, started_cpu = time.perf_counter(), time.process_time()
                    stored = store.add_messages(messages)
                    wall += time.perf_counter() - started
                    cpu += time.process_time() - started_cpu
                    for message, _ in stored:
                        store.record_turn(message.conversation_id, message.id, {"intent": "greet"}, "en",
                                          [("hello", "en", {})])
            finally:
                store.close()
        results.append((wall, cpu))
    count = batch * rounds
    walls = [w / count * 1e6 for w, _ in results]
    cpus = [c / count * 1e6 for _, c in results]
    print(f"store_writes: add_messages, batches of {batch}: "
          + ", ".join(f"{w:.1f}" for w in walls) + f" µs per message wall (median {statistics.median(walls):.1f}); "
          + "CPU " + ", ".join(f"{c:.1f}" for c in cpus) + " µs", flush=True)
    return walls


if __name__ == "__main__":
    measure(*(int(a) for a in sys.argv[1:3]))

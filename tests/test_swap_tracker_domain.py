"""A studio swap leaves the live conversations' slots alone (issue #16).

Rasa's ``Agent.load`` set the shared tracker store's domain to None while the new model loaded beside
the live one. Trackers the live model rebuilt meanwhile (a conversation read from SQL, a session rolled
over) had no slots: every replay of their ``SlotSet`` events logged "Tried to set non existent slot",
the slot values were lost, and replies grew slower with every swap (p50 16 -> 100 ms over 120 rollback
swaps, `bench.studio`). In-process, with the real model.
"""

from __future__ import annotations

import threading
import time


def test_while_another_model_loads_the_live_store_keeps_the_live_domain_and_its_slots(model_path, tmp_path):
    from bot.engine import build_agent, build_agent_like, shared_tracker_store

    live = build_agent(str(model_path), f"sqlite:///{tmp_path / 'trackers.db'}")
    store = shared_tracker_store(live)
    slots_seen, loading = [], threading.Event()

    def watch() -> None:
        while loading.is_set():
            domain = store.domain
            slots_seen.append(None if domain is None else len(domain.slots))
            time.sleep(0.0002)

    loading.set()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        loaded = build_agent_like(str(model_path), live)
    finally:
        loading.clear()
        watcher.join()
    # Never the empty domain (Rasa's one default slot) nor None: always the live model's slots.
    assert slots_seen and set(slots_seen) == {len(live.domain.slots)}, sorted(set(slots_seen), key=str)
    assert store.domain is live.domain  # the new model's domain comes with the switch, not before
    assert loaded.domain.slots and shared_tracker_store(loaded) is store


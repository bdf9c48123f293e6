"""Rasa tuned for CPU per reply (issue #21, in-process): the same rows, states and rule keys as Rasa's, for less work.

A turn's events in one INSERT, ``Domain.is_empty`` without an empty domain per message, the
RulePolicy's states taken for new events only and its rules matched as far back as the longest.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import CachingSQLTrackerStore


def a_turn(sender_id: str) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1),
        ActionExecuted("action_listen", timestamp=1.2),
        UserUttered("wie lange dauert der versand?", {"name": "shipping_time", "confidence": 0.93},
                    [{"entity": "country", "value": "DE", "start": 0, "end": 2}],
                    parse_data={"intent": {"name": "shipping_time", "confidence": 0.93}, "text": "wie lange"},
                    timestamp=1.3),
        SlotSet("country", "DE", timestamp=1.4),
        ActionExecuted("utter_shipping_time", timestamp=1.5),
        BotUttered("3-5 Werktage", {"language": "de"}, timestamp=1.6),
        ActionExecuted("action_listen", timestamp=1.7),
    ]
    return DialogueStateTracker.from_events(sender_id, events)


def saved_rows(store, sender_id: str, path) -> tuple[list[tuple], list[str]]:
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", note)
    try:
        asyncio.run(store.save(a_turn(sender_id)))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", note)
    with sa.create_engine(f"sqlite:///{path}").connect() as db:
        rows = db.execute(sa.text("SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                                  "FROM events ORDER BY id")).fetchall()
    return [tuple(row) for row in rows], statements


def test_a_turn_is_one_insert_with_the_rows_and_order_rasa_stores(tmp_path):
    domain = Domain.from_dict({"slots": {"country": {"type": "text", "mappings": [{"type": "custom"}]}}})
    rasa_rows, rasa_inserts = saved_rows(SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa.db")),
                                         "shopper-1", tmp_path / "rasa.db")
    ours = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "ours.db"))
    our_rows, our_inserts = saved_rows(ours, "shopper-1", tmp_path / "ours.db")

    assert len(rasa_rows) == 8 and len(rasa_inserts) == 8  # Rasa: one INSERT per event
    assert our_rows == rasa_rows
    assert len(our_inserts) == 1
    reloaded = asyncio.run(CachingSQLTrackerStore(domain=domain, dialect="sqlite",
                                                  db=str(tmp_path / "ours.db")).retrieve("shopper-1"))
    by_rasa = asyncio.run(SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa.db")).retrieve("shopper-1"))
    assert [e.as_dict() for e in reloaded.events] == [e.as_dict() for e in by_rasa.events]
    assert reloaded.get_slot("country") == "DE" and reloaded.latest_message.intent["name"] == "shipping_time"


def test_is_empty_gives_rasas_answer_without_building_an_empty_domain_per_message(monkeypatch):
    from crossdesk import compat

    compat.tune_rasa()
    domain = Domain.from_dict({"intents": ["greet"], "responses": {"utter_hi": [{"text": "hi"}]}})
    assert Domain.empty().is_empty() and not domain.is_empty()
    built = []
    monkeypatch.setattr(Domain, "empty", classmethod(lambda cls: built.append(1) or Domain.from_dict({})))
    for _ in range(3):
        assert not domain.is_empty()
    assert built == []  # Rasa builds one per call (per parsed message)


def test_states_of_a_growing_conversation_equal_rasas_and_only_new_events_are_replayed(monkeypatch):
    from rasa.shared.core.events import ActiveLoop, Restarted, UserUtteranceReverted

    from crossdesk import compat
    from crossdesk.paths import ROOT

    compat.tune_rasa()
    rasa_states = getattr(Domain.states_for_tracker_history, "__wrapped__", Domain.states_for_tracker_history)
    domain = Domain.load(str(ROOT / "bot" / "domain.yml"))
    tracker = DialogueStateTracker.from_events("grow-1", [], slots=domain.slots)
    intents = domain.intents
    turns = []
    for turn in range(12):
        intent = intents[turn % len(intents)]
        turns.append([ActionExecuted("action_listen"),
                      UserUttered(f"message {turn}", {"name": intent, "confidence": 0.9},
                                  parse_data={"intent": {"name": intent, "confidence": 0.9}}),
                      SlotSet("country", "DE" if turn % 2 else "FR"),
                      ActionExecuted(domain.action_names_or_texts[-1 - turn])])
    turns[4].append(UserUtteranceReverted())  # the fallback's revert: events drop out of the applied ones
    turns[6].append(ActiveLoop("some_form"))
    turns[2].append(Restarted())
    replayed = []
    real_active_state = Domain.get_active_state
    monkeypatch.setattr(Domain, "get_active_state", lambda self, tr, omit_unset_slots=False:
                        replayed.append(1) or real_active_state(self, tr, omit_unset_slots))
    for events in turns:
        for event in events:
            tracker.update(event, domain)
        replayed.clear()
        ours = tracker.past_states(domain)
        counted = len(replayed)
        assert ours == rasa_states(domain, tracker)
        assert tracker.past_states(domain) == ours  # (asked again, as the RulePolicy does 3 times a message)
    assert counted <= 3  # the last turn's own events only; Rasa: one per applied action since the restart (17)


def test_rule_keys_found_in_a_long_session_are_rasas_and_cost_no_more_than_in_a_short_one(model_path, monkeypatch):
    import json
    import tarfile

    from rasa.core.policies.rule_policy import RulePolicy

    from crossdesk import compat
    from crossdesk.paths import ROOT

    compat.tune_rasa()
    with tarfile.open(model_path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("train_RulePolicy0/rule_policy.json"))
        rules = json.load(archive.extractfile(member))["lookup"]["rules"]
    domain = Domain.load(str(ROOT / "bot" / "domain.yml"))
    policy = RulePolicy.__new__(RulePolicy)  # (the lookup is all _get_possible_keys reads)
    rasa_keys = getattr(RulePolicy._get_possible_keys, "__wrapped__", RulePolicy._get_possible_keys)
    checks = []
    real_check = RulePolicy._is_rule_applicable
    monkeypatch.setattr(RulePolicy, "_is_rule_applicable",
                        lambda self, *args: checks.append(1) or real_check(self, *args))
    tracker = DialogueStateTracker.from_events("rules-1", [ActionExecuted("action_listen")], slots=domain.slots)
    counts, found = [], set()
    for turn, intent in enumerate(domain.intents * 2):
        tracker.update(UserUttered(f"message {turn}", {"name": intent, "confidence": 0.9}), domain)
        states = tracker.past_states(domain)
        checks.clear()
        ours = policy._get_possible_keys(rules, states)
        counts.append(len(checks))
        assert ours == rasa_keys(policy, rules, states)
        found |= {rules[key] for key in ours}
        tracker.update(ActionExecuted(sorted(found)[0] if found else "utter_default"), domain)
        tracker.update(ActionExecuted("action_listen"), domain)
    assert len(found) > 10  # the rules answered many intents
    assert max(counts) == counts[0] <= 2 * len(rules)  # Rasa: one check per key and state, ~2,000 by the end

    # Served (compat.serving_rules, around RulePolicy.predict_action_probabilities): a search whose last
    # states were seen before is remembered: the same keys, no rule checked again; new states are searched.
    served = DialogueStateTracker.from_events("rules-2", [ActionExecuted("action_listen")], slots=domain.slots)
    first_pass, second_pass = [], []
    for searches in (first_pass, second_pass):
        for intent in domain.intents:
            served.update(UserUttered(f"about {intent}", {"name": intent, "confidence": 0.9}), domain)
            states = served.past_states(domain)
            checks.clear()
            with compat.serving_rules():
                keys = policy._get_possible_keys(rules, states)
            searches.append(len(checks))
            assert keys == rasa_keys(policy, rules, states)
            served.update(ActionExecuted(rules[max(keys, key=len)] if keys else "utter_default"), domain)
            served.update(ActionExecuted("action_listen"), domain)
    assert min(first_pass) > 0 and sum(second_pass) < sum(first_pass) / 2


def test_a_new_conversation_is_found_absent_without_rasas_events_query_and_a_stored_one_still_found(tmp_path):
    domain = Domain.from_dict({"slots": {"country": {"type": "text", "mappings": [{"type": "custom"}]}}})
    path = tmp_path / "absent.db"
    ours = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(path))
    selects: list[str] = []
    sa.event.listen(ours.engine, "before_cursor_execute",
                    lambda _conn, _cursor, statement, *_args: selects.append(statement))
    assert asyncio.run(ours.retrieve("new-shopper")) is None
    assert selects == []  # (before: Rasa's ORM query with its latest-session subquery, twice per first turn)
    asyncio.run(ours.save(a_turn("new-shopper")))
    reopened = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(path))  # (a restart: nothing cached)
    tracker = asyncio.run(reopened.retrieve("new-shopper"))
    by_rasa = asyncio.run(SQLTrackerStore(domain, dialect="sqlite", db=str(path)).retrieve("new-shopper"))
    assert [event.as_dict() for event in tracker.events] == [event.as_dict() for event in by_rasa.events]
    assert tracker.get_slot("country") == "DE"


def test_a_new_conversations_empty_tracker_is_saved_without_a_statement_and_its_first_turn_as_rasas(tmp_path):
    domain = Domain.from_dict({"slots": {"country": {"type": "text", "mappings": [{"type": "custom"}]}}})
    ours = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "ours.db"))
    statements: list[str] = []
    sa.event.listen(ours.engine, "before_cursor_execute", lambda _c, _cu, statement, *_a: statements.append(statement))
    created = asyncio.run(ours.get_or_create_tracker("new-shopper", append_action_listen=False))
    assert statements == [] and created.events == type(created.events)()  # (before: a count query and a commit)
    rasa_rows, _ = saved_rows(SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa.db")),
                              "new-shopper", tmp_path / "rasa.db")
    our_rows, _ = saved_rows(ours, "new-shopper", tmp_path / "ours.db")
    assert our_rows == rasa_rows


def test_on_sqlite_the_next_turn_is_rasas_rows_without_an_orm_session_and_a_failing_save_stores_nothing(tmp_path):
    from sqlalchemy.exc import IntegrityError

    from tests.test_perf_tracker_rows_postgres import DOMAIN, first_turn, next_turn, rows, two_turns

    def store_args(name):
        return {"dialect": "sqlite", "db": str(tmp_path / name)}

    two_turns(SQLTrackerStore(DOMAIN, **store_args("rasa.db")), "shopper-lite")
    ours = CachingSQLTrackerStore(domain=DOMAIN, **store_args("ours.db"))
    assert two_turns(ours, "shopper-lite") == []  # (before: an ORM session, its INSERT and commit)
    assert len(rows(f"sqlite:///{tmp_path / 'ours.db'}")) == 12
    assert rows(f"sqlite:///{tmp_path / 'ours.db'}") == rows(f"sqlite:///{tmp_path / 'rasa.db'}")
    reloaded = asyncio.run(CachingSQLTrackerStore(domain=DOMAIN, **store_args("ours.db")).retrieve("shopper-lite"))
    assert reloaded.get_slot("country") == "DE" and reloaded.latest_message.intent["name"] == "shipping_time"

    asyncio.run(ours.save(DialogueStateTracker.from_events("shopper-err", first_turn())))
    tracker = asyncio.run(ours.retrieve("shopper-err"))
    for event in next_turn():
        tracker.update(event)
    with ours.engine.begin() as conn:
        conn.execute(sa.text("CREATE TRIGGER no_more BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'full'); END"))
    try:
        with pytest.raises(IntegrityError):  # (SQLAlchemy's, as from a session)
            asyncio.run(ours.save(tracker))
    finally:
        with ours.engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER no_more"))
    assert len(rows(f"sqlite:///{tmp_path / 'ours.db'}")) == 12 + 7
    again = asyncio.run(ours.retrieve("shopper-err"))  # the half-saved tracker was dropped: rebuilt from SQL
    assert again is not tracker and again.latest_message.text == "hallo" and again.get_slot("country") is None
    asyncio.run(ours.save(DialogueStateTracker.from_events("shopper-ok", first_turn())))  # (the store carries on)

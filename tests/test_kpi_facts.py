"""The KPI summary (``conversation_facts``, migration 0008): the same figures as the messages give.

The dashboard reads one summary row per conversation, kept by triggers on every
write, instead of grouping the range's messages. Here: a database of the
previous revision upgrades to the same figures, on SQLite and PostgreSQL; the
conversations that cross the range's start, an erased message and a handoff
after the range give the figures worked out from their messages.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from sqlalchemy import MetaData, Table, create_engine, delete, select, text

from handoff import kpis
from handoff.store import SQLStore
from handoff.store import migrate
from handoff.store.records import NewMessage
from handoff.store.sql import agent_message_counts, conversation_facts, messages, transition_facts
from tests.kpi_history import History, seed

WINDOWS = [{"from": "2026-03-03", "to": "2026-03-03", "tz": "Asia/Tokyo"},
           {"from": "2026-03-02", "to": "2026-03-02", "tz": "UTC"},
           {"from": "2026-03-01", "to": "2026-03-31", "tz": "Europe/Paris"},
           {"from": "2026-04-06", "to": "2026-04-06", "tz": "UTC"},
           {"from": "2026-04-07", "to": "2026-04-07", "tz": "UTC"},
           {"from": "2026-04-08", "to": "2026-04-08", "tz": "UTC"}]
DAY = {"from": "2026-04-07", "to": "2026-04-07", "tz": "UTC"}
S = dt.datetime(2026, 4, 7, tzinfo=dt.timezone.utc).timestamp()  # the start of DAY


def crossing(engine, keep_facts: bool = True) -> None:
    """Conversations around the start of 2026-04-07 UTC (``S``); their figures on DAY are in the test below."""
    h = History(SimpleNamespace(engine=engine), keep_facts)
    # x1 (en): wrote the day before, and again on DAY: on DAY its first message is the second one.
    h.conversation("x1", "en", S - 600)
    h.turn("x1", S - 600, "greet", 1, language="en")
    h.turn("x1", S + 300, "shipping_cost", 2, language="en")
    # x2 (fr): a bot message before DAY (a greeting), the shopper's first on DAY, answered after 1 s.
    h.conversation("x2", "fr", S - 60)
    h.message("x2", "bot", S - 60, "Bonjour", "fr")
    h.turn("x2", S + 60, "return_policy", 1, language="fr")
    # x3 (de): handed off only the next day: contained on DAY.
    h.conversation("x3", "de", S + 3600)
    h.turn("x3", S + 3600, "delivery_problem", 1, language="de")
    h.move("x3", S + 86400 + 100, "bot", "waiting", "bot", "delivery_problem")
    # x4 (ja): wrote two hours before DAY and the day after, not on DAY.
    h.conversation("x4", "ja", S - 7200)
    h.turn("x4", S - 7200, "greet", 1, language="ja")
    h.turn("x4", S + 86400 + 10, "thank", 1, language="ja")
    # x5 (ko): its first message (not understood) is erased; its second is after the bot's first reply.
    h.conversation("x5", "ko", S + 100)
    h.turn("x5", S + 100, "nlu_fallback", 3, text="???", language="ko")
    h.turn("x5", S + 200, "thank", 1, language="ko")
    with engine.begin() as conn:
        conn.execute(delete(messages).where(messages.c.conversation_id == "x5", messages.c.text == "???"))


def history(engine, add_agent=None, keep_facts: bool = True) -> None:
    seed(SimpleNamespace(engine=engine), add_agent, keep_facts)
    crossing(engine, keep_facts)


def agent_writer_of_0007(engine):
    """Agents as the 0007 schema stores them (later revisions add columns, e.g. ``skills``)."""
    def add_agent(username, password, languages, display_name, role="agent"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agents (username, password_hash, display_name, languages, role, created_at)"
                              " VALUES (:u, 'x', :d, :l, :r, 0)"),
                         {"u": username, "d": display_name, "l": json.dumps(languages), "r": role})
    return add_agent


def figures(engine) -> dict:
    return {json.dumps(w): kpis.compute(engine, kpis.parse_window(w)) for w in WINDOWS}


def facts(engine) -> dict:
    with engine.connect() as conn:
        return {row.id: row._asdict() for row in conn.execute(select(conversation_facts))}


# (0011_kpi_facts_more dropped the insert triggers on messages: SQLStore notes shopper and bot messages itself.)
TRIGGERS = {f"conversation_facts_{name}" for name in (
    "new", "language", "gone", "intent", "message_gone", "handoff", "transition_gone")}


def triggers(engine) -> set[str]:
    """The summary's triggers in the database: a later migration that rebuilds ``messages`` (SQLite's batch
    mode copies the table) must create them again, or the summary silently stops following the writes."""
    query = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if engine.dialect.name == "sqlite"
             else "SELECT DISTINCT trigger_name FROM information_schema.triggers")
    with engine.connect() as conn:
        return {name for (name,) in conn.exec_driver_sql(query) if name.startswith("conversation_facts_")}


def upgrade_to(url: str, revision: str) -> None:
    from alembic import command

    config = migrate._config()
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_urls(request, tmp_path) -> tuple[str, str]:
    """Two empty databases of each kind."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        return cluster.create_database(), cluster.create_database()
    return f"sqlite:///{tmp_path}/old.db", f"sqlite:///{tmp_path}/new.db"


def test_a_database_of_the_previous_revision_gives_the_same_figures_after_the_upgrade(two_urls):
    old_url, new_url = two_urls
    upgrade_to(old_url, "0007_kpi_summary")
    engine = create_engine(old_url, future=True)
    try:
        history(engine, agent_writer_of_0007(engine), keep_facts=False)  # an older release: no summary, no triggers
    finally:
        engine.dispose()
    upgraded, fresh = SQLStore(old_url), SQLStore(new_url)  # the first upgrades and fills the summary
    try:
        history(fresh.engine)  # written with the triggers on
        assert figures(upgraded.engine) == figures(fresh.engine)
        backfilled, kept = facts(upgraded.engine), facts(fresh.engine)
        assert len(backfilled) == 14 and backfilled.keys() == kept.keys()
        for cid, row in backfilled.items():
            # The triggers move the last shopper message's time only an hour at a time; the rest is exact.
            last, kept_last = row.pop("last_shopper_at"), kept[cid].pop("last_shopper_at")
            assert row == kept[cid], cid
            assert (last is None) == (kept_last is None) and (last is None or 0 <= last - kept_last < 3600)
        assert triggers(upgraded.engine) == triggers(fresh.engine) == TRIGGERS
        assert backfilled["c4"]["first_intent"] == "nlu_fallback"
        assert backfilled["c9"]["first_handoff_reason"] == "request_human"
        assert backfilled["x5"]["first_intent"] == "thank"  # its first message was erased
        tokyo = {c["id"]: c["rows"] for c in figures(upgraded.engine)[json.dumps(WINDOWS[0])]["charts"]}
        assert tokyo["containment_by_language"][0] == ["(all)", 7, 2, 28.6]  # tests/test_kpis.py's figures
    finally:
        upgraded.close()
        fresh.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = SQLStore(f"sqlite:///{tmp_path_factory.mktemp('facts') / 'crossdesk.db'}")
    history(store.engine)
    yield store
    store.close()


def test_conversations_crossing_the_range_count_from_their_first_message_in_it(store):
    day = {c["id"]: c["rows"] for c in kpis.compute(store.engine, kpis.parse_window(DAY))["charts"]}
    # x1, x2, x3 and x5 wrote on DAY (x4 only before and after it); none reached a person before its end.
    assert day["containment_by_language"] == [
        ["(all)", 4, 4, 100.0], ["de", 1, 1, 100.0], ["en", 1, 1, 100.0], ["fr", 1, 1, 100.0], ["ko", 1, 1, 100.0]]
    # x1 by its message of DAY, x5 by its second message (the first was erased).
    assert day["containment_by_intent"] == [
        ["delivery_problem", 1, 1, 100.0], ["return_policy", 1, 1, 100.0], ["shipping_cost", 1, 1, 100.0],
        ["thank", 1, 1, 100.0]]
    # x1 2 s, x2 1 s (not from its greeting before DAY), x3 1 s; x5's first bot reply came before its message.
    assert day["response_times"][1] == ["bot_first_response", 3, 1.0, 2.0, None]
    assert day["not_understood"] == [] and day["lost_by_trigger"] == []
    before = {c["id"]: c["rows"] for c in kpis.compute(store.engine, kpis.parse_window(WINDOWS[3]))["charts"]}
    assert before["containment_by_intent"] == [["greet", 2, 2, 100.0]]  # x1 and x4, by their first messages
    after = {c["id"]: c["rows"] for c in kpis.compute(store.engine, kpis.parse_window(WINDOWS[5]))["charts"]}
    assert after["containment_by_language"] == [["(all)", 1, 1, 100.0], ["ja", 1, 1, 100.0]]  # x4's handoff-free day


def test_the_summary_gives_the_rows_the_messages_give_for_every_range(store):
    with store.engine.connect() as conn:
        for args in WINDOWS:
            window = kpis.parse_window(args)
            from_summary = [*conn.execute(kpis.summary_query(window)),
                            *conn.execute(kpis.active_query(conn, window, kpis.straddling(window)))]
            from_messages = list(conn.execute(kpis.active_query(conn, window)))
            assert sorted(map(tuple, from_summary)) == sorted(map(tuple, from_messages)), args


def test_an_erased_conversation_leaves_no_summary(store):
    from handoff.store.privacy import PrivacyStore

    assert "x3" in facts(store.engine)
    PrivacyStore(store).delete(["x3"])
    assert "x3" not in facts(store.engine)


# -- the per-event summaries (migration 0011_kpi_facts_more) ----------------------------------------

PREVIOUS = "0010_notes_macros_customers"
ROWS = ("conversations", "messages", "transitions")


def event_facts(engine) -> dict:
    """Every row of ``transition_facts`` and ``agent_message_counts`` (counts of zero left out)."""
    with engine.connect() as conn:
        rows = {f"t{row.id}": row._asdict() for row in conn.execute(select(transition_facts))}
        rows.update({f"a{row.quarter}:{row.agent}": row.messages for row in conn.execute(select(agent_message_counts))
                     if row.messages})
    return rows


def copy_rows(source, target) -> None:
    """The conversations, messages and transitions of one database into another (ids kept)."""
    tables = {name: Table(name, MetaData(), autoload_with=target) for name in ROWS}
    with source.connect() as read, target.begin() as write:
        for name in ROWS:
            rows = [dict(row._mapping) for row in read.execute(select(tables[name]).order_by(tables[name].c.id))]
            if rows:
                write.execute(tables[name].insert(), rows)


def test_the_store_keeps_the_summaries_as_the_upgrade_works_them_out(two_urls):
    """Written through SQLStore's own paths (the relay's group commit, the bot's turn, claims, resolutions, an
    erased agent message), the summaries are what the migrations' backfills give for the same rows."""
    live_url, old_url = two_urls
    live = SQLStore(live_url)
    try:
        for cid in ("w1", "w2"):
            live.ensure_conversation(cid)
            live.update_conversation(cid, language="en")
        said = live.add_messages([NewMessage("w1", "shopper", "where is my parcel", "en", "s1"),
                                  NewMessage("w2", "shopper", "hello?", "en", "s2")])
        live.record_turn("w1", said[0][0].id, {"intent": "request_human"}, "en", [("A person comes.", "en", {})])
        live.transition("w1", "waiting", "bot", "request_human", ("bot",))
        live.transition("w1", "with_agent", "agent:7", "claim", ("waiting",), agent_id=7)
        live.transition("w2", "with_agent", "agent:8", "takeover", ("bot",), agent_id=8)
        replies = live.add_messages([NewMessage("w1", "agent", "Hi, Aiko here", "en", None, {"agent_id": 7}),
                                     NewMessage("w2", "agent", "Hello", "en", None, {"agent_id": 8}),
                                     NewMessage("w1", "agent", "Found it", "en", None, {"agent_id": 7})])
        live.add_messages([NewMessage("w1", "shopper", "thanks", "en", "s3")])
        live.transition("w1", "resolved", "agent:7", "answered", ("with_agent",), agent_id=7)
        live.transition("w2", "with_agent", "agent:8", "transfer:9", ("with_agent",), agent_id=9)
        live.add_messages([NewMessage("w2", "agent", "Ben takes over", "en", None, {"agent_id": 9})])
        with live.engine.begin() as conn:  # erasing w2's first reply: the next one answers its takeover
            conn.execute(delete(messages).where(messages.c.id == replies[1][0].id))
        kept, kept_conversations = event_facts(live.engine), facts(live.engine)
        upgrade_to(old_url, "0007_kpi_summary")  # before any summary
        old = create_engine(old_url, future=True)
        try:
            copy_rows(live.engine, old)
        finally:
            old.dispose()
        upgraded = SQLStore(old_url)  # upgrades: the backfills
        try:
            assert event_facts(upgraded.engine) == kept
            backfilled = facts(upgraded.engine)
            for row in (*backfilled.values(), *kept_conversations.values()):
                row["last_shopper_at"] = row["last_shopper_at"] is not None  # (kept to within the hour)
            assert backfilled == kept_conversations
        finally:
            upgraded.close()
    finally:
        live.close()
    by_state = {(row["conv_id"], row["to_state"], row["agent"]): row for row in
                (v for k, v in kept.items() if k.startswith("t"))}
    claim = by_state[("w1", "with_agent", "7")]
    handoff = by_state[("w1", "waiting", None)]
    assert handoff["next_state"] == "with_agent" and handoff["next_at"] == claim["at"]
    assert handoff["reply_id"] == replies[0][0].id and handoff["reply_agent"] == "7"
    assert by_state[("w1", "resolved", "7")]["started_at"] == said[0][0].created_at
    assert by_state[("w2", "with_agent", "8")]["reply_agent"] == "9"  # (the erased reply's successor)
    assert by_state[("w2", "with_agent", "8")]["language"] == "en"
    assert sum(v for k, v in kept.items() if k.startswith("a") and k.endswith(":7")) == 2
    assert kept_conversations["w1"]["first_intent"] == "request_human"
    assert kept_conversations["w1"]["first_bot_at"] is not None and kept_conversations["w2"]["first_bot_at"] is None


def test_a_database_of_the_previous_release_gives_the_same_figures_and_summaries_after_the_upgrade(two_urls):
    old_url, new_url = two_urls
    upgrade_to(old_url, PREVIOUS)
    engine = create_engine(old_url, future=True)
    try:
        history(engine, keep_facts=False)  # written by the previous release: no per-event summaries
    finally:
        engine.dispose()
    upgraded, fresh = SQLStore(old_url), SQLStore(new_url)
    try:
        history(fresh.engine)  # written with the summaries kept on every write
        assert figures(upgraded.engine) == figures(fresh.engine)
        assert event_facts(upgraded.engine) == event_facts(fresh.engine)
        tokyo = {c["id"]: c["rows"] for c in figures(upgraded.engine)[json.dumps(WINDOWS[0])]["charts"]}
        assert tokyo["response_times"] == [  # tests/test_kpis.py's figures
            ["queue_wait", 5, 60.0, 120.0, 1], ["bot_first_response", 7, 2.0, 3.0, None],
            ["agent_first_response", 5, 40.0, 180.0, 1], ["resolution", 4, 300.0, 1000.0, None]]
    finally:
        upgraded.close()
        fresh.close()

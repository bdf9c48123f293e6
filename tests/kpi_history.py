"""A known support history for the KPI tests: every figure of it is worked out in ``tests/test_kpis.py``.

Day: Tuesday 2026-03-03 in Asia/Tokyo (UTC+9), which starts at 2026-03-02 15:00 UTC (``T0``).
Agents: Aiko (id 1), Ben (id 2).
"""

from __future__ import annotations

import datetime as dt
import json

from handoff.store import SQLStore
from handoff.store.kpi_facts import note_messages, on_connection
from handoff.store.agents import AgentStore
from handoff.store.sql import conversations, messages, tickets, transitions

T0 = dt.datetime(2026, 3, 2, 15, tzinfo=dt.timezone.utc).timestamp()


class History:
    """Writes conversations, messages and transitions with the timestamps given."""

    def __init__(self, store: SQLStore, keep_facts: bool = True):
        self.store = store
        # Messages are noted in the KPI summaries as SQLStore.add_messages does (handoff/store/kpi_facts.py);
        # False for a database of a revision before 0011_kpi_facts_more.
        self.keep_facts = keep_facts

    def conversation(self, cid: str, language: str, at: float) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(conversations.insert().values(id=cid, state="bot", language=language, context="{}",
                                                       created_at=at, updated_at=at))
            conn.execute(transitions.insert().values(conversation_id=cid, from_state=None, to_state="bot",
                                                     actor="shopper", reason="session_start", created_at=at))

    def message(self, cid: str, sender: str, at: float, text: str = "…", language: str = None, **data) -> None:
        with self.store.engine.begin() as conn:
            result = conn.execute(messages.insert().values(conversation_id=cid, sender=sender, text=text,
                                                           language=language, data=json.dumps(data, ensure_ascii=False),
                                                           created_at=at))
            if self.keep_facts:
                note_messages(on_connection(conn), conn.dialect.name,
                              [(result.inserted_primary_key[0], cid, sender, at, json.dumps(data, ensure_ascii=False))])

    def turn(self, cid: str, at: float, intent: str, reply_after: float, text: str = "…", language: str = None) -> None:
        """A shopper message the bot read, and the bot's reply ``reply_after`` seconds later."""
        self.message(cid, "shopper", at, text, language, intent=intent, confidence=0.9)
        self.message(cid, "bot", at + reply_after, "answer", language)

    def move(self, cid: str, at: float, from_state: str, to_state: str, actor: str, reason: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(transitions.insert().values(conversation_id=cid, from_state=from_state, to_state=to_state,
                                                     actor=actor, reason=reason, created_at=at))

    def ticket(self, cid: str, language: str, created: float, due: float, solved: float = None) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(tickets.insert().values(
                conversation_id=cid, status="solved" if solved else "open", source="contact", priority="normal",
                tags="[]", language=language, due_at=due, escalated="", created_at=created,
                updated_at=solved or created, solved_at=solved))

    def agent_says(self, cid: str, at: float, agent_id: int) -> None:
        self.message(cid, "agent", at, "hello", agent_id=agent_id, agent_name="x")


def seed(store: SQLStore, add_agent=None, keep_facts: bool = True) -> None:
    """The history the KPI tests assert on (see the module docstring and ``tests/test_kpis.py``).

    ``add_agent`` writes an agent like ``AgentStore.add`` (a test of an older schema passes its own, and
    ``keep_facts=False`` before revision 0011).
    """
    add_agent = add_agent or AgentStore(store).add
    add_agent("aiko", "password-aiko", ["ja", "en"], "Aiko", role="admin")
    add_agent("ben", "password-ben", ["fr", "en"], "Ben")
    h = History(store, keep_facts)
    # c1 (en) and c2 (ja): the bot alone; c2 also has a message the bot did not understand.
    t = T0 + 3600
    h.conversation("c1", "en", t)
    h.turn("c1", t, "shipping_time", 2, language="en")
    t = T0 + 7200
    h.conversation("c2", "ja", t)
    h.turn("c2", t, "payment_methods", 1, language="ja")
    h.turn("c2", t + 20, "nlu_fallback", 1, text="ほげほげ", language="ja")
    # c3 (ja): asks for a person; Aiko claims after 60 s, answers 90 s after the handoff, resolves at +400 s.
    t = T0 + 10800
    h.conversation("c3", "ja", t)
    h.turn("c3", t, "request_human", 3, language="ja")
    h.move("c3", t + 4, "bot", "waiting", "bot", "request_human")
    h.move("c3", t + 64, "waiting", "with_agent", "agent:1", "claim")
    h.agent_says("c3", t + 94, 1)
    h.move("c3", t + 400, "with_agent", "resolved", "agent:1", "answered")
    # c4 (fr): the bot fails twice; Ben claims after 120 s, answers after 180 s, resolves at +1000 s.
    t = T0 + 14400
    h.conversation("c4", "fr", t)
    h.turn("c4", t, "nlu_fallback", 2, text="Blorp?", language="fr")
    h.turn("c4", t + 10, "nlu_fallback", 2, text=" blorp? ", language="fr")
    h.move("c4", t + 12, "bot", "waiting", "bot", "fallback")
    h.move("c4", t + 132, "waiting", "with_agent", "agent:2", "claim")
    h.agent_says("c4", t + 192, 2)
    h.move("c4", t + 1000, "with_agent", "resolved", "agent:2", "refund")
    # c5 (de): a delivery problem nobody has claimed yet.
    t = T0 + 18000
    h.conversation("c5", "de", t)
    h.turn("c5", t, "delivery_problem", 1, language="de")
    h.move("c5", t + 1, "bot", "waiting", "bot", "delivery_problem")
    # c6 (en): Aiko takes over, answers after 20 s, drops; requeued, Ben claims 60 s later.
    t = T0 + 21600
    h.conversation("c6", "en", t)
    h.turn("c6", t, "order_tracking", 2, language="en")
    h.move("c6", t + 30, "bot", "with_agent", "agent:1", "takeover")
    h.agent_says("c6", t + 50, 1)
    h.move("c6", t + 100, "with_agent", "waiting", "system", "agent_disconnected")
    h.move("c6", t + 160, "waiting", "with_agent", "agent:2", "claim")
    # c9 (ko): handed off, resolved at +300 s, reopened at +500 s, handed off and resolved again at +800 s.
    t = T0 + 25200
    h.conversation("c9", "ko", t)
    h.turn("c9", t, "refund_status", 1, language="ko")
    h.move("c9", t + 5, "bot", "waiting", "bot", "request_human")
    h.move("c9", t + 35, "waiting", "with_agent", "agent:2", "claim")
    h.agent_says("c9", t + 45, 2)
    h.move("c9", t + 300, "with_agent", "resolved", "agent:2", "resolved")
    h.move("c9", t + 500, "resolved", "bot", "shopper", "reopened")
    h.turn("c9", t + 500, "thank", 1, language="ko")
    h.turn("c9", t + 599, "request_human", 1, language="ko")
    h.move("c9", t + 600, "bot", "waiting", "bot", "request_human")
    h.move("c9", t + 610, "waiting", "with_agent", "agent:2", "claim")
    h.agent_says("c9", t + 620, 2)
    h.move("c9", t + 800, "with_agent", "resolved", "agent:2", "resolved")
    # c8 (en): the evening before in Tokyo (23:58), outside the Tokyo day; its fallback does not count either.
    t = T0 - 100
    h.conversation("c8", "en", t)
    h.turn("c8", t, "nlu_fallback", 1, text="zzz", language="en")
    # Tickets: ja due and solved within the day (promise kept); fr opened and solved, due tomorrow;
    # de due at +21700 and still open (overdue); en (c6) opened the evening before, due at +20000, solved
    # late at +30000 (overdue); en (c1) opened, due tomorrow, open.
    h.ticket("c3", "ja", T0 + 11300, T0 + 11300 + 12 * 3600, solved=T0 + 14900)
    h.ticket("c4", "fr", T0 + 15400, T0 + 15400 + 86400, solved=T0 + 20000)
    h.ticket("c5", "de", T0 + 18100, T0 + 21700)
    h.ticket("c6", "en", T0 - 3600, T0 + 20000, solved=T0 + 30000)
    h.ticket("c1", "en", T0 + 3700, T0 + 90000)
    seed_ratings(store)


def seed_ratings(store: SQLStore) -> None:
    """CSAT: Aiko's c3 (ja) got 5; Ben's c4 (fr) 2, c9 (ko) 4 then 5 (two resolutions); c7 (en), resolved
    by Aiko the evening before, got 1 then (outside the Tokyo day)."""
    from handoff.store.sql import ratings

    h = History(store)
    t = T0 - 400
    h.conversation("c7", "en", t)
    h.move("c7", t + 10, "bot", "with_agent", "agent:1", "takeover")
    h.move("c7", t + 20, "with_agent", "resolved", "agent:1", "resolved")
    with store.engine.begin() as conn:
        resolutions = conn.execute(transitions.select().where(transitions.c.to_state == "resolved")
                                   .order_by(transitions.c.id)).fetchall()
        ids = {}
        for row in resolutions:
            ids.setdefault(row.conversation_id, []).append(row.id)
        for cid, index, agent_id, rating, language, at in (
                ("c3", 0, 1, 5, "ja", T0 + 10800 + 450), ("c4", 0, 2, 2, "fr", T0 + 14400 + 1100),
                ("c9", 0, 2, 4, "ko", T0 + 25200 + 320), ("c9", 1, 2, 5, "ko", T0 + 25200 + 900),
                ("c7", 0, 1, 1, "en", T0 - 300)):
            conn.execute(ratings.insert().values(conversation_id=cid, resolution_id=ids[cid][index], agent_id=agent_id,
                                                 rating=rating, comment=None, language=language, created_at=at))

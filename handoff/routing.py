"""Routing: which online agents a waiting conversation is offered to, and who gets it when auto-assigning.

A waiting conversation is offered in stages, each a wider group of the online agents:

1. the agents with the conversation's **skill** (``SKILL_FOR_INTENT`` of its handoff reason,
   else of the shopper's latest topic intent; no skill: no such stage);
2. the agents who speak its **language** (``agents.languages``);
3. **everyone** (the console shows the conversation with machine translation).

A stage in which no agent is available (online and not away) is skipped at once, so a
conversation nobody matches reaches everyone immediately. Otherwise each stage lasts
``CROSSDESK_ROUTING_WIDEN_SECONDS`` (the earlier groups keep seeing it). With
``CROSSDESK_AUTO_ASSIGN`` the least-loaded available agent it is offered to (fewest
conversations held, below ``CROSSDESK_AGENT_MAX_CONVERSATIONS``) gets it, through the
store's one conditional UPDATE that also checks the agent's load (handoff/store/sql.py,
``transition(max_load=...)``): under a race no conversation is given twice and no agent
goes over the limit, whichever process assigns.

Who is online comes from presence (in memory, or every process's through Redis), loads
from the store: every process routes the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from handoff.store.records import Agent

# The handoff reason or topic intent -> the skill (team) that handles it. Documented in
# docs/protocol.md (Routing); agents get skills with `agents edit NAME --skills ...` or the console.
SKILL_FOR_INTENT = {
    "payment_failed": "payments", "payment_methods": "payments", "payment_currency": "payments",
    "return_policy": "returns", "refund_status": "returns", "cancel_order": "returns", "tax_refund": "returns",
    "product_question": "product",
    "delivery_problem": "shipping", "order_tracking": "shipping", "shipping_time": "shipping",
    "shipping_cost": "shipping", "shipping_destinations": "shipping",
    "customs_duties": "customs", "customs_clearance": "customs", "prohibited_items": "customs",
}
STAGES = ("skill", "language", "everyone")


def skill_for(reason: Optional[str], intents: Iterable[Optional[str]] = ()) -> Optional[str]:
    """The skill a handoff needs: its reason's, else that of the latest intent that has one."""
    if reason in SKILL_FOR_INTENT:
        return SKILL_FOR_INTENT[reason]
    for intent in reversed(list(intents)):
        if intent in SKILL_FOR_INTENT:
            return SKILL_FOR_INTENT[intent]
    return None


def _base(code: str) -> str:
    # zh-CN and zh-TW are different scripts for an agent; other regional variants read alike.
    return code if code.lower().startswith("zh") else code.split("-")[0].lower()


def speaks(agent: Agent, language: Optional[str]) -> bool:
    """Whether the agent reads and writes the language (``fr-CA`` counts as ``fr``; ``zh-TW`` is not ``zh-CN``)."""
    return bool(language) and any(_base(code) == _base(language) for code in agent.languages)


@dataclass
class Desk:
    """A snapshot of the online agents: who they are, who is available (not away) and their loads."""

    agents: dict[int, Agent]
    available: set[int]
    loads: dict[int, int] = field(default_factory=dict)


class Router:
    """The routing rules over a ``Desk`` snapshot (pure: no I/O; tested in-process).

    Args:
        widen_seconds: how long each stage lasts before the next, wider, one.
        max_conversations: conversations one agent may hold (auto-assignment stays below).
    """

    def __init__(self, widen_seconds: float, max_conversations: int):
        self.widen_seconds = max(0.0, widen_seconds)
        self.max_conversations = max_conversations

    def stages(self, language: Optional[str], skill: Optional[str], desk: Desk) -> list[tuple[str, set[int]]]:
        """The stages that have an available agent, in order, each with the online agents in it."""
        groups = (
            ("skill", {a.id for a in desk.agents.values() if skill and skill in a.skills}),
            ("language", {a.id for a in desk.agents.values() if speaks(a, language)}),
            ("everyone", set(desk.agents)),
        )
        return [(name, members) for name, members in groups if members & desk.available]

    def _reached(self, entry: dict, desk: Desk) -> tuple[list[tuple[str, set[int]]], int]:
        stages = self.stages(entry.get("language"), entry.get("skill"), desk)
        waited = entry.get("waiting_seconds") or 0.0
        steps = len(stages) if self.widen_seconds == 0 else int(waited // self.widen_seconds) + 1
        return stages, min(steps, len(stages))

    def offer(self, entry: dict, desk: Desk) -> tuple[str, set[int]]:
        """The widest stage a queue entry (``language``, ``skill``, ``waiting_seconds``) has reached
        (``skill``, ``language`` or ``everyone``) and the online agents it is offered to now."""
        stages, reached = self._reached(entry, desk)
        if not stages:  # nobody available: whoever is online (away) still sees it
            return "everyone", set(desk.agents)
        return stages[reached - 1][0], set().union(*(members for _, members in stages[:reached]))

    def offered_to(self, entry: dict, desk: Desk) -> set[int]:
        """The online agents a queue entry is offered to now."""
        return self.offer(entry, desk)[1]

    def stage(self, entry: dict, desk: Desk) -> str:
        """The name of the widest stage the entry has reached."""
        return self.offer(entry, desk)[0]

    def widens_in(self, entries: Iterable[dict], desk: Desk) -> Optional[float]:
        """Seconds until the next entry reaches a wider stage (None: none will)."""
        soonest = None
        for entry in entries:
            stages, reached = self._reached(entry, desk)
            if self.widen_seconds == 0 or reached >= len(stages):
                continue
            waited = entry.get("waiting_seconds") or 0.0
            left = reached * self.widen_seconds - waited
            soonest = left if soonest is None else min(soonest, left)
        return None if soonest is None else max(0.05, soonest)

    def pick(self, entry: dict, desk: Desk) -> Optional[int]:
        """The agent to auto-assign an entry to: available, offered it, below the limit, least loaded."""
        candidates = [agent_id for agent_id in self.offered_to(entry, desk) & desk.available
                      if desk.loads.get(agent_id, 0) < self.max_conversations]
        if not candidates:
            return None
        return min(candidates, key=lambda agent_id: (desk.loads.get(agent_id, 0), agent_id))


class Routing:
    """Routing against the live desk: presence, the agent directory and the loads in the store.

    Args:
        router: the rules.
        presence: who is online and away (``handoff/presence.py``).
        agents: the agent directory (``AgentStore``: languages and skills).
        loads: how many conversations each agent holds (``SQLStore.agent_loads``).
        auto_assign: whether waiting conversations are given to agents without a claim.
    """

    def __init__(self, router: Router, presence, agents, loads: Callable[[], dict[int, int]],
                 auto_assign: bool = False):
        self.router = router
        self.presence = presence
        self.agents = agents
        self.loads = loads
        self.auto_assign = auto_assign

    def desk(self) -> Desk:
        """The online agents now, with loads: two queries whatever the team's size (it runs on every queue push)."""
        ids = self.presence.online_agents()
        online = {a.id: a for a in self.agents.all() if a.id in ids and a.active} if ids else {}
        available = {a for a in online if self.presence.status(a) != "away"}
        loads = self.loads() if online else {}
        return Desk(online, available, {a: loads.get(a, 0) for a in online})

    def views(self, queue: list[dict], desk: Desk) -> dict[int, list[dict]]:
        """Each online agent's queue: the entries offered to them now, each with the stage it reached.

        Every entry's audience is worked out once per push, not once per agent and entry: with 20 agents
        and 20 waiting conversations that took 175-207 ms per push on this (busy) machine, this way 4-6 ms.
        """
        offers = []
        for entry in queue:
            stage, audience = self.router.offer(entry, desk)
            offers.append(({**entry, "offered": stage}, audience))
        return {agent_id: [entry for entry, audience in offers if agent_id in audience] for agent_id in desk.agents}

    def visible(self, queue: list[dict], agent_id: int, desk: Desk) -> list[dict]:
        """The queue entries offered to one agent now (``views`` for one agent)."""
        return self.views(queue, desk).get(agent_id, [])


def estimated_wait(recent_waits: list[float], position: int, available: int, default: float) -> Optional[int]:
    """Expected seconds until a person answers the shopper at ``position`` (1 = next).

    The median of recent queue waits (``default`` before any) per agent-sized batch of the
    queue ahead: position 1-k with k available agents waits one median, k+1-2k two, and so
    on. None when no agent is available (the shopper was told nobody is online).
    """
    if available <= 0:
        return None
    ordered = sorted(recent_waits)
    if ordered:
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    else:
        median = default
    return int(round(max(median, 1.0) * math.ceil(position / available)))

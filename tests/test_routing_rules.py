"""The routing rules (handoff/routing.py) without a server: stages, skills, the expected wait."""

from __future__ import annotations

from handoff.routing import Desk, Router, estimated_wait, skill_for
from handoff.store.records import Agent


def _desk(*agents: Agent, away=()) -> Desk:
    return Desk({a.id: a for a in agents}, {a.id for a in agents} - set(away), {a.id: 0 for a in agents})


def test_stages_skip_groups_nobody_available_is_in_and_widen_with_time():
    ko = Agent(1, "minji", "Minji", ["ko"], skills=["payments"])
    en = Agent(2, "emma", "Emma", ["en"])
    router = Router(60, 5)
    entry = {"language": "ko", "skill": "payments", "waiting_seconds": 0}

    assert router.offered_to(entry, _desk(ko, en)) == {1}
    assert router.offered_to({**entry, "waiting_seconds": 61}, _desk(ko, en)) == {1}  # skill, then language: both Minji
    assert router.offered_to({**entry, "waiting_seconds": 121}, _desk(ko, en)) == {1, 2}
    assert router.offered_to(entry, _desk(ko, en, away=(1,))) == {1, 2}  # Minji away: nobody matching available
    assert router.offered_to({**entry, "language": "zh-TW", "skill": None}, _desk(ko, en)) == {1, 2}
    assert router.widens_in([entry], _desk(ko, en)) == 60


def test_skills_come_from_the_handoff_reason_else_the_latest_topic():
    assert skill_for("payment_failed") == "payments"
    assert skill_for("request_human", ["greet", "refund_status", "thank"]) == "returns"
    assert skill_for("fallback", ["greet"]) is None


def test_the_expected_wait_is_the_median_wait_per_batch_of_available_agents():
    assert estimated_wait([10, 30, 20], 1, 2, 60) == 20
    assert estimated_wait([10, 30, 20], 3, 2, 60) == 40
    assert estimated_wait([], 1, 1, 60) == 60
    assert estimated_wait([10], 1, 0, 60) is None

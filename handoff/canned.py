"""Canned answers for agents: the bot's own FAQ answers, in any authored language."""

from __future__ import annotations

from typing import Optional

from actions.facts import StoreFacts
from bot.nlg import MultilingualNLG, placeholders, render

# Answers that only make sense from the bot itself (system notices, small talk).
_SKIPPED = {"utter_handoff_waiting", "utter_handoff_offline", "utter_agent_joined", "utter_agent_left",
            "utter_default", "utter_affirm", "utter_deny", "utter_bot_challenge", "utter_request_human",
            "utter_greet", "utter_goodbye", "utter_thank", "utter_anything_else", "utter_ask_country"}


def generic_values(facts: StoreFacts) -> dict:
    """Placeholder values from the default destination and the shop's policies."""
    default, policies = facts.default, facts.policies
    return {
        **facts.shipping_values(default), "count": facts.destination_count(),
        "methods": ", ".join(default.get("payment_methods") or []),
        "return_days": policies.get("return_days"), "refund_days": policies.get("refund_days"),
        "tracking_url": policies.get("tracking_url"),
    }


def canned_answers(nlg: MultilingualNLG, facts: StoreFacts, language: str, query: Optional[str] = None) -> list[dict]:
    """``[{key, text}]``: every FAQ answer in ``language`` whose placeholders the shop's defaults fill."""
    values = generic_values(facts)
    answers = []
    for key in nlg.responses.get("en", {}):
        if key in _SKIPPED:
            continue
        variations = nlg.variations(key, language)
        if not variations or not placeholders(variations[0].get("text") or "") <= set(values):
            continue
        text = render(variations[0], values).get("text") or ""
        if query and query.lower() not in (text + " " + key).lower():
            continue
        answers.append({"key": key, "text": text})
    return answers

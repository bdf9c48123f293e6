"""Canned answers for agents: the bot's own FAQ answers, in any authored language."""

from __future__ import annotations

from typing import Optional

from crossdesk.store_facts import CountryGrammar, StoreFacts
from bot.nlg import MultilingualNLG, placeholders, render

# Answers that only make sense from the bot itself (system notices, small talk).
_SKIPPED = {"utter_handoff_waiting", "utter_handoff_offline", "utter_agent_joined", "utter_agent_left",
            "utter_agent_requeued",
            "utter_default", "utter_affirm", "utter_deny", "utter_bot_challenge", "utter_request_human",
            "utter_greet", "utter_goodbye", "utter_thank", "utter_anything_else", "utter_ask_country"}
# The bot's "sorry, I can't help with that" names every topic, so it matches most queries; it is
# never the answer an agent searching for a topic wants first.
_APOLOGIES = {"utter_out_of_scope"}
# Answers that exist per destination and as a "tell me your country" fallback (``<name>_generic``).
_PER_DESTINATION = ("utter_shipping_time", "utter_shipping_cost", "utter_payment_methods")
_DUTIES = ("utter_customs_duties_ddp", "utter_customs_duties_ddu")
_TAX_REFUNDS = ("with_return", "claim", "none")  # utter_tax_refund_<one of these>, per destination


def generic_values(facts: StoreFacts) -> dict:
    """Placeholder values from the default destination and the shop's policies."""
    default, policies = facts.default, facts.policies
    return {
        **facts.shipping_values(default), "count": facts.destination_count(),
        "methods": ", ".join(default.get("payment_methods") or []),
        "return_days": policies.get("return_days"), "refund_days": policies.get("refund_days"),
        "tracking_url": policies.get("tracking_url"),
    }


def destination_values(facts: StoreFacts, country: str, country_name: str, language: str) -> tuple[dict, set]:
    """Placeholder values for one destination, and the answers that do not fit it.

    Mirrors the bot's actions (``actions/actions.py``): the country's name fills
    ``{country}`` and its forms after "to", "in", "for" (``{country_to}``...); a listed destination gets
    its own days, fees, duties and payment methods; an unlisted one we ship to
    gets the generic answers; one we don't ship to is told so.
    """
    values = {"country": country_name, **{f"country_{form}": text for form, text in
                                          CountryGrammar.from_file().forms(country, country_name, language).items()}}
    dest = facts.destination(country)
    if dest is None:
        unfit = {*_PER_DESTINATION, *_DUTIES, "utter_shipping_destinations"}
        unfit.add("utter_shipping_destinations_no" if facts.ships_to(country) else "utter_shipping_destinations_yes")
        return values, unfit
    values.update(facts.destination_values(dest, language))
    ddp = (dest.get("duties") or {}).get("model") == "ddp"
    other_duties = "utter_customs_duties_ddu" if ddp else "utter_customs_duties_ddp"
    refund, _ = facts.tax_refund(dest)
    unfit = {f"{name}_generic" for name in _PER_DESTINATION} | {
        "utter_customs_duties_generic", other_duties, "utter_shipping_destinations", "utter_shipping_destinations_no",
        *(f"utter_tax_refund_{other}" for other in (*_TAX_REFUNDS, "generic") if other != refund)}
    return values, unfit


def own_values(facts: StoreFacts, key: str, destination: Optional[tuple[str, str]]) -> dict:
    """Values one answer fills differently from the rest: the days of a tax claim at customs."""
    dest = facts.destination(destination[0]) if destination and key == "utter_tax_refund_claim" else None
    return {"refund_days": facts.tax_refund(dest)[1]} if dest is not None else {}


def canned_answers(nlg: MultilingualNLG, facts: StoreFacts, language: str, query: Optional[str] = None,
                   destination: Optional[tuple[str, str]] = None) -> list[dict]:
    """``[{key, text}]``: every FAQ answer in ``language`` whose placeholders the shop's facts fill.

    Args:
        destination: ``(country code, its name in language)`` when the conversation's
            destination is known: answers are filled for it instead of the defaults.
        query: keeps the answers that mention it, best match first.
    """
    values, unfit = generic_values(facts), set()
    if destination:
        extra, unfit = destination_values(facts, destination[0], destination[1], language)
        values.update(extra)
    answers = []
    for key in nlg.responses.get("en", {}):
        if key in _SKIPPED or key in unfit:
            continue
        variations = nlg.variations(key, language)
        if not variations or not placeholders(variations[0].get("text") or "") <= set(values):
            continue
        text = render(variations[0], {**values, **own_values(facts, key, destination)}).get("text") or ""
        if query and query.lower() not in (text + " " + key).lower():
            continue
        answers.append({"key": key, "text": text})
    return ranked(answers, query) if query else answers


def ranked(answers: list[dict], query: str) -> list[dict]:
    """Answers whose name names the query first (``return`` -> ``utter_return_policy``), the apology last."""
    words = query.lower()

    def rank(indexed: tuple[int, dict]) -> tuple:
        index, answer = indexed
        return answer["key"] in _APOLOGIES, words not in answer["key"].lower(), index

    return [answer for _, answer in sorted(enumerate(answers), key=rank)]

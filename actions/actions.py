"""FAQ answers that depend on store facts (per destination, per policy).

Each action picks a response name and fills its placeholders; the text
itself comes from ``bot/responses/<lang>.yml`` through the NLG.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.facts import StoreFacts
from bot.countries import Gazetteer

Answer = tuple[str, Dict[str, Any]]


class FactAction(Action):
    """Base: answers with one response whose values come from the store."""

    action_name = ""

    def __init__(self, facts: Optional[StoreFacts] = None, gazetteer: Optional[Gazetteer] = None):
        self.facts = facts or StoreFacts.from_dir()
        self.gazetteer = gazetteer or Gazetteer.from_file()

    def name(self) -> Text:
        """The action name used in rules."""
        return self.action_name

    def answer(self, country: Optional[str], language: str, tracker: Tracker) -> Answer:
        """Return (response name, placeholder values)."""
        raise NotImplementedError

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        """Utter the answer in the conversation's language."""
        language = tracker.get_slot("language") or "en"
        country = tracker.get_slot("country")
        response, values = self.answer(country, language, tracker)
        if country:
            values.setdefault("country", self.gazetteer.name(country, language))
        dispatcher.utter_message(response=response, **values)
        return []


class ShippingFact(FactAction):
    """Base: a shipping figure for the destination (generic without one)."""

    response = ""

    def answer(self, country, language, tracker):
        dest = self.facts.destination(country)
        if dest is None and country and not self.facts.ships_to(country):
            return "utter_shipping_destinations_no", {}
        if dest is None:
            return f"{self.response}_generic", self.facts.shipping_values(self.facts.default)
        return self.response, self.facts.shipping_values(dest)


class ShippingTime(ShippingFact):
    """Delivery time to the shopper's destination."""

    action_name = "action_shipping_time"
    response = "utter_shipping_time"


class ShippingCost(ShippingFact):
    """Shipping fee and free-shipping threshold."""

    action_name = "action_shipping_cost"
    response = "utter_shipping_cost"


class ShippingDestinations(FactAction):
    """Whether we ship to a country."""

    action_name = "action_shipping_destinations"

    def answer(self, country, language, tracker):
        if not country:
            return "utter_shipping_destinations", {"count": self.facts.destination_count()}
        if self.facts.ships_to(country):
            return "utter_shipping_destinations_yes", {}
        return "utter_shipping_destinations_no", {}


class OrderTracking(FactAction):
    """Where to track a parcel (with the order id when given)."""

    action_name = "action_order_tracking"

    def answer(self, country, language, tracker):
        values = {"tracking_url": self.facts.policies["tracking_url"]}
        order_id = tracker.get_slot("order_id")
        if order_id:
            return "utter_order_tracking_order", {**values, "order_id": order_id}
        return "utter_order_tracking", values


class CustomsDuties(FactAction):
    """Duties and taxes for a destination (collected at checkout or on delivery)."""

    action_name = "action_customs_duties"

    def answer(self, country, language, tracker):
        dest = self.facts.destination(country)
        if dest is None:
            return "utter_customs_duties_generic", {}
        duties = dest.get("duties") or {}
        vat = (duties.get("vat_i18n") or {}).get(language) or duties.get("vat", "")
        values = {"vat": vat, "threshold": duties.get("threshold", "")}
        if duties.get("model") == "ddp":
            return "utter_customs_duties_ddp", values
        return "utter_customs_duties_ddu", values


class PaymentMethods(FactAction):
    """Payment methods available in the shopper's country."""

    action_name = "action_payment_methods"

    def answer(self, country, language, tracker):
        dest = self.facts.destination(country)
        if dest is None:
            return "utter_payment_methods_generic", {"methods": ", ".join(self.facts.default["payment_methods"])}
        return "utter_payment_methods", {"methods": ", ".join(dest["payment_methods"])}


class ReturnPolicy(FactAction):
    """The return window."""

    action_name = "action_return_policy"

    def answer(self, country, language, tracker):
        return "utter_return_policy", {"return_days": self.facts.policies["return_days"]}


class RefundStatus(FactAction):
    """How long refunds take."""

    action_name = "action_refund_status"

    def answer(self, country, language, tracker):
        return "utter_refund_status", {"refund_days": self.facts.policies["refund_days"]}


ALL_ACTIONS = (
    ShippingTime, ShippingCost, ShippingDestinations, OrderTracking,
    CustomsDuties, PaymentMethods, ReturnPolicy, RefundStatus,
)

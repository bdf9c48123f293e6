"""FAQ answers that depend on store facts (per destination, per policy).

Each action picks a response name and fills its placeholders; the text
itself comes from ``bot/responses/<lang>.yml`` through the NLG.

Beyond one question, one answer:

* a destination given in reply to the bot's question ("Which country?") answers that
  question (the question is the response name of the bot's last message in the tracker);
* a second fact question in the same message ("Ship to Hong Kong and how long?") is
  answered too, when its words are in ``data/language/topic_words.yml``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from crossdesk import yaml_files
from crossdesk.languages import AUTHORED
from crossdesk.paths import LANGUAGE_DATA_DIR
from crossdesk.store_facts import CountryGrammar, Gazetteer, PaymentMethods as MethodNames, StoreFacts
from crossdesk.words import MAX_ANSWER_WORDS, answer_words

Answer = tuple[str, Dict[str, Any]]

TOPIC_WORDS = LANGUAGE_DATA_DIR / "topic_words.yml"

# Responses that end with a question about the destination, and the topic they leave open.
PENDING_QUESTIONS = {
    "utter_shipping_time_generic": "shipping_time",
    "utter_shipping_cost_generic": "shipping_cost",
    "utter_customs_duties_generic": "customs_duties",
    "utter_shipping_destinations": "shipping_destinations",
    "utter_payment_method_some": "payment_methods",
    "utter_ask_country": "shipping_destinations",
    "utter_tax_refund_generic": "tax_refund",
}
SECOND_TOPICS = ("shipping_time", "shipping_cost", "customs_duties", "payment_methods")
MAX_LISTED_COUNTRIES = 6  # "Alipay is available for some destinations, for example China, Hong Kong"


def last_bot_response(tracker: Tracker) -> Optional[str]:
    """The response name of the bot's last message before the shopper's latest one."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif event.get("event") == "bot" and seen_user:
            return (event.get("metadata") or {}).get("utter_action")
    return None


def pending_topic(tracker: Tracker) -> Optional[str]:
    """The topic the bot asked the shopper's destination for, if its last message did."""
    return PENDING_QUESTIONS.get(last_bot_response(tracker) or "")


def is_destination_reply(message: dict) -> bool:
    """Whether the message is little more than a country name ("Australia", "to Australia please")."""
    countries = [e for e in message.get("entities") or [] if e.get("entity") == "country"]
    return bool(countries) and len(answer_words(message.get("text") or "", countries)) <= MAX_ANSWER_WORDS


class FactAction(Action):
    """Base: answers with one response whose values come from the store."""

    action_name = ""
    topic = ""

    def __init__(self, facts: Optional[StoreFacts] = None, gazetteer: Optional[Gazetteer] = None,
                 grammar: Optional[CountryGrammar] = None, payment_methods: Optional[MethodNames] = None,
                 topic_words: Optional[Gazetteer] = None):
        self.facts = facts or StoreFacts.from_dir()
        self.gazetteer = gazetteer or Gazetteer.from_file()
        self.grammar = grammar or CountryGrammar.from_file()
        self.payment_methods = payment_methods or MethodNames.from_file()
        self.topic_words = topic_words or Gazetteer.from_file(TOPIC_WORDS)

    def name(self) -> Text:
        """The action name used in rules."""
        return self.action_name

    def answer(self, country: Optional[str], language: str, tracker: Tracker) -> Answer:
        """Return (response name, placeholder values)."""
        raise NotImplementedError

    def peer(self, topic: str) -> "FactAction":
        """The action answering ``topic``, sharing this one's facts."""
        return TOPICS[topic](self.facts, self.gazetteer, self.grammar, self.payment_methods, self.topic_words)

    def second_topics(self, text: str) -> List[str]:
        """Other fact topics the message asks about, in the order it names them."""
        found = []
        for match in self.topic_words.find(text):
            topic = match.code.lower()
            if topic in SECOND_TOPICS and topic != self.topic and topic not in found:
                found.append(topic)
        return found

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        """Utter the answer in the conversation's language (and to the open or second question)."""
        language = tracker.get_slot("language") or "en"
        country = tracker.get_slot("country")
        message = tracker.latest_message or {}
        pending = pending_topic(tracker)
        if pending and pending != self.topic and is_destination_reply(message):
            return self.peer(pending).run(dispatcher, tracker, domain)
        response = self.utter(dispatcher, country, language, tracker)
        if response != "utter_shipping_destinations_no":
            for topic in self.second_topics(message.get("text") or ""):
                self.peer(topic).utter(dispatcher, country, language, tracker)
        return []

    def utter(self, dispatcher: CollectingDispatcher, country: Optional[str], language: str, tracker: Tracker) -> str:
        """Utter this action's answer; returns the response name."""
        response, values = self.answer(country, language, tracker)
        if country:
            for key, value in self.grammar.values(self.gazetteer, country, language).items():
                values.setdefault(key, value)
        dispatcher.utter_message(response=response, **values)
        return response


class ShippingFact(FactAction):
    """Base: a shipping figure for the destination (generic without one)."""

    response = ""

    def answer(self, country, language, tracker):
        if country and not self.facts.ships_to(country):
            return "utter_shipping_destinations_no", {}
        dest = self.facts.destination_or_default(country)
        if dest is None:
            return f"{self.response}_generic", self.facts.shipping_values(self.facts.default)
        return self.response, self.facts.shipping_values(dest)


class ShippingTime(ShippingFact):
    """Delivery time to the shopper's destination."""

    action_name = "action_shipping_time"
    topic = "shipping_time"
    response = "utter_shipping_time"


class ShippingCost(ShippingFact):
    """Shipping fee and free-shipping threshold."""

    action_name = "action_shipping_cost"
    topic = "shipping_cost"
    response = "utter_shipping_cost"


class ShippingDestinations(FactAction):
    """Whether we ship to a country."""

    action_name = "action_shipping_destinations"
    topic = "shipping_destinations"

    def answer(self, country, language, tracker):
        if not country:
            return "utter_shipping_destinations", {"count": self.facts.destination_count()}
        if self.facts.ships_to(country):
            return "utter_shipping_destinations_yes", {}
        return "utter_shipping_destinations_no", {}


class OrderTracking(FactAction):
    """Where to track a parcel (with the order id when given)."""

    action_name = "action_order_tracking"
    topic = "order_tracking"

    def answer(self, country, language, tracker):
        values = {"tracking_url": self.facts.policies["tracking_url"]}
        order_id = tracker.get_slot("order_id")
        if order_id:
            return "utter_order_tracking_order", {**values, "order_id": order_id}
        return "utter_order_tracking", values


class CustomsDuties(FactAction):
    """Duties and taxes for a destination (collected at checkout or on delivery)."""

    action_name = "action_customs_duties"
    topic = "customs_duties"

    def answer(self, country, language, tracker):
        if country and not self.facts.ships_to(country):
            return "utter_shipping_destinations_no", {}
        dest = self.facts.destination_or_default(country)
        if dest is None:
            return "utter_customs_duties_generic", {}
        values = self.facts.duty_values(dest, language)
        if (dest.get("duties") or {}).get("model") == "ddp":
            return "utter_customs_duties_ddp", values
        return "utter_customs_duties_ddu", values


class PaymentMethods(FactAction):
    """Payment methods available in the shopper's country; yes or no for a method the shopper names."""

    action_name = "action_payment_methods"
    topic = "payment_methods"

    def answer(self, country, language, tracker):
        if country and not self.facts.ships_to(country):
            return "utter_shipping_destinations_no", {}
        method = self.asked_method(tracker)
        if method:
            return self.method_answer(method, country, language)
        dest = self.facts.destination_or_default(country)
        if dest is None:
            return "utter_payment_methods_generic", {"methods": ", ".join(self.facts.default["payment_methods"])}
        return "utter_payment_methods", {"methods": ", ".join(dest["payment_methods"])}

    def asked_method(self, tracker: Tracker) -> Optional[str]:
        """The payment method the latest message names, or, when it answers the bot's "which
        country?" about a method, the one the shopper asked about before."""
        user_messages = [e.get("parse_data") or {} for e in reversed(tracker.events) if e.get("event") == "user"]
        looked_at = 2 if pending_topic(tracker) == self.topic else 1
        for message in user_messages[:looked_at] or [tracker.latest_message or {}]:
            for entity in message.get("entities") or []:
                if entity.get("entity") == "payment_method":
                    return entity.get("value")
        return None

    def method_answer(self, method: str, country: Optional[str], language: str) -> Answer:
        """Yes or no for ``method`` (for the destination, or where it is offered)."""
        values = {"method": self.payment_methods.name(method, language)}
        dest = self.facts.destination_or_default(country)
        if dest is not None:
            methods = dest["payment_methods"]
            if self.payment_methods.offered(method, methods):
                return "utter_payment_method_yes", values
            return "utter_payment_method_no", {**values, "methods": ", ".join(methods)}
        where = [code for code in self.facts.destinations
                 if self.payment_methods.offered(method, self.facts.destination(code)["payment_methods"])]
        if not where:
            return "utter_payment_method_none", {**values, "methods": ", ".join(self.facts.default["payment_methods"])}
        if len(where) == len(self.facts.destinations) and self.payment_methods.offered(
                method, self.facts.default["payment_methods"]):
            return "utter_payment_method_everywhere", values
        names = ", ".join(self.gazetteer.name(code, language) for code in where[:MAX_LISTED_COUNTRIES])
        return "utter_payment_method_some", {**values, "countries": names}



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


class TaxRefund(FactAction):
    """Getting import taxes or duties back on a return, for the destination; and the tax-free export rule."""

    action_name = "action_tax_refund"
    topic = "tax_refund"

    def answer(self, country, language, tracker):
        if country and not self.facts.ships_to(country):
            return "utter_shipping_destinations_no", {}
        dest = self.facts.destination_or_default(country)
        if dest is None:
            return "utter_tax_refund_generic", {}
        refund, days = self.facts.tax_refund(dest)
        vat = self.facts.duty_values(dest, language)["vat"]
        return f"utter_tax_refund_{refund}", {"vat": vat, **({"refund_days": days} if days is not None else {})}

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        """The destination's answer; the export rule before a question (it must stay the last message)."""
        language = tracker.get_slot("language") or "en"
        country = tracker.get_slot("country")
        message = tracker.latest_message or {}
        pending = pending_topic(tracker)
        if pending and pending != self.topic and is_destination_reply(message):
            return self.peer(pending).run(dispatcher, tracker, domain)
        tax_free = bool(self.facts.policies.get("export_tax_free"))
        response, values = self.answer(country, language, tracker)
        if tax_free and response == "utter_tax_refund_generic":
            dispatcher.utter_message(response="utter_tax_free_export")
        self.utter(dispatcher, country, language, tracker)
        if tax_free and response not in ("utter_tax_refund_generic", "utter_shipping_destinations_no"):
            dispatcher.utter_message(response="utter_tax_free_export")
        return []


TOPIC_TITLES = LANGUAGE_DATA_DIR / "topic_titles.yml"
MIN_LIKELY = 0.03  # a topic below this confidence (its own sigmoid) is not offered as a quick reply (docs/intents.md)
NOT_TOPICS = ("nlu_fallback", "out_of_scope", "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge",
              "request_human")
"""Intents that are no topic to offer: the conversation's own moves and the declines."""


def likely_topics(ranking: List[dict], titles: Dict[str, Any], limit: int = 2,
                  floor: float = MIN_LIKELY) -> List[str]:
    """The (at most ``limit``) likeliest answerable intents of an NLU ranking, best first.

    None when the likeliest intent is ``out_of_scope``: offering shop topics for "set an alarm"
    would be a guess; the fallback answer (rephrase or talk to a person) fits better.
    """
    found = []
    for entry in ranking or []:
        name, confidence = entry.get("name"), entry.get("confidence") or 0.0
        if name == "out_of_scope" and not found:
            return []
        if name in NOT_TOPICS or name not in titles or confidence < floor:
            continue
        found.append(name)
        if len(found) == limit:
            break
    return found


def load_topic_titles(path=TOPIC_TITLES) -> Dict[str, Dict[str, str]]:
    """``{intent: {language: quick-reply title}}`` (``data/language/topic_titles.yml``)."""
    with open(path, encoding="utf-8") as handle:
        return yaml_files.safe_load(handle) or {}


class Clarify(Action):
    """The bot is unsure (``nlu_fallback``): ask which of the two likeliest topics the shopper means.

    The quick replies' payloads are ``/<intent>``, so a pick is answered as that intent; with no
    likely topic the usual fallback answer (rephrase, or talk to a person).
    """

    def __init__(self, facts: Optional[StoreFacts] = None, gazetteer: Optional[Gazetteer] = None,
                 titles: Optional[Dict[str, Dict[str, str]]] = None):
        self.titles = titles if titles is not None else load_topic_titles()

    def name(self) -> Text:
        """The action name used in rules."""
        return "action_clarify"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        """Utter the question with the topics as buttons, or ``utter_default``."""
        language = tracker.get_slot("language") or "en"
        topics = likely_topics((tracker.latest_message or {}).get("intent_ranking") or [], self.titles)
        if not topics or language not in AUTHORED:  # a language we don't author: utter_default's apology
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": self.titles[t].get(language) or self.titles[t]["en"], "payload": f"/{t}"}
                   for t in topics]
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []


TOPICS = {action.topic: action for action in (ShippingTime, ShippingCost, ShippingDestinations,
                                              CustomsDuties, PaymentMethods, TaxRefund)}

ALL_ACTIONS = (
    ShippingTime, ShippingCost, ShippingDestinations, OrderTracking,
    CustomsDuties, PaymentMethods, ReturnPolicy, RefundStatus, TaxRefund, Clarify,
)

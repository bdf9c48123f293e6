"""Issue #20's new intents and the clarifying question: ``tax_refund`` answered from the store's facts
per destination, ``product_question`` handed to a person with the page, and the question the bot asks
when it is unsure. Pure logic in-process; the conversation over a real server and real Socket.IO."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import Clarify, TaxRefund, likely_topics, load_topic_titles
from bot.nlg import MultilingualNLG, placeholders
from crossdesk.languages import AUTHORED
from crossdesk.store_facts import StoreFacts
from tests.support import ROOT, AgentClient, Shopper, add_agent, login

STORE = ROOT / "data" / "store"
NEW_RESPONSES = ("utter_tax_refund_with_return", "utter_tax_refund_claim", "utter_tax_refund_none",
                 "utter_tax_refund_generic", "utter_tax_free_export", "utter_product_question", "utter_clarify")


def tracker(slots: dict, latest: dict | None = None) -> Tracker:
    return Tracker("t", slots, latest or {}, [], False, None, {}, "action_listen")


def run(action, slots: dict, latest: dict | None = None) -> list[dict]:
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, tracker(slots, latest), {})
    return dispatcher.messages


# -- tax_refund: facts per destination -----------------------------------------------------------


@pytest.mark.parametrize("country, response", [
    ("DE", "utter_tax_refund_with_return"),  # ddp: taxes collected at checkout come back with the item
    ("US", "utter_tax_refund_claim"),        # ddu: paid to customs; claimed back with our papers
    ("BR", "utter_tax_refund_none"),         # customs refund nothing
    ("CL", "utter_tax_refund_claim"),        # shipped to, no own facts: the default's rule
    (None, "utter_tax_refund_generic"),      # which country?
])
def test_a_tax_refund_question_is_answered_from_the_destinations_facts(country, response):
    messages = run(TaxRefund(), {"language": "de", "country": country})

    answers = [m["response"] for m in messages]
    assert response in answers and "utter_tax_free_export" in answers, answers
    assert answers[-1] == response if country is None else answers[0] == response  # the question comes last


def test_the_tax_refund_answer_carries_the_destinations_tax_name_and_days_in_the_shoppers_language():
    [answer, _] = run(TaxRefund(), {"language": "ja", "country": "DE"})
    [claim, _] = run(TaxRefund(), {"language": "fr", "country": "US"})

    assert answer["vat"] == "付加価値税19%" and answer["refund_days"] == StoreFacts.from_dir().policies["refund_days"]
    assert answer["country_to"] == "ドイツへ"
    assert claim["vat"] == "taxe de vente" and claim["refund_days"] == 30


def test_without_the_export_rule_no_tax_free_line_is_added(tmp_path):
    (tmp_path / "destinations.yml").write_text((STORE / "destinations.yml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "policies.yml").write_text("export_tax_free: false\n")

    messages = run(TaxRefund(StoreFacts.from_dir(tmp_path)), {"language": "en", "country": "DE"})

    assert [m["response"] for m in messages] == ["utter_tax_refund_with_return"]


def test_a_country_we_do_not_ship_to_gets_the_no_not_a_tax_answer():
    messages = run(TaxRefund(), {"language": "en", "country": "KP"})
    assert [m["response"] for m in messages] == ["utter_shipping_destinations_no"]


def test_every_destinations_tax_refund_facts_pass_the_studios_schema():
    from handoff.studio.content import ContentError
    from handoff.studio.facts_schema import validate

    data = yaml.safe_load((STORE / "destinations.yml").read_text(encoding="utf-8"))
    for prefix, facts in [(["default"], data["default"]),
                          *((["destinations", code], facts) for code, facts in data["destinations"].items())]:
        for name in ("refund", "refund_days"):
            if name in facts["duties"]:
                validate("destinations", [*prefix, "duties", name], facts["duties"][name])
    assert validate("policies", ["export_tax_free"], True) is True
    for path, wrong in ((["destinations", "DE", "duties", "refund"], "maybe"),
                        (["destinations", "DE", "duties", "refund_days"], -3)):
        with pytest.raises(ContentError):
            validate("destinations", path, wrong)
    with pytest.raises(ContentError):
        validate("policies", ["export_tax_free"], "yes")


def test_the_new_answers_exist_in_every_authored_language_with_englishs_placeholders():
    texts = MultilingualNLG.from_dir(ROOT / "bot" / "responses")
    for name in NEW_RESPONSES:
        [english] = texts.own_variations(name, "en")
        for language in AUTHORED:
            [variation] = texts.own_variations(name, language)
            assert placeholders(variation["text"]) == placeholders(english["text"]), (name, language)


# -- the clarifying question: which topics ----------------------------------------------------------


def ranking(*pairs: tuple[str, float]) -> list[dict]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def test_the_two_likeliest_answerable_topics_are_offered_skipping_conversation_moves():
    titles = load_topic_titles()
    found = likely_topics(ranking(("nlu_fallback", 0.25), ("greet", 0.2), ("refund_status", 0.19),
                                  ("thank", 0.15), ("return_policy", 0.14), ("shipping_time", 0.13)), titles)
    assert found == ["refund_status", "return_policy"]


def test_no_topic_is_offered_when_nothing_is_likely_or_the_message_looks_off_topic():
    titles = load_topic_titles()
    assert likely_topics(ranking(("nlu_fallback", 0.25), ("shipping_time", 0.06), ("cancel_order", 0.05)), titles) == []
    assert likely_topics(ranking(("nlu_fallback", 0.25), ("out_of_scope", 0.2), ("cancel_order", 0.18)), titles) == []


def test_the_clarifying_question_has_quick_replies_in_the_shoppers_language_else_the_fallback_answer():
    unsure = {"intent_ranking": ranking(("nlu_fallback", 0.25), ("tax_refund", 0.2), ("customs_duties", 0.18))}
    [asked] = run(Clarify(), {"language": "zh-TW"}, unsure)
    [fallback] = run(Clarify(), {"language": "zh-TW"}, {"intent_ranking": ranking(("nlu_fallback", 0.25))})

    assert asked["response"] == "utter_clarify"
    assert asked["buttons"] == [{"title": "退稅", "payload": "/tax_refund"},
                                {"title": "關稅和進口稅", "payload": "/customs_duties"}]
    assert fallback["response"] == "utter_default" and not fallback["buttons"]


def test_a_language_we_do_not_author_gets_the_fallback_answer_not_a_question_in_english():
    unsure = {"intent_ranking": ranking(("nlu_fallback", 0.7), ("order_tracking", 0.3), ("shipping_time", 0.2))}
    [answer] = run(Clarify(), {"language": "it"}, unsure)
    assert answer["response"] == "utter_default"  # the NLG turns it into the apology in the widget's language


def test_every_answerable_intent_has_a_title_in_every_authored_language():
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    titles = load_topic_titles()
    from actions.actions import NOT_TOPICS

    for intent in domain["intents"]:
        if intent not in NOT_TOPICS:
            assert set(titles[intent]) >= set(AUTHORED), intent

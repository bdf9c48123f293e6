"""Off-topic requests about other companies (issue #20: off-topic declined >= 90 %): a question about another
shop's, airline's or bank's policy is declined, not answered with ours (in-process, the trained model)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components import THIRD_PARTY_MARK, CrossdeskTokenizer

DECLINED = ("out_of_scope", "nlu_fallback")


def lemmas(text: str) -> list[str]:
    message = Message(data={"text": text})
    CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process([message])
    return [token.lemma for token in message.get("text_tokens")]


def test_another_companys_name_is_one_mark_in_every_script():
    assert lemmas("return policy at Zalando") == ["return", "policy", "at", THIRD_PARTY_MARK]
    assert lemmas("ユニクロの返品")[0].startswith(THIRD_PARTY_MARK)
    assert lemmas("이케아 배송") == [THIRD_PARTY_MARK, "배송"]
    assert lemmas("bei Otto zurückschicken")[1] == THIRD_PARTY_MARK


def test_a_payment_method_named_after_a_company_keeps_its_name():
    assert lemmas("do you take amazon pay")[3] == "amazon"
    assert lemmas("my amazon parcel")[1] == THIRD_PARTY_MARK


def parse(engine, text: str, locale: str) -> dict:
    return asyncio.run(engine.parse(text, {"locale": locale}))["intent"]


@pytest.mark.parametrize("text,locale", [
    ("how long is the return window at Primark", "en"),
    ("les retours chez Zalando sont gratuits ?", "fr"),
    ("イケアの返品期限は？", "ja"),
])
def test_another_shops_return_policy_is_declined(engine, text, locale):
    assert parse(engine, text, locale)["name"] in DECLINED


@pytest.mark.parametrize("text,locale,intent", [
    ("what is your return policy", "en", "return_policy"),
    ("can I pay with Amazon Pay?", "en", "payment_methods"),
    ("quelle est votre politique de retour ?", "fr", "return_policy"),
])
def test_our_own_policy_is_still_answered(engine, text, locale, intent):
    assert parse(engine, text, locale)["name"] == intent

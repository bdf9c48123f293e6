"""Every authored language end to end over Socket.IO: right answer, right language, right figures."""

import pytest
import yaml

from bot.nlg import UNSUPPORTED_LANGUAGE_TEXT
from tests.support import ROOT

QUESTIONS = {
    "en": "how many days does delivery to Germany take?",
    "ja": "ドイツへの配送は何日くらいかかりますか",
    "zh-CN": "寄到德国需要多少天？",
    "zh-TW": "寄到德國要幾天？",
    "ko": "독일까지 배송 며칠 걸려요?",
    "fr": "combien de jours pour une livraison en Allemagne ?",
    "de": "wie lange dauert der Versand nach Deutschland?",
    "es": "¿cuántos días tarda el envío a Alemania?",
}


def load(name: str) -> dict:
    with open(ROOT / "data" / "store" / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("language", sorted(QUESTIONS))
async def test_shipping_time_to_germany_in_every_language(shopper, language):
    if not (ROOT / "data" / "nlu" / language).is_dir():
        pytest.skip(f"no training data for {language} yet (issue 3)")
    facts = {**load("destinations.yml")["default"], **load("destinations.yml")["destinations"]["DE"]}
    germany = load("countries.yml")["DE"][language][0]
    reply = await shopper.ask(QUESTIONS[language])
    assert reply["language"] == language
    assert germany in reply["text"], reply["text"]
    assert str(facts["days_min"]) in reply["text"] and str(facts["days_max"]) in reply["text"]


@pytest.mark.parametrize("text", ["quanto costa la spedizione per l'Italia?", "quanto custa o frete para o Brasil?"])
async def test_unauthored_language_gets_a_polite_answer_not_a_faq(shopper, text):
    reply = await shopper.ask(text)
    assert reply["text"] == UNSUPPORTED_LANGUAGE_TEXT


CUSTOMS = {
    "en": "will I have to pay import tax if I order to Germany?",
    "ja": "ドイツに送る場合、関税はかかりますか？",
    "zh-CN": "寄到德国要交关税吗？",
    "zh-TW": "寄到德國要付關稅嗎？",
    "ko": "독일로 보내면 관세 내야 하나요?",
    "fr": "est-ce que je vais payer des droits de douane pour l'Allemagne ?",
    "de": "muss ich zoll zahlen wenn ich nach deutschland bestelle?",
    "es": "¿tengo que pagar aduana si envío a Alemania?",
}


@pytest.mark.parametrize("language", sorted(CUSTOMS))
async def test_customs_answer_names_the_destinations_tax_in_the_shoppers_language(shopper, language):
    duties = load("destinations.yml")["destinations"]["DE"]["duties"]
    tax = duties["vat"] if language == "en" else duties["vat_i18n"][language]
    reply = await shopper.ask(CUSTOMS[language])
    assert reply["language"] == language
    assert load("countries.yml")["DE"][language][0] in reply["text"] and tax in reply["text"], reply["text"]

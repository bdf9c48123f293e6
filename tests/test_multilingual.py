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

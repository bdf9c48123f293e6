"""The bot's answers over real Socket.IO: order ids, follow-ups, yes/no payment answers,
country names in their grammatical forms, and system texts in the widget's language."""

import asyncio
import re

import pytest
import yaml

from bot.nlg import MultilingualNLG
from tests.support import ROOT, AgentClient, Shopper, add_agent, login

TRACKING_URL = yaml.safe_load((ROOT / "data" / "store" / "policies.yml").read_text())["tracking_url"]
SYSTEM_TEXTS = ("utter_unsupported_language", "utter_request_human", "utter_handoff_waiting",
                "utter_handoff_offline", "utter_agent_joined", "utter_agent_left")


def destination(code: str) -> dict:
    data = yaml.safe_load((ROOT / "data" / "store" / "destinations.yml").read_text(encoding="utf-8"))
    return {**data["default"], **(data["destinations"].get(code) or {})}


async def replies(shopper: Shopper, text: str, quiet: float = 1.5) -> list[dict]:
    """Every bot message answering ``text`` (the turn ends after ``quiet`` seconds without one)."""
    ack = await shopper.say(text)
    assert ack["ok"], ack
    _, first = await shopper.expect("bot_uttered")
    found = [first]
    while True:
        try:
            _, more = await shopper.expect("bot_uttered", timeout=quiet)
        except (TimeoutError, asyncio.TimeoutError):
            return found
        found.append(more)


async def shopper_with(server, locale=None) -> Shopper:
    client = Shopper(server.url)
    await client.connect(locale=locale)
    return client


# -- 4. order ids --------------------------------------------------------------------------


@pytest.mark.parametrize("text, language", [
    ("注文番号SS-10482の荷物はどこですか？", "ja"),
    ("我的订单SS-10482到哪了？", "zh-CN"),
    ("주문번호SS-10482 배송 조회해 주세요", "ko"),
])
async def test_an_order_id_written_against_cjk_text_is_read(shopper, text, language):
    reply = await shopper.ask(text)
    assert reply["language"] == language
    assert "SS-10482" in reply["text"] and TRACKING_URL in reply["text"], reply["text"]


TRACKING_QUESTIONS = {
    "en": "where is my parcel?",
    "ja": "荷物はどこですか？",
    "zh-CN": "我的包裹到哪了？",
    "zh-TW": "我的包裹到哪裡了？",
    "ko": "택배 어디쯤 왔나요?",
    "fr": "où est mon colis ?",
    "de": "wo ist mein Paket?",
    "es": "¿dónde está mi paquete?",
}


@pytest.mark.parametrize("language", sorted(TRACKING_QUESTIONS))
async def test_a_bare_order_id_answers_the_request_for_it_in_every_language(shopper, language):
    asked = await shopper.ask(TRACKING_QUESTIONS[language])
    assert asked["language"] == language and TRACKING_URL in asked["text"]
    for order_id in ("SS-20991", "SS-20992"):  # twice: out of scope twice would hand the shopper off
        reply = await shopper.ask(order_id)
        assert reply["language"] == language
        assert order_id in reply["text"] and TRACKING_URL in reply["text"], reply["text"]
    assert not reply.get("quick_replies"), "no 'talk to a person' offer: the bot understood"


# -- 5. follow-ups -------------------------------------------------------------------------


async def test_a_destination_given_after_the_shipping_time_quick_reply_answers_the_shipping_time(shopper):
    generic = await shopper.ask("/shipping_time")
    assert "country" in generic["text"]
    reply = await shopper.ask("Australia")
    facts = destination("AU")
    assert "Australia" in reply["text"]
    assert f"{facts['days_min']}–{facts['days_max']}" in reply["text"], reply["text"]


async def test_a_destination_given_in_japanese_answers_the_pending_shipping_cost_question(shopper):
    await shopper.ask("こんにちは")
    await shopper.ask("/shipping_cost")
    reply = await shopper.ask("オーストラリアです")
    fee = f"¥{destination('AU')['fee_jpy']:,}"
    assert reply["language"] == "ja"
    assert "オーストラリア" in reply["text"] and fee in reply["text"], reply["text"]


async def test_a_question_naming_a_known_country_without_listed_facts_is_answered_directly(shopper):
    await shopper.ask("Do you ship to Japan?")
    reply = await shopper.ask("How long does shipping to Japan take?")
    facts = destination("JP")
    assert "Japan" in reply["text"] and f"{facts['days_min']}–{facts['days_max']}" in reply["text"], reply["text"]
    assert "country" not in reply["text"], "the bot asked for the country it was just told"


# -- 6. yes/no payment answers and two questions in one message ------------------------------


async def test_can_i_pay_with_alipay_is_answered_yes_for_china(shopper):
    await shopper.ask("Do you ship to China?")
    reply = await shopper.ask("Can I pay with Alipay?")
    assert reply["text"].startswith("Yes") and "Alipay" in reply["text"] and "China" in reply["text"], reply["text"]
    assert "Visa" not in reply["text"], "a yes/no question, not the list of every method"


async def test_the_country_given_after_a_payment_method_question_gets_the_yes_or_no(shopper):
    where = await shopper.ask("Can I pay with Alipay?")
    assert "Alipay" in where["text"] and "China" in where["text"] and where["text"].endswith("?"), where["text"]
    reply = await shopper.ask("China")
    assert reply["text"].startswith("Yes") and "Alipay" in reply["text"] and "Visa" not in reply["text"], reply["text"]


async def test_alipay_in_chinese_is_answered_with_its_chinese_name(shopper):
    await shopper.ask("寄到中国要多久？")
    reply = await shopper.ask("可以用支付宝付款吗？")
    assert reply["language"] == "zh-CN" and "支付宝" in reply["text"] and "Visa" not in reply["text"], reply["text"]


async def test_a_method_not_offered_for_the_destination_is_a_no_with_the_alternatives(shopper):
    await shopper.ask("Liefert ihr in die Schweiz?")
    reply = await shopper.ask("Kann ich mit Alipay bezahlen?")
    assert reply["language"] == "de"
    assert reply["text"].startswith("Leider") and "Alipay" in reply["text"] and "für die Schweiz" in reply["text"]
    assert "Visa" in reply["text"], reply["text"]


async def test_can_you_ship_there_and_what_does_it_cost_answers_both_questions(shopper):
    answers = await replies(shopper, "Can you ship to Hong Kong, and what does it cost?")
    texts = " / ".join(a["text"] for a in answers)
    assert len(answers) == 2, texts
    assert answers[0]["text"].startswith("Yes") and "Hong Kong" in answers[0]["text"]
    assert f"¥{destination('HK')['fee_jpy']:,}" in answers[1]["text"], texts


async def test_a_japanese_message_with_two_questions_gets_both_answers(shopper):
    answers = await replies(shopper, "香港に発送できますか？何日かかりますか？")
    facts = destination("HK")
    texts = " / ".join(a["text"] for a in answers)
    assert len(answers) == 2 and all(a["language"] == "ja" for a in answers), texts
    assert answers[0]["text"].startswith("はい") and "香港" in answers[0]["text"]
    assert f"{facts['days_min']}〜{facts['days_max']}" in answers[1]["text"], texts


async def test_cost_and_duties_in_one_french_message_get_both_answers(shopper):
    question = "Combien coûtent les frais de port pour l'Allemagne et y a-t-il des droits de douane ?"
    answers = await replies(shopper, question)
    texts = " / ".join(a["text"] for a in answers)
    assert len(answers) == 2 and all(a["language"] == "fr" for a in answers), texts
    assert f"{destination('DE')['fee_jpy']:,}".replace(",", "") in texts.replace(",", "").replace("\u202f", "")
    assert "TVA 19 %" in texts, texts


# -- 7. country names in their grammatical forms ---------------------------------------------


@pytest.mark.parametrize("question, expected", [
    ("Liefert ihr in die Schweiz?", "Ja, wir liefern in die Schweiz!"),
    ("Was kostet der Versand in die USA?", "Der Versand in die USA kostet"),
    ("Muss ich Zoll zahlen, wenn ich in die Schweiz bestelle?", "Bei Lieferungen in die Schweiz"),
    ("Wie kann ich in den Niederlanden bezahlen?", "in den Niederlanden"),
    ("Livrez-vous au Japon ?", "Oui, nous livrons au Japon !"),
    ("Combien coûte la livraison aux États-Unis ?", "La livraison aux États-Unis coûte"),
    ("¿Enviáis al Reino Unido?", "¡Sí, enviamos al Reino Unido!"),
])
async def test_country_names_take_their_article_and_preposition(shopper, question, expected):
    reply = await shopper.ask(question)
    assert expected in reply["text"], reply["text"]


# -- 8. system texts in the widget's language ------------------------------------------------


def widget_languages() -> list[str]:
    source = (ROOT / "widget" / "crossdesk.js").read_text(encoding="utf-8")
    block = source[source.index("const STRINGS = {"):source.index("const LANGUAGE_NAMES")]
    return re.findall(r'^    "?([a-z]{2}(?:-[A-Z]{2})?)"?: \{', block, re.M)


def test_every_language_the_widget_speaks_has_every_system_text():
    texts = MultilingualNLG.from_dir(ROOT / "bot" / "responses")
    languages = widget_languages()
    assert {"en", "ja", "ar", "he"} <= set(languages)
    missing = [(lang, name) for lang in languages for name in SYSTEM_TEXTS if not texts.own_variations(name, lang)]
    assert not missing


async def test_an_arabic_shopper_without_a_translator_gets_the_apology_and_handoff_in_arabic(server):
    shopper = await shopper_with(server, locale="ar")
    apology = await shopper.ask("مرحبا، أين طلبي؟")
    assert apology["language"] == "ar" and re.search(r"[\u0600-\u06ff]{3}", apology["text"]), apology
    [person] = apology["quick_replies"]
    assert person["payload"] == "/request_human" and re.search(r"[\u0600-\u06ff]", person["title"])
    # One message answers it: the queue notice (no agent is online), no "I'll connect you" before it.
    [queued] = await replies(shopper, person["payload"])
    assert (queued["sender"], queued["event"]) == ("system", "utter_handoff_offline"), queued
    assert queued["language"] == "ar" and re.search(r"[\u0600-\u06ff]{3}", queued["text"]), queued
    await shopper.close()


async def test_an_italian_shopper_in_a_japanese_widget_gets_the_apology_in_japanese(server):
    shopper = await shopper_with(server, locale="ja-JP")
    reply = await shopper.ask("Buongiorno, quanto costa la spedizione per l'Italia? Grazie")
    assert reply["language"] == "ja" and re.search(r"[\u3040-\u30ff]", reply["text"]), reply
    await shopper.close()


async def test_a_hebrew_shopper_is_told_in_hebrew_when_an_agent_joins_and_leaves(server):
    add_agent(server.var_dir, "noa", "noa-password-1", languages="he,en")
    agent = AgentClient(server.url, login(server.url, "noa", "noa-password-1")[1]["token"])
    await agent.connect()
    shopper = await shopper_with(server, locale="he-IL")
    apology = await shopper.ask("שלום, איפה ההזמנה שלי?")
    assert apology["language"] == "he" and re.search(r"[\u0590-\u05ff]{3}", apology["text"]), apology
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    _, joined = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_joined")
    assert "Noa" in joined["text"] and re.search(r"[\u0590-\u05ff]{3}", joined["text"]), joined
    assert (await agent.call("handback", {"conversation_id": shopper.session_id}))["ok"]
    _, left = await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_left")
    assert "Noa" in left["text"] and re.search(r"[\u0590-\u05ff]{3}", left["text"]), left
    await shopper.close()
    await agent.close()


# -- pure logic: what the extractor reads, the grammar data ------------------------------------


def extracted(text: str) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.message import Message

    from bot.components import StoreEntityExtractor

    [message] = StoreEntityExtractor({}).process([Message(data={"text": text})])
    return [(e["entity"], e["value"]) for e in message.get("entities")]


READ_ENTITIES = {
    "注文番号SS-10482の荷物はどこですか？": [("order_id", "SS-10482")],
    "주문번호123456 배송 조회": [("order_id", "123456")],
    "20000円以上で送料無料ですか": [],
    "2024年12月に注文しました": [],
    "is shipping free over ¥20000?": [],
    "可以用支付宝付款吗": [("payment_method", "ALIPAY")],
}


def test_order_ids_are_read_next_to_cjk_text_but_amounts_and_dates_are_not():
    read = {text: [e for e in extracted(text) if e[0] != "country"] for text in READ_ENTITIES}
    assert read == READ_ENTITIES


def test_every_country_has_a_to_in_and_for_form_in_every_authored_language():
    from crossdesk.store_facts import CountryGrammar, Gazetteer
    from bot.language import AUTHORED

    grammar_data = yaml.safe_load((ROOT / "data" / "store" / "country_grammar.yml").read_text(encoding="utf-8"))
    for lang, entry in grammar_data.items():
        for code, chosen in (entry.get("countries") or {}).items():
            assert isinstance(chosen, dict) or chosen in entry["forms"], (lang, code, chosen)
    gazetteer, grammar = Gazetteer.from_file(), CountryGrammar.from_file()
    for code in gazetteer.codes():
        for lang in AUTHORED:
            forms = grammar.forms(code, gazetteer.name(code, lang), lang)
            assert all(gazetteer.name(code, lang) in text or code in ("NL", "AE", "PH") for text in forms.values())
            assert not any("{" in text for text in forms.values()), (code, lang, forms)


def placed(text: str, intent: str, confidence: float) -> str:
    """The intent after the extractor, given what the classifier said."""
    from rasa.shared.nlu.training_data.message import Message

    from bot.components import StoreEntityExtractor

    message = Message(data={"text": text, "intent": {"name": intent, "confidence": confidence}})
    [message] = StoreEntityExtractor({}).process([message])
    return message.get("intent")["name"]


def test_a_short_off_topic_question_naming_a_country_stays_declined_but_a_country_alone_answers():
    assert placed("flights to Japan", "out_of_scope", 0.34) == "out_of_scope"
    assert placed("去日本需要签证吗", "out_of_scope", 0.52) == "out_of_scope"
    assert placed("Japan", "out_of_scope", 0.6) == "shipping_destinations"  # the entity alone: an answer
    assert placed("オーストラリアです", "nlu_fallback", 0.1) == "shipping_destinations"
    assert placed("en Suisse svp", "affirm", 0.37) == "shipping_destinations"  # unsure shop intent

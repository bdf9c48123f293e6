"""Language detection for short chat messages, and conversation stickiness."""

import pytest

from bot.language import choose_language, detect, normalise_locale


@pytest.mark.parametrize("text, expected", [
    ("配送にどのくらいかかりますか", "ja"),
    ("送料はいくら？", "ja"),
    ("배송 얼마나 걸려요?", "ko"),
    ("运费多少钱", "zh-CN"),
    ("運費多少錢", "zh-TW"),
    ("這個寄到台灣要幾天", "zh-TW"),
    ("这个寄到中国要几天", "zh-CN"),
    ("merci beaucoup", "fr"),
    ("danke schön", "de"),
    ("hola, cuánto cuesta el envío", "es"),
    ("where is my parcel", "en"),
    ("vorrei sapere quando arriva il mio pacco", "it"),
    ("ส่งไปไทยกี่วัน", "th"),
])
def test_detects_short_messages(text, expected):
    assert detect(text).language == expected


@pytest.mark.parametrize("text", ["ok", "OK!", "👍", "#A10234", "4501-22871", "??", "https://shop.example/x"])
def test_messages_without_language_evidence_detect_nothing(text):
    assert detect(text) is None


@pytest.mark.parametrize("text", ["ok", "👍", "#A10234", "ok thx", "DHL"])
def test_neutral_messages_never_switch_the_conversation(text):
    assert choose_language(text, previous="ja")[0] == "ja"
    assert choose_language(text, previous="fr")[0] == "fr"


def test_confident_message_in_another_language_switches():
    assert choose_language("配送にどのくらいかかりますか", previous="en")[0] == "ja"
    assert choose_language("how long does shipping to Germany take", previous="ja")[0] == "en"


def test_weak_detection_keeps_the_conversation_language():
    # One ambiguous Latin word must not flip a German conversation.
    assert choose_language("Paket", previous="de")[0] == "de"


def test_browser_locale_is_a_hint_not_a_verdict():
    assert choose_language("ok", previous=None, locale="ko-KR")[0] == "ko"
    assert choose_language("配送にどのくらいかかりますか", previous=None, locale="en-US")[0] == "ja"


def test_han_only_text_follows_the_chinese_variant_hint():
    shared = "你好"  # the same characters in both systems
    assert choose_language(shared, previous="zh-TW")[0] == "zh-TW"
    assert choose_language(shared, previous="zh-CN")[0] == "zh-CN"


@pytest.mark.parametrize("text, expected", [
    ("cảm ơn shop nhiều", "vi"),  # Vietnamese letters
    ("dziękuję za pomoc", "pl"),
    ("não chegou ainda", "pt"),
    ("спасибо, всё понятно", "ru"),  # ё and ы are Russian, not Bulgarian
    ("grazie mille", "it"),  # long-tail chat words (data/language/long_tail.yml)
    ("obrigado pela ajuda", "pt"),
    ("bedankt voor de hulp, doei", "nl"),
])
def test_long_tail_languages_by_their_own_letters_and_words(text, expected):
    assert detect(text).language == expected


def test_a_foreign_place_name_does_not_change_the_language():
    assert detect("do you ship to São Paulo?").language == "en"
    assert detect("wie lange dauert der Versand nach Łódź").language == "de"


def test_detection_is_deterministic():
    results = {detect("envoi vers la Belgique").language for _ in range(20)}
    assert len(results) == 1


@pytest.mark.parametrize("locale, expected", [
    ("ja-JP", "ja"), ("zh-TW", "zh-TW"), ("zh-Hant-HK", "zh-TW"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"),
    ("pt_BR", "pt"), ("", None), (None, None), ("x" * 40, None),
])
def test_normalises_browser_locales(locale, expected):
    assert normalise_locale(locale) == expected


def test_held_out_short_messages_are_detected_at_least_95_percent():
    from tests.support import ROOT

    rows = [line.rstrip("\n").split("\t") for line in open(ROOT / "tests" / "data" / "language_detection.tsv",
                                                           encoding="utf-8") if line.strip() and not line.startswith("#")]
    right = sum((detect(text) and detect(text).language) == expected for expected, text in rows)
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"

"""zh-TW vs zh-CN on short Han-only messages: script, vocabulary, conversation and browser locale."""

import pytest

from bot.detection_eval import ZH_SCRIPT_FILES, _rows, score_zh_script
from bot.language import choose_language, detect


@pytest.mark.parametrize("taiwan, mainland", [("宅配", "微信支付"), ("超商取件", "咋回事"), ("好喔", "好滴"),
                                              ("可以面交", "包裹丢了"), ("新竹物流", "人工客服")])
def test_vocabulary_in_shared_characters_tells_the_two_apart(taiwan, mainland):
    # No character of its own script: only the words say Taiwan (these were all zh-CN before).
    assert detect(taiwan).language == "zh-TW"
    assert detect(mainland).language == "zh-CN"


@pytest.mark.parametrize("locale", ["zh-TW", "zh-HK", "zh-Hant-TW"])
def test_a_traditional_chinese_locale_tips_an_ambiguous_message(locale):
    assert choose_language("收到", previous=None, locale=locale)[0] == "zh-TW"
    # A word the mainland uses more is not enough to overrule the shopper's browser.
    assert choose_language("微信支付", previous=None, locale=locale)[0] == "zh-TW"


def test_vocabulary_decides_a_first_message_but_never_flips_an_established_conversation():
    assert choose_language("超商取件", previous=None, locale=None)[0] == "zh-TW"
    assert choose_language("好喔", previous="zh-CN")[0] == "zh-CN"
    assert choose_language("微信支付", previous="zh-TW")[0] == "zh-TW"
    # Script-specific characters do.
    assert choose_language("運費多少錢", previous="zh-CN")[0] == "zh-TW"


def test_held_out_han_only_messages_reach_the_target():
    scores = score_zh_script(_rows(ZH_SCRIPT_FILES["test"]))
    assert scores["messages"] >= 200
    assert scores["with_locale"] >= 0.95
    assert scores["with_earlier_message"] >= 0.95
    assert scores["text_alone"] >= 0.93  # 0.872 before the vocabulary (measured 0.947)

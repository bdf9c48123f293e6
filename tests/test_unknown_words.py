"""A message none of whose words the model learnt is not understood, not declined as off-topic (issue #20,
session 11: more off-topic examples made "blorf quengel wumm" out_of_scope 0.113, over the 0.1 fallback, and
the shopper was told "I can't help with that" instead of "Sorry, I didn't get that"). In-process, no model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from bot.components import UnknownWordsFallback, known_words


def featurized(intent: str, confidence: float, words: list[int], text: str = "blorf quengel wumm") -> Message:
    """A message as the classifier leaves it: word counts at the columns ``words`` (block 0), some
    character n-grams (block 1), the intent at ``confidence``."""
    message = Message(data={TEXT: text})
    rows = [scipy.sparse.coo_matrix((np.ones(len(words)), (np.zeros(len(words), dtype=int), words)), shape=(1, 50)),
            scipy.sparse.coo_matrix((np.ones(3), (np.zeros(3, dtype=int), [1, 4, 9])), shape=(1, 80))]
    for index, row in enumerate(rows):
        message.add_features(Features(row, FEATURE_TYPE_SENTENCE, TEXT, f"featurizer.{index}"))
    message.set(INTENT, {"name": intent, "confidence": confidence})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}])
    return message


def intent_after(message: Message) -> str:
    UnknownWordsFallback(UnknownWordsFallback.get_default_config()).process([message])
    return message.get(INTENT)["name"]


def test_a_message_of_unknown_words_unsurely_off_topic_is_not_understood():
    message = featurized("out_of_scope", 0.113, words=[])
    assert intent_after(message) == "nlu_fallback"
    assert message.get(INTENT)["confidence"] >= 0.1  # (the FallbackClassifier after it leaves it as it is)
    assert message.get(INTENT_RANKING_KEY)[1]["name"] == "out_of_scope"


@pytest.mark.parametrize("intent,confidence,words,text", [
    ("out_of_scope", 0.113, [7], "blorf weather"),  # one word the model knows: declined as it was
    ("out_of_scope", 0.3, [], "blah blah blah"),  # off-topic surely enough from its characters
    ("order_tracking", 0.15, [], "wher iz mi parcle"),  # a misspelt question: its character n-grams place it
    ("out_of_scope", 0.15, [], "週末は雪が降りますか"),  # one CJK run, unseen as a whole: not an unknown word
    ("out_of_scope", 0.13, [], "택시 불러줘"),
])
def test_a_known_word_a_sure_decline_a_shop_intent_or_cjk_is_left_alone(intent, confidence, words, text):
    assert intent_after(featurized(intent, confidence, words, text)) == intent


def test_known_words_counts_the_word_block_only():
    assert known_words(featurized("greet", 0.9, words=[2, 5])) == 2
    assert known_words(featurized("greet", 0.9, words=[2, 5]), word_block=1) == 3
    assert known_words(featurized("greet", 0.9, words=[])) == 0
    assert known_words(Message(data={TEXT: "not featurized"})) is None

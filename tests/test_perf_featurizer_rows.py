"""A shopper message's n-gram counts without scikit-learn's batch matrix (issue #21, CPU per reply).

``BatchNgramFeaturizer`` counts a few messages one by one (``FEW_MESSAGES``) and a batch through
``CountVectorizer.transform``: each message's features must be the same either way, values, columns,
dtypes and shape. In-process.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from bot.featurizers import FEW_MESSAGES
from tests.test_featurizer_vocabulary import TEXTS, _messages, trained  # noqa: F401 (a fixture)

UNSEEN = TEXTS + [
    "my parcel 7 is late again and again and again", "rückgabe", "", "!!!", "配送にどのくらいかかりますか",
    "支払い方法は？", "배송은 얼마나 걸려요", "退貨要多久", "can I pay with PayPal? 🙂", "order #A10234 where is it",
    "OÙ EST MON COLIS", "parcel parcel parcel", "x", "zzzz qqqq",
]


def features(featurizer, texts):
    messages = _messages(texts).training_examples
    featurizer.process(messages)
    return [[feature.features for feature in message.features] for message in messages]


def test_a_message_counted_alone_has_the_features_of_the_same_message_in_a_batch(trained, monkeypatch):  # noqa: F811
    featurizer, _ = trained
    assert len(UNSEEN) > FEW_MESSAGES
    batch = features(featurizer, UNSEEN)  # (scikit-learn's transform)
    assert all(any(row.nnz for row in message) for message in batch[:3])
    monkeypatch.setattr(CountVectorizer, "transform", lambda *_: 1 / 0)  # (not for a few messages)
    for text, theirs in zip(UNSEEN, batch):
        [ours] = features(featurizer, [text])
        assert len(ours) == len(theirs) == len(featurizer.vectorizers)
        for a, b in zip(ours, theirs):
            assert (a.format, a.shape, a.data.dtype, a.row.dtype, a.col.dtype) == \
                (b.format, b.shape, b.data.dtype, b.row.dtype, b.col.dtype)
            np.testing.assert_array_equal(a.data, b.data)
            np.testing.assert_array_equal(a.row, b.row)
            np.testing.assert_array_equal(a.col, b.col)

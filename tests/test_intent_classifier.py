"""The intent classifier's reweighting of n-gram counts (bot/intent_classifier.py)."""

import numpy as np
from scipy.sparse import csr_matrix

from bot.intent_classifier import inverse_document_frequency, weigh


def test_each_featurizers_part_of_a_message_has_unit_length():
    counts = csr_matrix(np.array([[1, 0, 2, 0, 3], [0, 1, 0, 4, 0], [0, 0, 0, 0, 0]]))
    weighted = weigh(counts, inverse_document_frequency(counts), [2, 3]).toarray()
    assert np.allclose((weighted[:2, :2] ** 2).sum(axis=1), 1.0)
    assert np.allclose((weighted[:2, 2:] ** 2).sum(axis=1), 1.0)
    assert not weighted[2].any()  # an empty message stays empty (no division by zero)


def test_an_ngram_every_message_has_weighs_less_than_a_rare_one():
    counts = csr_matrix(np.array([[1, 1], [1, 0], [1, 0], [1, 0]]))  # column 0 is in every message
    weighted = weigh(counts, inverse_document_frequency(counts), [2]).toarray()
    assert weighted[0, 0] < weighted[0, 1]


def test_repeated_ngrams_count_less_than_linearly():
    counts = csr_matrix(np.array([[10, 1], [0, 1], [1, 0]]))
    weighted = weigh(counts, np.ones(2), [2]).toarray()
    assert weighted[0, 0] / weighted[0, 1] < 10 / 1


def test_block_weights_set_each_featurizers_share():
    counts = csr_matrix(np.array([[1, 2, 3, 4]]))
    weighted = weigh(counts, np.ones(4), [2, 2], [0.5, 1.0]).toarray()
    assert np.isclose((weighted[0, :2] ** 2).sum(), 0.25)
    assert np.isclose((weighted[0, 2:] ** 2).sum(), 1.0)


def _fitted(tmp_path, scale):
    """A classifier fitted on three intents, the third (``out_of_scope``) with most examples; ``scale`` its
    ``class_weight_scale``."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.intent_classifier import TfidfLogisticRegressionClassifier

    config = {**TfidfLogisticRegressionClassifier.get_default_config(), "C": 30, "solver": "liblinear",
              "class_weight_scale": scale}
    classifier = TfidfLogisticRegressionClassifier(config, "classifier", LocalModelStorage(tmp_path), Resource("c"))
    rng = np.random.default_rng(0)
    X = csr_matrix(rng.random((60, 6)) < 0.4, dtype=np.float64)
    y = ["shipping_time"] * 10 + ["refund_status"] * 10 + ["out_of_scope"] * 40
    classifier._fit(X, y)
    return classifier, X


def test_a_class_weight_scale_makes_that_intents_own_classifier_surer(tmp_path):
    from bot.intent_classifier import own_confidences

    plain, X = _fitted(tmp_path / "plain", None)
    scaled, _ = _fitted(tmp_path / "scaled", {"out_of_scope": 3.0})
    column = list(plain.clf.classes_).index("out_of_scope")
    before = own_confidences(plain.clf.decision_function(X))[:, column]
    after = own_confidences(scaled.clf.decision_function(X))[:, column]
    assert (after > before).all()
    others = [c for c in range(len(plain.clf.classes_)) if c != column]  # (each intent's own fit is unchanged)
    assert np.allclose(plain.clf.decision_function(X)[:, others], scaled.clf.decision_function(X)[:, others])

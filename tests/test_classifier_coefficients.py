"""The intent classifier's coefficients are stored beside its skops file and memory-mapped on load
(issue #16 swap, issue #21 cold start and memory per process): same intents and confidences, older
models (coefficients inside the skops file) still load for rollback.

In-process: a small featurizer + classifier trained, persisted to a model storage and loaded back.
"""

from __future__ import annotations

import numpy as np
import pytest

EXAMPLES = {"where_is_my_order": ["where is my parcel", "wo ist mein paket", "où est mon colis", "track my order"],
            "cancel_order": ["cancel my order", "please cancel the order", "annuler ma commande", "stornieren bitte"],
            "return_item": ["return the shoes", "i want to send it back", "返品したい", "devolver el pedido"]}
UNSEEN = ["where is the parcel i ordered", "cancel it please", "can i return these", "返品", "hello there"]


def _context(name: str):
    from rasa.engine.graph import ExecutionContext

    return ExecutionContext(None, node_name=name)


def _featurized(featurizer, texts_by_intent=None, texts=None):
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import CrossdeskTokenizer

    rows = [(t, i) for i, ts in (texts_by_intent or {}).items() for t in ts] or [(t, None) for t in texts]
    data = TrainingData([Message(data={"text": t, **({"intent": i} if i else {})}) for t, i in rows])
    data = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process_training_data(data)
    featurizer.process_training_data(data) if texts_by_intent else featurizer.process(data.training_examples)
    return data


@pytest.fixture()
def trained(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.featurizers import BatchNgramFeaturizer
    from bot.intent_classifier import TfidfLogisticRegressionClassifier

    storage = LocalModelStorage(tmp_path)
    featurizer = BatchNgramFeaturizer.create(BatchNgramFeaturizer.get_default_config(), storage,
                                             Resource("featurizer"), _context("featurizer"))
    featurizer.train(_featurized(featurizer, texts=[t for ts in EXAMPLES.values() for t in ts]))
    classifier = TfidfLogisticRegressionClassifier.create(
        {**TfidfLogisticRegressionClassifier.get_default_config(), "solver": "lbfgs"}, storage,
        Resource("classifier"), _context("classifier"))
    classifier.train(_featurized(featurizer, EXAMPLES))
    return featurizer, classifier, storage


def _load(classifier, storage):
    from bot.intent_classifier import TfidfLogisticRegressionClassifier

    return TfidfLogisticRegressionClassifier.load(classifier.config, storage, classifier._resource,
                                                  _context("loaded"))


def _rankings(featurizer, classifier):
    messages = _featurized(featurizer, texts=UNSEEN).training_examples
    classifier.process(messages)
    return [[(r["name"], round(r["confidence"], 12)) for r in m.get("intent_ranking")] for m in messages]


def test_a_loaded_model_ranks_intents_as_the_trained_one_did(trained):
    featurizer, classifier, storage = trained
    loaded = _load(classifier, storage)
    assert _rankings(featurizer, loaded) == _rankings(featurizer, classifier)
    assert isinstance(loaded.clf.coef_.base, np.memmap)  # mapped from the file, not read into memory
    assert loaded.clf.coef_.shape == classifier.clf.coef_.shape


def test_the_skops_file_no_longer_holds_the_coefficients(trained):
    import skops.io as sio

    from bot.intent_classifier import COEFFICIENTS_FILE

    _, classifier, storage = trained
    with storage.read_from(classifier._resource) as directory:
        skops_file = directory / f"{classifier._resource.name}.skops"
        clf = sio.load(skops_file, trusted=sio.get_untrusted_types(file=skops_file))
        assert not hasattr(clf, "coef_") and (directory / COEFFICIENTS_FILE).exists()
    assert hasattr(classifier.clf, "coef_")  # the trained classifier in memory keeps them


def test_a_model_saved_with_coefficients_inside_the_skops_file_still_loads_the_same(trained):
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    from bot.intent_classifier import COEFFICIENTS_FILE

    featurizer, classifier, storage = trained
    with storage.read_from(classifier._resource) as directory:
        (directory / COEFFICIENTS_FILE).unlink()
    LogisticRegressionClassifier.persist(classifier)  # (Rasa's own: the whole classifier in the skops file)
    loaded = _load(classifier, storage)
    assert not isinstance(loaded.clf.coef_.base, np.memmap)
    assert _rankings(featurizer, loaded) == _rankings(featurizer, classifier)

"""The studio's faster training learns the same model (issue #16: the loop in <= 2 minutes).

In-process, with the real tokenizer, featurizer and classifier of ``config.yml`` on the English
examples: the classifier fitted one intent per worker process (``bot/parallel_fit.py``) has the
coefficients and answers of scikit-learn's own one-against-the-rest fit.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tests.support import ROOT

pytestmark = pytest.mark.timeout(900)
CLASSIFIER = "bot.intent_classifier.TfidfLogisticRegressionClassifier"


def pipeline_options(name: str) -> dict:
    """A component's options in ``config.yml`` (the served pipeline)."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    return next({k: v for k, v in c.items() if k != "name"} for c in config["pipeline"] if c["name"] == name)


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    """The English examples, tokenized and featurized as in training; the model storage."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import CrossdeskTokenizer
    from bot.featurizers import BatchNgramFeaturizer
    from bot.language import GENERATED_FILE

    examples = [message for path in sorted((ROOT / "data" / "nlu" / "en").glob("*.yml"))
                if path.name != GENERATED_FILE for message in load_data(str(path)).intent_examples]
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    featurizer = BatchNgramFeaturizer.create(
        {**BatchNgramFeaturizer.get_default_config(), **pipeline_options("bot.featurizers.BatchNgramFeaturizer")},
        storage, Resource("featurizer"), ExecutionContext(None, node_name="featurizer"))
    data = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process_training_data(TrainingData(examples))
    featurizer.train(data)
    featurizer.process_training_data(data)
    return {"data": data, "storage": storage}


def test_the_classifier_fitted_in_worker_processes_is_the_one_a_single_fit_gives(english):
    from rasa.engine.storage.resource import Resource
    from sklearn.base import clone

    from bot.intent_classifier import (TfidfLogisticRegressionClassifier, balanced_class_weights, own_confidences,
                                       scaled, sentence_rows, weigh)
    from bot.parallel_fit import default_workers

    assert default_workers() >= 2, "this machine has 2 cores: the fit must use both"
    classifier = TfidfLogisticRegressionClassifier(
        {**TfidfLogisticRegressionClassifier.get_default_config(), **pipeline_options(CLASSIFIER)}, "classifier",
        english["storage"], Resource("classifier"))
    classifier.train(english["data"])  # (the served path: one intent per worker process)

    examples = english["data"].intent_examples
    X = weigh(sentence_rows(examples), classifier.idf, classifier.blocks, classifier.config["block_weights"])
    y = np.array([m.get("intent") for m in examples])
    weights = scaled(balanced_class_weights(y), classifier.config["class_weight_scale"])  # (config.yml's weights)
    plain = clone(classifier.clf).set_params(class_weight=weights).fit(X, y)  # scikit-learn's liblinear, one call

    # liblinear orders the examples by intent in its own one-against-the-rest loop, the binary fits
    # keep the data's order: sums in another order, and a Newton step that stops at ``tol`` (1e-4)
    # a little elsewhere. Measured on coefficients up to 7: 3e-6 to 1e-5 on most data, 2.7e-3 on
    # session 12's round-3 data (same iteration counts; confidences 1.5e-3 apart, same answers).
    assert list(classifier.clf.classes_) == list(plain.classes_) and len(plain.classes_) > 10
    assert np.abs(classifier.clf.coef_ - plain.coef_).max() < 1e-3 * np.abs(plain.coef_).max()
    assert np.abs(classifier.clf.intercept_ - plain.intercept_).max() < 1e-3 * np.abs(plain.intercept_).max()
    # The same answers with the same confidences (to the second decimal) for every example.
    mine, theirs = classifier.clf.decision_function(X), plain.decision_function(X)
    print(f"largest differences: coefficient {np.abs(classifier.clf.coef_ - plain.coef_).max():.2g}, "
          f"decision value {np.abs(mine - theirs).max():.2g}")
    assert (mine.argmax(axis=1) == theirs.argmax(axis=1)).all()
    assert np.abs(own_confidences(mine) - own_confidences(theirs)).max() < 5e-3

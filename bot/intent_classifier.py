"""The intent classifier: logistic regression on TF-IDF-weighted, length-normalised n-gram counts.

Rasa's ``LogisticRegressionClassifier`` fits raw counts: long messages and
n-grams that every intent shares (``the``, ``ship``, ``送``) weigh the most.
Here each count ``c`` becomes ``log(1 + c) * idf``, and each featurizer's
part of a message (word tokens, character n-grams) is scaled to unit length,
before the fit and at prediction. See docs/pipeline.md for the measured effect.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from scipy.special import expit

from bot.parallel_fit import fit_one_vs_rest

logger = logging.getLogger(__name__)
SAMPLE_WEIGHT = "sample_weight"
"""A training example's weight in the fit (1 without it). An example that has one is an extra (the noisy copies
of ``bot.components.TypoCopies``): the idf and the ``balanced`` class weights are the other examples'."""
WEIGHTS_FILE = "weights.npz"
COEFFICIENTS_FILE = "coefficients.npy"
"""The classifier's coefficients, transposed (features x intents), outside the skops file.

Read from the skops zip they took 0.36 s of Python on every load (a studio swap competes with
shoppers' replies for it; a cold start waits for it); memory-mapped they load in 1 ms, the pages a
message touches are read on first use, and several server processes share one copy."""


def inverse_document_frequency(X: csr_matrix) -> np.ndarray:
    """Smoothed idf per column (scikit-learn's formula): ``ln((1 + n) / (1 + df)) + 1``."""
    documents = np.bincount(X.indices, minlength=X.shape[1])
    return np.log((1 + X.shape[0]) / (1 + documents)) + 1


def weigh(X: csr_matrix, idf: np.ndarray, blocks: list[int], block_weights: Optional[list[float]] = None
          ) -> csr_matrix:
    """Log-scaled counts times idf; each block of columns (one featurizer's) scaled per row to
    length 1, or to its weight in ``block_weights``."""
    X = csr_matrix(X, dtype=np.float64, copy=True)
    X.data = np.log1p(X.data) * idf[X.indices]
    block_of = np.searchsorted(np.cumsum(blocks)[:-1], X.indices, side="right")
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    norms = np.zeros((X.shape[0], len(blocks)))
    np.add.at(norms, (rows, block_of), X.data ** 2)
    norms = np.sqrt(norms)
    norms[norms == 0] = 1.0
    scale = np.asarray(block_weights if block_weights else [1.0] * len(blocks), dtype=np.float64)
    X.data *= scale[block_of] / norms[rows, block_of]
    return X


def sentence_rows(messages: List[Message], width: Optional[int] = None) -> csr_matrix:
    """The messages' sparse sentence features of the text, side by side in pipeline order, one row each.

    Rasa's ``_create_X`` stacks each message with ``scipy.sparse.hstack``/``vstack`` (about a
    millisecond a message: 20 s for 20,000 examples); this concatenates the index arrays once.
    A message without features is a row of zeros ``width`` wide (the trained width, when known).
    """
    data, columns, lengths = [], [], []
    for message in messages:
        blocks = message._filter_sparse_features(TEXT, [])[1]
        offset, count = 0, 0
        for block in blocks:
            matrix = block.features.tocoo()
            data.append(matrix.data)
            columns.append(matrix.col + offset)
            offset += matrix.shape[1]
            count += matrix.nnz
        if width is not None and blocks and offset != width:
            raise ValueError(f"sentence features of {offset} columns, expected {width}")
        width = offset if blocks else width
        lengths.append(count)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return csr_matrix((np.concatenate(data) if data else np.zeros(0), np.concatenate(columns).astype(np.int64)
                       if columns else np.zeros(0, dtype=np.int64), indptr), shape=(len(messages), width or 0))


def own_confidences(decision: np.ndarray, mode: str = "sigmoid") -> np.ndarray:
    """Each intent's confidence from its one-against-the-rest decision values (rows x intents).

    scikit-learn's ``predict_proba`` for one-against-the-rest divides each intent's sigmoid by their
    sum, so a message no intent recognises (every sigmoid near 0) still gives one intent a large
    share: "lorem ipsum dolor" was product_question 0.85. ``sigmoid`` keeps each intent's own
    sigmoid (how sure its own classifier is that the message is of it); ``share`` is scikit-learn's
    normalised value. A two-intent model's single column is the second intent's.
    """
    decision = np.asarray(decision, dtype=np.float64)
    if decision.ndim == 1:
        decision = np.column_stack([-decision, decision])
    own = expit(decision)
    share = own / np.maximum(own.sum(axis=1, keepdims=True), 1e-12)
    if mode == "share":
        return share
    if mode == "product":
        return own * share
    return own


def sample_weights(training_data: TrainingData) -> Optional[np.ndarray]:
    """Each fitted example's ``SAMPLE_WEIGHT``, 1 where it has none (the examples Rasa's
    ``_create_training_matrix`` keeps, in its order); ``None`` when no example has one."""
    weights = [e.get(SAMPLE_WEIGHT) for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
    if all(w is None for w in weights):
        return None
    return np.array([np.nan if w is None else float(w) for w in weights])


def balanced_class_weights(y: np.ndarray) -> dict:
    """scikit-learn's ``balanced`` class weights for the labels ``y``, as a dict."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.unique(y)
    return dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))


def scaled(class_weights: dict, scale: Optional[Dict[str, float]]) -> dict:
    """``class_weights`` with each intent named in ``scale`` multiplied by its factor (``class_weight_scale``)."""
    return {intent: weight * (scale or {}).get(intent, 1.0) for intent, weight in class_weights.items()}


def _with_32bit_indices(X: csr_matrix) -> csr_matrix:
    """``X`` with int32 column indices and row pointers: liblinear refuses int64 ones (``sentence_rows``
    builds them), and a 23,642 x 272,934 matrix with 3 M non-zeros needs no more."""
    if X.nnz < np.iinfo(np.int32).max and X.shape[1] < np.iinfo(np.int32).max:
        X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X


def _store_coefficients_by_column(clf) -> None:
    """scikit-learn predicts with ``X @ coef_.T``; scipy copies a non-contiguous right-hand side on
    every call (22 x features here: 20 ms per message). Column order makes ``coef_.T`` contiguous."""
    if hasattr(clf, "coef_"):
        clf.coef_ = np.asfortranarray(clf.coef_)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Rasa's logistic regression on reweighted counts.

    Config: ``C`` (inverse regularisation strength), ``block_weights`` (how much each
    featurizer's part of a message counts; default 1 each), ``class_weight_scale`` (intent -> factor on its
    ``balanced`` class weight: ``out_of_scope`` gathers many topics in one class, so balancing it as one
    leaves each of its examples a fraction of another intent's weight; docs/pipeline.md).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's options plus ``C``, ``block_weights`` (one per featurizer, in pipeline order) and
        ``class_weight_scale``."""
        return {**LogisticRegressionClassifier.get_default_config(), "C": 10.0, "block_weights": None,
                "class_weight_scale": None,
                "confidence": "sigmoid"}

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage,
                 resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.C = float(self.config["C"])
        self.idf: Optional[np.ndarray] = None
        self.blocks: list[int] = []

    def _create_X(self, messages: List[Message]) -> csr_matrix:
        X = sentence_rows(messages, sum(self.blocks) if self.idf is not None else None)
        return weigh(X, self.idf, self.blocks, self.config["block_weights"]) if self.idf is not None else X

    def process(self, messages: List[Message]) -> List[Message]:
        """Each message's intent and ranking, confidences from ``own_confidences`` (config ``confidence``)."""
        if not messages:
            return messages
        confidences = own_confidences(self.clf.decision_function(self._create_X(messages)),
                                      self.config.get("confidence", "sigmoid"))
        intents = self.clf.classes_
        length = self.config.get("ranking_length") or len(intents)
        for message, row in zip(messages, confidences):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": str(intents[i]), "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[:length], add_to_output=True)
        return messages

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the idf on the training counts, then the classifier on the weighted rows."""
        self.idf = None
        X, y = self._create_training_matrix(training_data)
        if X.shape[0] == 0:
            return self._resource
        example = next(e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT))
        self.blocks = example.get_sparse_feature_sizes(TEXT)[FEATURE_TYPE_SENTENCE] or [X.shape[1]]
        weights = sample_weights(training_data)
        own = slice(None) if weights is None else np.isnan(weights)  # (not the weighted extras: noisy copies)
        self.idf = inverse_document_frequency(X[own])
        X = _with_32bit_indices(weigh(X, self.idf, self.blocks, self.config["block_weights"]))
        if weights is None:
            self._fit(X, y)
        else:
            self._fit(X, y, np.where(own, 1.0, weights), np.asarray(y)[own])
        _store_coefficients_by_column(self.clf)
        self.persist()
        return self._resource

    def _fit(self, X: csr_matrix, y: list, weights: Optional[np.ndarray] = None,
             balance_by: Optional[np.ndarray] = None) -> None:
        """Fit ``self.clf`` (rows weighing ``weights``); ``balanced`` class weights from the labels ``balance_by``
        (default ``y``), times ``class_weight_scale``."""
        configured = self.clf.class_weight
        if configured == "balanced":
            self.clf.class_weight = scaled(balanced_class_weights(np.asarray(y) if balance_by is None else balance_by),
                                           self.config["class_weight_scale"])
        try:
            if self.config["solver"] == "liblinear":  # one intent per worker process (bot/parallel_fit.py)
                fit_one_vs_rest(self.clf, X, y, sample_weight=weights)
            else:
                self.clf.fit(X, y, sample_weight=weights)
        finally:
            self.clf.class_weight = configured

    def persist(self) -> None:
        """The classifier (skops, as Rasa does, without its coefficients), the coefficients
        (:data:`COEFFICIENTS_FILE`), the idf vector and the block widths."""
        coefficients = self.clf.__dict__.pop("coef_", None)
        try:
            super().persist()
        finally:
            if coefficients is not None:
                self.clf.coef_ = coefficients
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / WEIGHTS_FILE, idf=self.idf, blocks=np.array(self.blocks))
            if coefficients is not None:
                np.save(model_dir / COEFFICIENTS_FILE, np.ascontiguousarray(coefficients.T))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "TfidfLogisticRegressionClassifier":
        """The trained classifier with its weights (unweighted if the model has none)."""
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        try:
            with model_storage.read_from(resource) as model_dir:
                weights = np.load(model_dir / WEIGHTS_FILE)
                component.idf, component.blocks = weights["idf"], [int(b) for b in weights["blocks"]]
                if (model_dir / COEFFICIENTS_FILE).exists():  # (older models keep them in the skops file)
                    component.clf.coef_ = np.load(model_dir / COEFFICIENTS_FILE, mmap_mode="r").T
        except (ValueError, FileNotFoundError):
            logger.debug("no weights stored for %s", resource.name)
        _store_coefficients_by_column(component.clf)
        return component

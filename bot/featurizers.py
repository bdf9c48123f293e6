"""One featurizer for word and character n-gram counts, computed for all messages in one batch.

Rasa's ``CountVectorsFeaturizer`` calls scikit-learn twice per message and per
attribute (a sequence matrix, token by token, and a sentence row) and featurizes
intents, responses and action names too; three of them took most of a 7-minute
training on 20,757 examples. Our classifier reads the sentence rows of the text
only, so this featurizer builds exactly those, for every message at once, with
the same counts (the same tokens, number replacement, lowercasing and
analyzers as ``CountVectorsFeaturizer``). Each analyzer's columns are one
``Features`` block of their own (``<name>.<index>``), so the classifier weighs
each block as before. See docs/pipeline.md for the measured effect.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer

logger = logging.getLogger(__name__)
VOCABULARY_FILE = "vocabularies.json"
_NUMBER = re.compile(r"\b[0-9]+\b")  # as CountVectorsFeaturizer: a number is "__NUMBER__"
DEFAULT_BLOCKS = [
    {"analyzer": "word", "min_ngram": 1, "max_ngram": 1, "min_df": 2},
    {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, "min_df": 1},
    {"analyzer": "char", "min_ngram": 2, "max_ngram": 4, "min_df": 1},
]


def message_text(message: Message) -> str:
    """The text the n-grams are counted on: the tokens' lemmas, numbers replaced, lowercased, joined by spaces."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return " ".join(_NUMBER.sub("__NUMBER__", t.lemma).lower() for t in tokens)


def vectorizer(block: Dict[Text, Any], vocabulary: Optional[Dict[str, int]] = None) -> CountVectorizer:
    """A scikit-learn ``CountVectorizer`` for one block (``analyzer``, ``min_ngram``, ``max_ngram``, ``min_df``)."""
    word = block["analyzer"] == "word"
    return CountVectorizer(
        analyzer=block["analyzer"], ngram_range=(block.get("min_ngram", 1), block.get("max_ngram", 1)),
        min_df=block.get("min_df", 1), lowercase=True, token_pattern=r"(?u)\b\w+\b" if word else None,
        vocabulary=vocabulary, dtype=np.int64,
    )


def _row(rows: scipy.sparse.csr_matrix, row: int) -> scipy.sparse.coo_matrix:
    """Row ``row`` as a 1 x n COO matrix, without scipy's slicing (a third of the time for 20,000 rows)."""
    start, end = rows.indptr[row], rows.indptr[row + 1]
    return scipy.sparse.coo_matrix((rows.data[start:end], (np.zeros(end - start, dtype=np.int32),
                                                             rows.indices[start:end])), shape=(1, rows.shape[1]))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class BatchNgramFeaturizer(SparseFeaturizer, GraphComponent):
    """Sentence-level n-gram counts of the text, one ``Features`` block per analyzer.

    Config: ``blocks``, a list of ``{analyzer: word|char|char_wb, min_ngram, max_ngram, min_df}``.
    """

    @classmethod
    def required_components(cls) -> List[type]:
        """Needs tokens."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Word counts (seen twice or more), ``char_wb`` 1-4 and ``char`` 2-4 n-grams."""
        return {**SparseFeaturizer.get_default_config(), "blocks": DEFAULT_BLOCKS}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Each block names a scikit-learn analyzer."""
        for block in config.get("blocks") or []:
            if block.get("analyzer") not in ("word", "char", "char_wb"):
                raise ValueError(f"unknown analyzer in {block}")

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource,
                 vectorizers: Optional[List[CountVectorizer]] = None) -> None:
        super().__init__(name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vectorizers = vectorizers or []

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BatchNgramFeaturizer":
        """An untrained featurizer."""
        return cls(config, execution_context.node_name, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn each block's vocabulary from the training examples' texts."""
        texts = [message_text(m) for m in training_data.training_examples if m.get(TEXT)]
        self.vectorizers = [vectorizer(block) for block in self._config["blocks"]]
        for block in self.vectorizers:
            block.fit(texts)
        self.persist()
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Add the features to every training example (one batch)."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Add one sentence row per block to each message with a text."""
        with_text = [m for m in messages if m.get(TEXT) is not None]
        if not with_text or not self.vectorizers:
            return messages
        texts = [message_text(m) for m in with_text]
        for index, block in enumerate(self.vectorizers):
            rows = block.transform(texts).tocsr()
            rows.sort_indices()
            origin = f"{self._identifier}.{index}"
            for row, message in enumerate(with_text):
                message.add_features(Features(_row(rows, row), FEATURE_TYPE_SENTENCE, TEXT, origin))
        return messages

    def persist(self) -> None:
        """The vocabularies, as JSON."""
        with self._model_storage.write_to(self._resource) as model_dir:
            vocabularies = [{term: int(column) for term, column in v.vocabulary_.items()} for v in self.vectorizers]
            (model_dir / VOCABULARY_FILE).write_text(json.dumps(vocabularies, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BatchNgramFeaturizer":
        """The trained featurizer (untrained if nothing was stored)."""
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabularies = json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.debug("no vocabularies stored for %s", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        vectorizers = [vectorizer(block, vocabulary) for block, vocabulary in zip(config["blocks"], vocabularies)]
        for v in vectorizers:
            v._validate_vocabulary()  # (sets vocabulary_ so transform needs no fit)
        return cls(config, execution_context.node_name, model_storage, resource, vectorizers)

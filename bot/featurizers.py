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
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

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

from bot.typos import TYPO_COPY

logger = logging.getLogger(__name__)
VOCABULARY_FILE = "vocabularies.json"  # (models trained before 2026-12-07: one JSON document)
TERMS_FILE = "vocabulary-terms.jsonl"
"""The vocabularies since 2026-12-07: a first line with each vocabulary's size, then each vocabulary's
terms in column order, ``TERMS_PER_LINE`` to a JSON line."""
TERMS_PER_LINE = 10_000
FEW_MESSAGES = 8
"""Up to this many messages (a shopper's message, its sentences) are counted one by one (``_counts``);
more (training data) through scikit-learn's ``transform`` in one batch."""
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
        self._analyzers: List[Any] = []  # (each block's analyzer, built on first use: ``_counts``)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BatchNgramFeaturizer":
        """An untrained featurizer."""
        return cls(config, execution_context.node_name, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn each block's vocabulary from the training examples' texts (not their noisy copies: ``TYPO_COPY``)."""
        texts = [message_text(m) for m in training_data.training_examples if m.get(TEXT) and not m.get(TYPO_COPY)]
        self.vectorizers = [vectorizer(block) for block in self._config["blocks"]]
        self._analyzers = []
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
            origin = f"{self._identifier}.{index}"
            if len(texts) <= FEW_MESSAGES:
                rows = [self._counts(index, text) for text in texts]
            else:
                matrix = block.transform(texts).tocsr()
                matrix.sort_indices()
                rows = [_row(matrix, row) for row in range(len(texts))]
            for row, message in zip(rows, with_text):
                message.add_features(Features(row, FEATURE_TYPE_SENTENCE, TEXT, origin))
        return messages

    def _counts(self, index: int, text: str) -> scipy.sparse.coo_matrix:
        """Block ``index``'s row for ``text``: the counts ``CountVectorizer.transform`` gives (same
        analyzer and vocabulary, columns in order, the same dtypes), without building a CSR matrix
        for one row, sorting it and slicing it (two thirds of a shopper message's featurizing:
        scipy's checks, not the counting)."""
        if len(self._analyzers) != len(self.vectorizers):
            self._analyzers = [block.build_analyzer() for block in self.vectorizers]
        vocabulary = self.vectorizers[index].vocabulary_
        counts = Counter(map(vocabulary.get, self._analyzers[index](text)))  # (counted in C)
        counts.pop(None, None)  # (terms the vocabulary does not hold)
        columns = sorted(counts)
        return scipy.sparse.coo_matrix(
            (np.array([counts[c] for c in columns], dtype=np.int64),
             (np.zeros(len(columns), dtype=np.int32), np.array(columns, dtype=np.int32))),
            shape=(1, len(vocabulary)))

    def persist(self) -> None:
        """The vocabularies, as term lists in JSON lines (``TERMS_FILE``)."""
        with self._model_storage.write_to(self._resource) as model_dir:
            write_terms(model_dir / TERMS_FILE, [terms_by_column(v.vocabulary_) for v in self.vectorizers])

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BatchNgramFeaturizer":
        """The trained featurizer (untrained if nothing was stored); reads both formats."""
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabularies, from_term_lists = read_vocabularies(model_dir)
        except (ValueError, FileNotFoundError):
            logger.debug("no vocabularies stored for %s", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        vectorizers = [vectorizer(block, vocabulary) for block, vocabulary in zip(config["blocks"], vocabularies)]
        for v in vectorizers:
            if from_term_lists:  # (columns 0..n-1 by construction: what the check below sets, without its
                v.vocabulary_, v.fixed_vocabulary_ = v.vocabulary, True  # copy, 8-20 ms in one call)
            else:
                v._validate_vocabulary()  # (sets vocabulary_ so transform needs no fit)
        return cls(config, execution_context.node_name, model_storage, resource, vectorizers)


def terms_by_column(vocabulary: Dict[str, int]) -> List[str]:
    """A fitted vocabulary's terms, the term of column ``i`` at ``i`` (its columns are ``0..n-1``)."""
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if any(vocabulary[term] != column for column, term in enumerate(terms)):
        raise ValueError("the vocabulary's columns are not 0..n-1")
    return terms


def write_terms(path: Path, vocabularies: List[List[str]]) -> None:
    """Write ``TERMS_FILE``: the sizes, then each vocabulary's terms, ``TERMS_PER_LINE`` per JSON line."""
    with path.open("w", encoding="utf-8") as file:
        file.write(json.dumps([len(terms) for terms in vocabularies]) + "\n")
        for terms in vocabularies:
            for start in range(0, len(terms), TERMS_PER_LINE):
                file.write(json.dumps(terms[start:start + TERMS_PER_LINE], ensure_ascii=False) + "\n")


def read_terms(path: Path) -> List[List[str]]:
    """Each vocabulary's terms in column order, from ``TERMS_FILE``.

    Parsed one line at a time: a swap loads the model in a worker thread, and no thread switch
    interrupts a single C call; ``json.loads`` of the whole 6.1 MB document (317,897 terms) held
    the GIL 0.19-0.27 s, stalling every shopper's reply; a line of 10,000 terms takes ~1 ms.
    """
    with path.open(encoding="utf-8") as file:
        sizes = json.loads(file.readline())
        vocabularies = []
        for size in sizes:
            terms: List[str] = []
            while len(terms) < size:
                line = file.readline()
                if not line:
                    raise ValueError(f"{path.name} ends before {size} terms")
                terms.extend(json.loads(line))
            if len(terms) != size:
                raise ValueError(f"{path.name}: {len(terms)} terms where {size} were announced")
            vocabularies.append(terms)
    return vocabularies


def columns_of(terms: List[str]) -> Dict[str, int]:
    """Term -> column for a term list in column order, built a slice at a time (each slice ~1-3 ms)."""
    columns: Dict[str, int] = {}
    for start in range(0, len(terms), TERMS_PER_LINE):
        columns.update(zip(terms[start:start + TERMS_PER_LINE], range(start, start + TERMS_PER_LINE)))
    if len(columns) != len(terms):
        raise ValueError("a term is listed twice")
    return columns


def read_vocabularies(model_dir: Path) -> Tuple[List[Dict[str, int]], bool]:
    """Each block's vocabulary (term -> column) and whether it comes from term lists (``TERMS_FILE``).

    An older model's ``VOCABULARY_FILE`` is one JSON document, parsed in one call (0.2-0.5 s holding
    the GIL), its columns not known to be ``0..n-1`` until scikit-learn checks them.
    """
    if (model_dir / TERMS_FILE).exists():
        return [columns_of(terms) for terms in read_terms(model_dir / TERMS_FILE)], True
    return json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8")), False

"""The featurizer's stored vocabularies (issue #16, the swap): same features, both formats, no long GIL hold.

In-process. A swap loads the new model in a worker thread while shoppers' replies run on the bot thread
and the event loop; a single long C call in the loader (``json.loads`` of a 6 MB vocabulary document)
stopped them all for 0.2-0.5 s. Models trained before the term-list format must still load (the
previous models are kept for rollback).
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

TEXTS = ["where is my parcel", "wo ist mein paket", "où est mon colis 42", "返品したい", "cancel my order",
         "mi pedido no llegó", "the parcel is late", "return the shoes", "line\nbreak \"quoted\" \\ term"]


def _featurizer(storage, name: str):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.resource import Resource

    from bot.featurizers import BatchNgramFeaturizer

    return BatchNgramFeaturizer.create(BatchNgramFeaturizer.get_default_config(), storage, Resource(name),
                                       ExecutionContext(None, node_name=name))


def _messages(texts):
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import CrossdeskTokenizer

    data = TrainingData([Message(data={"text": text, "intent": "any"}) for text in texts])
    return CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process_training_data(data)


def _load(featurizer, storage):
    from rasa.engine.graph import ExecutionContext

    from bot.featurizers import BatchNgramFeaturizer

    return BatchNgramFeaturizer.load(featurizer._config, storage, featurizer._resource,
                                     ExecutionContext(None, node_name="loaded"))


def _features(featurizer, texts):
    messages = _messages(texts).training_examples
    featurizer.process(messages)
    return [[f.features.toarray() for f in m.features] for m in messages]


@pytest.fixture()
def trained(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    storage = LocalModelStorage(tmp_path)
    featurizer = _featurizer(storage, "featurizer")
    featurizer.train(_messages(TEXTS))
    return featurizer, storage


def _assert_same(loaded, trained):
    assert [v.vocabulary_ for v in loaded.vectorizers] == [v.vocabulary_ for v in trained.vectorizers]
    unseen = TEXTS + ["my parcel 7 is late again", "rückgabe"]
    for ours, theirs in zip(_features(loaded, unseen), _features(trained, unseen)):
        assert len(ours) == len(theirs) == len(trained.vectorizers)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_a_model_saved_now_loads_with_the_same_vocabularies_and_features(trained):
    featurizer, storage = trained
    with storage.read_from(featurizer._resource) as model_dir:
        assert not (model_dir / "vocabularies.json").exists()  # the new format, not the one document
    _assert_same(_load(featurizer, storage), featurizer)


def test_a_model_saved_before_the_term_lists_still_loads_the_same(trained):
    """The previous release's models (one ``vocabularies.json``) are kept for rollback."""
    featurizer, storage = trained
    with storage.write_to(featurizer._resource) as model_dir:
        for path in model_dir.iterdir():
            path.unlink()
        old = [{term: int(column) for term, column in v.vocabulary_.items()} for v in featurizer.vectorizers]
        (model_dir / "vocabularies.json").write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    _assert_same(_load(featurizer, storage), featurizer)


def _longest_stall(load) -> float:
    """How late, at most, a thread waking every millisecond woke while ``load`` ran in another thread."""
    import sys

    done = threading.Event()
    latest = 0.0

    def run():
        load()
        done.set()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # as bot.engine.gil_shared_often during a swap
    try:
        worker = threading.Thread(target=run)
        worker.start()
        while not done.is_set():
            started = time.perf_counter()
            time.sleep(0.001)
            latest = max(latest, time.perf_counter() - started - 0.001)
        worker.join()
    finally:
        sys.setswitchinterval(previous)
    return latest


def test_loading_a_vocabulary_as_large_as_the_served_one_lets_other_threads_run(tmp_path):
    """318,000 terms (the served model's three vocabularies): no single call holds the GIL for long.

    Compared with the one-document format on the same machine at the same time (best of three each),
    so that a busy machine slows both alike. Measured (load ~3): one document 0.2-0.5 s, term lines
    ~10 ms.
    """
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.featurizers import TERMS_FILE, VOCABULARY_FILE, BatchNgramFeaturizer, write_terms

    terms = [[f"{kind}{index:06d}é" for index in range(size)] for kind, size in (("w", 8_000), ("c", 146_000),
                                                                                   ("x", 164_000))]
    storage = LocalModelStorage(tmp_path)
    with storage.write_to(Resource("new")) as directory:
        write_terms(directory / TERMS_FILE, terms)
    with storage.write_to(Resource("old")) as directory:
        (directory / VOCABULARY_FILE).write_text(json.dumps([{t: i for i, t in enumerate(v)} for v in terms],
                                                            ensure_ascii=False), encoding="utf-8")

    def vocabularies(name):
        loaded = BatchNgramFeaturizer.load(BatchNgramFeaturizer.get_default_config(), storage, Resource(name),
                                           ExecutionContext(None, node_name=name))
        return [v.vocabulary_ for v in loaded.vectorizers]

    assert vocabularies("new") == vocabularies("old") == [{t: i for i, t in enumerate(v)} for v in terms]
    one_document = min(_longest_stall(lambda: vocabularies("old")) for _ in range(3))
    term_lines = min(_longest_stall(lambda: vocabularies("new")) for _ in range(3))
    print(f"longest stall: one document {one_document * 1000:.0f} ms, term lines {term_lines * 1000:.0f} ms")
    assert term_lines < one_document / 3, (term_lines, one_document)

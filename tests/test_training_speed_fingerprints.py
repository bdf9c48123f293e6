"""The 2-minute studio loop (issue #16): a node's training data is not hashed again as the next node's input.

In-process, with Rasa's own training hook and cache and our featurizer: each node's fingerprint key
hashed its ``TrainingData`` input (every example and its feature matrices; ~38 of 192 s of an
8-language training). A ``TrainingData`` a node returned now fingerprints as that node's output,
the value the training cache stores for it, so the key is the one a later training's fingerprint
pass computes from the cache.
"""

from __future__ import annotations

import pytest

from tests.support import ROOT


@pytest.fixture()
def tuned(monkeypatch, tmp_path):
    """Rasa's training hook and ``TrainingData.fingerprint`` with our training patches (restored after)."""
    from rasa.engine.training import hooks
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from crossdesk import compat

    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    for owner, name in ((hooks.TrainingHook, "on_after_node"), (TrainingData, "fingerprint"),
                        (TrainingData, "sanitize_examples")):
        monkeypatch.setattr(owner, name, owner.__dict__[name])
    compat.derived_training_data_fingerprints()
    compat.sanitized_examples_keep_fingerprints()
    compat.derived_training_data_input_fingerprints()


def _tokenized_english():
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import CrossdeskTokenizer

    examples = [m for path in sorted((ROOT / "data" / "nlu" / "en").glob("*.yml"))
                for m in load_data(str(path)).training_examples]
    return CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process_training_data(TrainingData(examples))


def test_the_featurized_data_is_keyed_as_the_cache_names_it_without_hashing_it(tuned, tmp_path, monkeypatch):
    import rasa.shared.utils.io
    from rasa.engine.caching import LocalTrainingCache
    from rasa.engine.graph import ExecutionContext, GraphSchema, SchemaNode
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.engine.training import fingerprinting
    from rasa.engine.training.components import FingerprintStatus
    from rasa.engine.training.hooks import TrainingHook
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.featurizers import BatchNgramFeaturizer

    data = _tokenized_english()
    content_before = TrainingData(list(data.training_examples)).fingerprint()  # (not a node's output)
    schema = GraphSchema({
        "featurizer": SchemaNode(needs={"training_data": "tokenizer"}, uses=BatchNgramFeaturizer,
                                 constructor_name="create", fn="process_training_data", config={}),
        "classifier": SchemaNode(needs={"training_data": "featurizer"}, uses=LogisticRegressionClassifier,
                                 constructor_name="create", fn="train", config={}, is_target=True),
    })
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    cache = LocalTrainingCache()
    hook = TrainingHook(cache=cache, model_storage=storage, pruned_schema=schema)
    context = ExecutionContext(schema, node_name="featurizer")
    featurizer = BatchNgramFeaturizer.create(BatchNgramFeaturizer.get_default_config(), storage,
                                             Resource("featurizer"), context)
    featurizer.train(data)

    before = hook.on_before_node("featurizer", context, {}, {"training_data": data})
    output = featurizer.process_training_data(data)  # (in place, as Rasa's featurizers do)
    hook.on_after_node("featurizer", context, {}, output, before)
    cached = cache.get_cached_output_fingerprint(before["fingerprint_key"])
    assert cached is not None

    hashed = []
    original = rasa.shared.utils.io.deep_container_fingerprint

    def counting(value, *args, **kwargs):
        hashed.append(type(value).__name__)
        return original(value, *args, **kwargs)

    monkeypatch.setattr(rasa.shared.utils.io, "deep_container_fingerprint", counting)
    key = hook.on_before_node("classifier", context, {}, {"training_data": output})["fingerprint_key"]
    assert len(hashed) < 20, hashed[:20]  # Rasa's own: 265,057 calls (every example, every feature)
    fingerprint_pass = fingerprinting.calculate_fingerprint_key(
        LogisticRegressionClassifier, {}, {"training_data": FingerprintStatus(output_fingerprint=cached, is_hit=True)})
    assert key == fingerprint_pass
    assert hash(output) == hash(int(output.fingerprint(), 16))  # (TrainingData hashes reading it as hex)

    monkeypatch.setattr(rasa.shared.utils.io, "deep_container_fingerprint", original)
    copy = TrainingData(list(output.training_examples))  # any other TrainingData: hashed by its content
    assert copy.fingerprint() != output.fingerprint()
    assert copy.fingerprint() != content_before  # (the features count)

"""Fast in-process checks: kept models and the live pointer, the gate's verdict, the job's reading of
the training child's output, the batch featurizer's counts against Rasa's CountVectorsFeaturizer."""

from __future__ import annotations

import os

import pytest

from bot import training
from bot.gate import compare
from handoff.model_updates import TrainingJob, ModelUpdates, model_name_ok


def make_models(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for age, name in enumerate(names):
        path = folder / name
        path.write_bytes(b"model")
        os.utime(path, (1000 + age, 1000 + age))  # later in the list = newer
        paths.append(path)
    return paths


def test_prune_keeps_the_newest_and_the_protected(tmp_path):
    paths = make_models(tmp_path, [f"crossdesk-{i:016x}.tar.gz" for i in range(8)])
    deleted = training.prune(tmp_path, keep=5, protect={paths[0]})
    assert sorted(p.name for p in deleted) == sorted(p.name for p in paths[1:3])
    assert paths[0].exists() and all(p.exists() for p in paths[3:])


def test_live_pointer_names_an_existing_model_only(tmp_path):
    first, second = make_models(tmp_path, ["crossdesk-a.tar.gz", "crossdesk-b.tar.gz"])
    assert training.live_model(tmp_path) is None
    training.set_live_model(tmp_path, first)
    assert training.live_model(tmp_path) == first
    (tmp_path / "LIVE").write_text("../../etc/passwd\n")
    assert training.live_model(tmp_path) is None
    training.set_live_model(tmp_path, second)
    second.unlink()
    assert training.live_model(tmp_path) is None  # (deleted by hand: the server keeps what it serves)


def test_ensure_model_keeps_older_models_for_rollback(tmp_path, monkeypatch):
    old = make_models(tmp_path, ["crossdesk-0000000000000001.tar.gz"])[0]
    monkeypatch.setattr(training, "train", lambda target, *a, **k: target.write_bytes(b"new"))
    fresh = training.ensure_model(tmp_path)
    assert old.exists() and fresh.exists() and training.live_model(tmp_path) == fresh


def test_gate_rejects_a_language_that_falls_more_than_the_margin():
    verdict = compare({"en": 0.95, "fr": 0.93}, {"en": 0.94, "fr": 0.50}, margin=0.02)
    assert not verdict["ok"]
    assert verdict["languages"]["en"] == {"live": 0.95, "candidate": 0.94, "ok": True}
    assert verdict["languages"]["fr"]["ok"] is False
    assert compare({"en": 0.95}, {"en": 0.931}, margin=0.02)["ok"]


def test_model_names_are_plain_file_names():
    assert model_name_ok("crossdesk-3e77a27c185a2010.tar.gz")
    for bad in ("../crossdesk-x.tar.gz", "crossdesk-x.tar.gz/..", "other.tar.gz", "crossdesk-x.zip", "LIVE"):
        assert not model_name_ok(bad)


def test_the_job_follows_the_childs_stages_log_and_verdict():
    job = TrainingJob(id="x")
    for line in ["stage: training", "2026-12-06 W tensorflow/compiler/tf2tensorrt TF-TRT Warning", "trained in 30.1 s",
                 "stage: checking", 'gate: {"ok": false, "languages": {}}']:
        ModelUpdates._read_line(job, line)
    assert job.state == "checking" and job.log == ["trained in 30.1 s"] and job.gate == {"ok": False, "languages": {}}


def test_batch_featurizer_counts_what_rasas_count_vectors_featurizer_counted():
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import CrossdeskTokenizer
    from bot.featurizers import BatchNgramFeaturizer

    texts = ["How long to ship to Japan, order 12345?", "配送にどのくらいかかりますか", "배송 가능?", "Paylib accepté ?",
             "how long does shipping take", "送料はいくら"]
    tokenizer = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config())

    def data():
        messages = [Message(data={"text": t, "intent": "x"}) for t in texts]
        return tokenizer.process_training_data(TrainingData(messages))

    storage, context = LocalModelStorage(__import__("pathlib").Path(pytest.importorskip("tempfile").mkdtemp())), \
        ExecutionContext(None, node_name="n")
    blocks = [{"analyzer": "word", "min_ngram": 1, "max_ngram": 1, "min_df": 1},
              {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, "min_df": 1},
              {"analyzer": "char", "min_ngram": 2, "max_ngram": 4, "min_df": 1}]
    ours = BatchNgramFeaturizer.create({**BatchNgramFeaturizer.get_default_config(), "blocks": blocks}, storage,
                                       Resource("ours"), context)
    ours_data = data()
    ours.train(ours_data)
    ours.process_training_data(ours_data)
    for index, block in enumerate(blocks):
        config = {**CountVectorsFeaturizer.get_default_config(), "analyzer": block["analyzer"],
                  "min_ngram": block["min_ngram"], "max_ngram": block["max_ngram"]}
        rasa = CountVectorsFeaturizer.create(config, storage, Resource(f"rasa{index}"), ExecutionContext(None, node_name=f"r{index}"))
        rasa_data = data()
        rasa.train(rasa_data)
        rasa.process_training_data(rasa_data)
        theirs_vocabulary = rasa.vectorizers["text"].vocabulary_
        assert ours.vectorizers[index].vocabulary_ == theirs_vocabulary
        for mine, theirs in zip(ours_data.training_examples, rasa_data.training_examples):
            mine_row = mine._filter_sparse_features("text", [f"n.{index}"])[1][0].features.toarray()
            theirs_row = theirs._filter_sparse_features("text", [f"r{index}"])[1][0].features.toarray()
            assert (mine_row == theirs_row).all(), mine.get("text")

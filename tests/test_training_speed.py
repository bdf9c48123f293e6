"""The 2-minute studio loop (issue #16): the served classifier fits fast, as well as before, on one thread.

In-process, with the real tokenizer, featurizer and classifier built from ``config.yml``: English and
French (about a quarter of the 8-language data), a fixed two-thirds/one-third split.
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
import pytest
import yaml

from tests.support import ROOT

LANGUAGES = ("en", "fr")
# CPU seconds for fitting the en+fr two-thirds (~4,200 examples, ~32,000 columns), measured on this
# machine (load average 1-13; the CPU time includes building the matrix and saving): liblinear
# (configured) 9.8-10.3 s; multinomial lbfgs (the previous configuration, 280 s for all 8 languages,
# which alone broke the 2-minute loop) 28.0 s.
# Speed is measured by `make bench` (bench.studio), not asserted here: a timed test fails on a busy machine.
MIN_MACRO_F1 = 0.88  # held-out: liblinear en 0.927, fr 0.913; lbfgs en 0.926, fr 0.915
pytestmark = pytest.mark.timeout(1200)  # (featurizing ~6,000 examples on a machine shared by many test runs)


def pipeline_options(name: str) -> dict:
    """A component's options in ``config.yml`` (the served pipeline)."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    return next({k: v for k, v in c.items() if k != "name"} for c in config["pipeline"] if c["name"] == name)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """Featurized en+fr training examples split 2:1 (stratified by language and intent)."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    from bot.components import CrossdeskTokenizer
    from bot.featurizers import BatchNgramFeaturizer
    from bot.language import GENERATED_FILE

    examples = [(language, message) for language in LANGUAGES
                for path in sorted((ROOT / "data" / "nlu" / language).glob("*.yml")) if path.name != GENERATED_FILE
                for message in load_data(str(path)).intent_examples]
    strata = [f"{language}|{message.get('intent')}" for language, message in examples]
    train, test = next(StratifiedKFold(3, shuffle=True, random_state=0).split(examples, strata))
    tokenizer = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config())
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    featurizer = BatchNgramFeaturizer.create(
        {**BatchNgramFeaturizer.get_default_config(), **pipeline_options("bot.featurizers.BatchNgramFeaturizer")},
        storage, Resource("featurizer"), ExecutionContext(None, node_name="featurizer"))
    train_data = tokenizer.process_training_data(TrainingData([examples[i][1] for i in train]))
    featurizer.train(train_data)
    featurizer.process_training_data(train_data)
    test_messages = [examples[i][1] for i in test]
    gold = [m.get("intent") for m in test_messages]  # (the classifier overwrites a message's intent)
    tokenizer.process(test_messages)
    featurizer.process(test_messages)
    return {"storage": storage, "train": train_data, "test": test_messages,
            "test_gold": gold, "test_languages": [examples[i][0] for i in test]}


def test_the_served_classifier_scores_as_the_slower_multinomial_fit_did(split):
    from rasa.engine.storage.resource import Resource
    from sklearn.metrics import f1_score

    from bot.intent_classifier import TfidfLogisticRegressionClassifier

    name = "bot.intent_classifier.TfidfLogisticRegressionClassifier"
    classifier = TfidfLogisticRegressionClassifier(
        {**TfidfLogisticRegressionClassifier.get_default_config(), **pipeline_options(name)}, "classifier",
        split["storage"], Resource("classifier"))
    started = time.process_time()
    classifier.train(split["train"])
    fit_seconds = time.process_time() - started
    classifier.process(split["test"])
    predicted = np.array([m.get("intent")["name"] for m in split["test"]])
    gold = np.array(split["test_gold"])
    languages = np.array(split["test_languages"])
    scores = {language: f1_score(gold[languages == language], predicted[languages == language],
                                 average="macro") for language in LANGUAGES}
    print(f"fit {fit_seconds:.1f} s of CPU, held-out macro-F1 {scores}")
    assert all(score >= MIN_MACRO_F1 for score in scores.values()), scores


def test_the_training_child_runs_its_numerical_libraries_on_one_thread(monkeypatch, tmp_path):
    """A BLAS or OpenMP pool per core in the nice'd child would still take the server's core."""
    from handoff.model_updates import ModelUpdates, TrainingJob
    from handoff.settings import Settings

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    probe = ("import os, numpy\n"
             "from threadpoolctl import threadpool_info\n"
             "print('threads:', sorted({p['num_threads'] for p in threadpool_info()}), os.environ['OMP_NUM_THREADS'])")
    updates = ModelUpdates(Settings.from_env({"CROSSDESK_VAR_DIR": str(tmp_path)}), bot=None, live=None)
    job = TrainingJob(id="probe")
    assert asyncio.run(updates._follow(job, [sys.executable, "-c", probe])) == 0
    assert "threads: [1] 1" in job.log, job.log


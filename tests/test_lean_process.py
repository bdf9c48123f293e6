"""A server process without TensorFlow: the bot loads and answers, TensorFlow never imported (issue #21)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crossdesk import compat
from tests.support import ROOT

BUILD_AND_ANSWER = """
import asyncio, json, sys
from actions.inprocess import InProcessActionEndpoint
from bot.engine import BotEngine, build_agent
engine = BotEngine(lambda: build_agent(sys.argv[1], "sqlite:///" + sys.argv[2], action_endpoint=InProcessActionEndpoint()))
engine.start()
async def main():
    await engine.wait_ready(600)
    reply = await engine.handle("how long does shipping to Germany take?", "lean-1")
    print(json.dumps({"tensorflow": sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")),
                      "intent": reply.intent, "messages": len(reply.messages),
                      "every_estimator": "sklearn.ensemble" in sys.modules,
                      "every_channel": "rasa.core.channels.telegram" in sys.modules}))
asyncio.run(main())
"""


def test_a_bot_process_answers_without_ever_importing_tensorflow(model_path, tmp_path):
    done = subprocess.run([sys.executable, "-c", BUILD_AND_ANSWER, str(model_path), str(tmp_path / "t.db")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # (the classifier really loaded: Rasa falls back to an untrained one, without intents, when skops
    # refuses the file), skops' import did not import every scikit-learn estimator (26 MB, 0.4 s) nor
    # Rasa's every input channel (1.0 s, 19 MB)
    assert result == {"tensorflow": [], "intent": "shipping_time", "messages": 1, "every_estimator": False,
                      "every_channel": False}


def test_a_tensorflow_only_class_fails_clearly_when_a_model_needs_it():
    stand_in = compat._tensorflow_stub("rasa.nlu.classifiers.diet_classifier")
    with pytest.raises(compat.TensorFlowAvoided, match="diet_classifier.*TensorFlow component"):
        stand_in.DIETClassifier()

    class Subclass(stand_in.DIETClassifier):  # module-level subclasses still import
        pass

    with pytest.raises(compat.TensorFlowAvoided):
        Subclass()


def test_avoiding_tensorflow_refuses_another_rasa_version(monkeypatch):
    monkeypatch.setattr(compat, "installed_versions", lambda packages: {"rasa": "3.7.0"})
    with pytest.raises(RuntimeError, match="rasa 3.7.0 is installed.*TENSORFLOW_ONLY_MODULES"):
        with compat.tensorflow_avoided():
            pass


STAND_INS_LEAVE = """
import sys
from crossdesk import compat
with compat.tensorflow_avoided() as avoided:
    import rasa.utils.train_utils
    inside = getattr(sys.modules["rasa.utils.tensorflow.callback"], "crossdesk_stand_in", False)
print(avoided, inside, "rasa.utils.tensorflow.callback" in sys.modules,
      any(type(f).__name__ == "_TensorFlowFreeFinder" for f in sys.meta_path))
"""


def test_the_stand_ins_are_gone_after_the_load_so_training_later_gets_the_real_modules():
    done = subprocess.run([sys.executable, "-c", STAND_INS_LEAVE], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True", "False", "False"]


SKOPS_LISTS = """
import json
from crossdesk import compat
print(json.dumps(compat.skops_trusted_type_names()))
"""


def test_the_precomputed_skops_lists_are_the_ones_skops_computes():
    # In a fresh interpreter nothing is precomputed: this is skops' own result for the pinned versions.
    done = subprocess.run([sys.executable, "-c", SKOPS_LISTS], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    computed = json.loads(done.stdout)
    assert computed == compat._read_skops_trusted_types(), "run: python -m crossdesk.compat skops-types"
    assert "sklearn.linear_model._logistic.LogisticRegression" in computed["SKLEARN_ESTIMATOR_TYPE_NAMES"]


POSTPONED_WARM_UP = """
import json, sys
from bot import language, word_frequency
with language.warm_up_postponed() as warm_up:
    language.warm_up()
    during = word_frequency._loaded is not None
thread = warm_up.start()
thread.join()
print(json.dumps({"during": during, "after": word_frequency._loaded is not None,
                  "again": warm_up.start() is None}))
"""


def test_the_language_warm_up_asked_for_during_the_model_load_runs_afterwards_in_the_background():
    done = subprocess.run([sys.executable, "-c", POSTPONED_WARM_UP], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"during": False, "after": True, "again": True}


def test_the_files_a_server_reads_at_start_parse_with_libyaml_to_the_same_data():
    import yaml

    from crossdesk import yaml_files

    files = sorted((ROOT / "bot" / "responses").rglob("*.yml")) + sorted((ROOT / "data" / "store").glob("*.yml"))
    assert len(files) > 10 and yaml_files._LOADER is yaml.CSafeLoader
    for path in files:
        text = path.read_text("utf-8")
        assert yaml_files.safe_load(text) == yaml.safe_load(text), path


LAZY_CHANNELS = """
import sys
from crossdesk import compat
compat.lazy_rasa_channels()
from rasa.core.channels import UserMessage
light = "rasa.core.channels.slack" not in sys.modules
from rasa.core.channels import BUILTIN_CHANNELS
print(light, UserMessage.__module__, sorted(BUILTIN_CHANNELS)[-2:], "rasa.core.channels.slack" in sys.modules)
"""


def test_rasas_channels_package_imports_its_channels_only_when_a_name_needs_them():
    done = subprocess.run([sys.executable, "-c", LAZY_CHANNELS], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "rasa.core.channels.channel", "['twilio_voice',", "'webexteams']", "True"]


def test_rasas_graph_runs_in_order_with_the_results_dask_gives_calling_each_node_once():
    import dask

    calls = []

    def node(name):
        def call(*needs):
            calls.append(name)
            return name, [need for need in needs]
        return call

    graph = {"__message__": ("__message__", ["hello"]), "convert": (node("convert"), "__message__"),
             "domain": (node("domain"),), "parse": (node("parse"), "convert", "domain"),
             "predict": (node("predict"), "parse", "domain", "__tracker__")}
    expected = dict(dask.get(dict(graph), ["predict", "parse"]))
    calls.clear()
    assert dict(compat._in_order(graph, ["predict", "parse"])) == expected
    assert sorted(calls) == ["convert", "domain", "parse", "predict"]
    assert expected["predict"][2] == "__tracker__"  # a need that is no key passes as its name, as in dask

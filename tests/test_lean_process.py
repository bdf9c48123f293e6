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
                      "intent": reply.intent, "messages": len(reply.messages)}))
asyncio.run(main())
"""


def test_a_bot_process_answers_without_ever_importing_tensorflow(model_path, tmp_path):
    done = subprocess.run([sys.executable, "-c", BUILD_AND_ANSWER, str(model_path), str(tmp_path / "t.db")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"tensorflow": [], "intent": "shipping_time", "messages": 1}


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

"""The 2-minute studio loop (issue #16): Rasa's duplicate check no longer re-hashes unchanged examples.

In-process. ``TrainingData(...)`` drops duplicate examples by fingerprint, and Rasa's version forgot
every example's cached fingerprint first, so each of the ~145 ``TrainingData`` built during a
training hashed all 23,000 examples and their feature matrices again. The training data Rasa gets
must stay exactly the same.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse

from tests.support import ROOT

BYE = "bye for now, studio test"


@pytest.fixture()
def patched(monkeypatch):
    """``crossdesk.compat.sanitized_examples_keep_fingerprints`` applied; returns Rasa's own ``sanitize_examples``."""
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from crossdesk import compat

    original = TrainingData.__dict__["sanitize_examples"]
    monkeypatch.setattr(TrainingData, "sanitize_examples", original)  # (restored after the test)
    compat.sanitized_examples_keep_fingerprints()
    return original.__func__


def _examples():
    """The English NLU examples, each with a sparse feature row, plus hand-made duplicates and padded intents."""
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message

    messages = [m for path in sorted((ROOT / "data" / "nlu" / "en").glob("*.yml"))
                for m in load_data(str(path)).training_examples]
    messages += [Message(data={"text": "hello there", "intent": "greet "}),
                 Message(data={"text": "hello there", "intent": "greet"}),  # a duplicate once stripped
                 Message(data={"text": "hello there", "intent": " greet\n"}),
                 Message(data={"text": BYE, "response": "chitchat/bye  ", "intent": "chitchat"})]
    messages += [pickle.loads(pickle.dumps(m)) for m in messages[:50]]  # exact duplicates
    for message in messages:  # (the same features for the same text, as a featurizer gives)
        row = scipy.sparse.coo_matrix(np.array([[len(message.get("text") or "") % 7, 1.0, 0.0]]))
        message.add_features(Features(row, "sentence", "text", "test"))
    return messages


def _summary(training_data):
    return [(m.fingerprint(), m.data) for m in training_data.training_examples]


def test_the_training_data_rasa_builds_is_the_same(patched):
    rasa_sanitize = patched
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = _examples()
    theirs = pickle.loads(pickle.dumps(examples))
    ours = TrainingData(examples)
    assert [m.fingerprint() for m in rasa_sanitize(theirs)] == [m.fingerprint() for m in ours.training_examples]
    assert _summary(ours) == [(m.fingerprint(), m.data) for m in rasa_sanitize(pickle.loads(pickle.dumps(examples)))]
    greet = [m for m in ours.training_examples if m.get("text") == "hello there"]
    assert [m.get("intent") for m in greet] == ["greet"]
    assert [m.get("response") for m in ours.training_examples if m.get("text") == BYE] == ["chitchat/bye"]
    assert len(ours.training_examples) < len(examples)


def test_an_example_changed_after_a_build_is_checked_with_its_new_content(patched):
    """A cached fingerprint is used only while the message is unchanged (``set`` / ``add_features`` reset it)."""
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    first, second = Message(data={"text": "where is it", "intent": "a"}), Message(data={"text": "where is it",
                                                                                        "intent": "b"})
    assert len(TrainingData([first, second]).training_examples) == 2
    second.set("intent", "a")
    assert len(TrainingData([first, second]).training_examples) == 1
    second.add_features(Features(scipy.sparse.coo_matrix(np.ones((1, 2))), "sentence", "text", "test"))
    assert len(TrainingData([first, second]).training_examples) == 2


def test_building_the_training_data_again_does_not_hash_the_examples_again(patched, monkeypatch):
    import rasa.shared.utils.io
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = TrainingData(_examples()).training_examples
    hashed = []
    original = rasa.shared.utils.io.deep_container_fingerprint

    def counting(*args, **kwargs):
        hashed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(rasa.shared.utils.io, "deep_container_fingerprint", counting)
    for _ in range(3):
        assert TrainingData(examples).training_examples == examples
    assert len(hashed) == 0  # Rasa's own: 80,046 (recursive) calls, every example and feature each time

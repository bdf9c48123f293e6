"""Noisy copies of the Japanese training examples (issue #20, session 12: ja typo accuracy 5.4 points under
clean on the held-out set). In-process, no model."""

from __future__ import annotations

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import CrossdeskTokenizer, TypoCopies
from bot.intent_classifier import SAMPLE_WEIGHT
from bot.typos import TYPO_COPY

EXAMPLES = [("返金はいつになりますか", "refund_status"), ("where is my refund", "refund_status"),
            ("配送期間", "shipping_time"), ("注文をキャンセルしたいです", "cancel_order")]


def tokenized(examples=EXAMPLES) -> TrainingData:
    data = TrainingData([Message(data={TEXT: text, INTENT: intent}) for text, intent in examples])
    return CrossdeskTokenizer(CrossdeskTokenizer.get_default_config()).process_training_data(data)


def test_each_example_with_kana_gets_a_tokenized_noisy_copy_of_its_intent():
    data = tokenized()
    augmented = TypoCopies({**TypoCopies.get_default_config(), "copies": 1}).process_training_data(data)
    copies = [m for m in augmented.training_examples if m.get(TYPO_COPY)]
    assert [m.get(INTENT) for m in copies] == ["refund_status", "cancel_order"]  # (no kana: no copy)
    originals = ["返金はいつになりますか", "注文をキャンセルしたいです"]
    for copy, original in zip(copies, originals):
        assert copy.get(TEXT) != original and set(copy.get(TEXT)) <= set(original)
        assert copy.get(TOKENS_NAMES[TEXT]) and copy.get(SAMPLE_WEIGHT) == 0.25
    assert len(augmented.intent_examples) == len(EXAMPLES) + 2
    assert len(data.training_examples) == len(EXAMPLES)  # the input is left as it was


def test_the_copies_are_seeded():
    texts = lambda config: [m.get(TEXT) for m in TypoCopies(config).process_training_data(tokenized()).training_examples  # noqa: E731
                            if m.get(TYPO_COPY)]
    config = {**TypoCopies.get_default_config(), "copies": 1}
    assert texts(config) == texts(config)
    two = texts({**config, "copies": 2})
    assert len(two) == 4 and two[0] == texts(config)[0] and two[0] != two[1]


def test_messages_to_parse_are_left_alone():
    message = Message(data={TEXT: "返金はいつになりますか"})
    assert TypoCopies(TypoCopies.get_default_config()).process([message]) == [message]
    assert message.get(TEXT) == "返金はいつになりますか"


def featurized(rows: list[list[int]], intents: list[str], weight=None) -> list[Message]:
    """Messages with sentence features at the columns of each row (one block of 12 columns)."""
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE
    from rasa.shared.nlu.training_data.features import Features

    messages = []
    for columns, intent in zip(rows, intents):
        data = {TEXT: f"m{len(messages)}", INTENT: intent, **({SAMPLE_WEIGHT: weight} if weight is not None else {})}
        message = Message(data=data)
        row = scipy.sparse.coo_matrix((np.ones(len(columns)), (np.zeros(len(columns), dtype=int), columns)),
                                      shape=(1, 12))
        message.add_features(Features(row, FEATURE_TYPE_SENTENCE, TEXT, "featurizer.0"))
        messages.append(message)
    return messages


def fitted(messages: list[Message], tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.intent_classifier import TfidfLogisticRegressionClassifier

    tmp_path.mkdir()
    classifier = TfidfLogisticRegressionClassifier(
        {**TfidfLogisticRegressionClassifier.get_default_config(), "solver": "liblinear", "C": 30},
        "classifier", LocalModelStorage(tmp_path), Resource("classifier"))
    classifier.train(TrainingData(messages))
    return classifier


def test_weighted_copies_count_in_the_fit_by_their_weight_and_not_in_the_idf_or_class_balance(tmp_path):
    import numpy as np

    rows = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [4, 5, 6], [4, 5, 7], [8, 9, 10], [8, 9, 11], [8, 10, 11]]
    intents = ["a", "a", "a", "b", "b", "c", "c", "c"]
    alone = fitted(featurized(rows, intents), tmp_path / "alone")
    noisy = [[1, 2, 6], [5, 6, 9], [9, 10, 2]]
    unweighted = fitted(featurized(rows, intents) + featurized(noisy, ["a", "b", "c"], weight=0.0), tmp_path / "zero")
    assert np.allclose(unweighted.idf, alone.idf)
    assert np.allclose(unweighted.clf.coef_, alone.clf.coef_, atol=1e-4)
    assert unweighted.clf.class_weight == "balanced"  # (as configured, after the fit)
    weighted = fitted(featurized(rows, intents) + featurized(noisy, ["a", "b", "c"], weight=0.5), tmp_path / "half")
    assert np.allclose(weighted.idf, alone.idf) and not np.allclose(weighted.clf.coef_, alone.clf.coef_, atol=1e-4)


def test_the_featurizer_learns_no_vocabulary_from_the_copies(tmp_path):
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.featurizers import BatchNgramFeaturizer

    config = {**BatchNgramFeaturizer.get_default_config(),
              "blocks": [{"analyzer": "char", "min_ngram": 2, "max_ngram": 4, "min_df": 1}]}
    trained = []
    for name, data in (("copies", TypoCopies(TypoCopies.get_default_config()).process_training_data(tokenized())),
                       ("alone", tokenized())):
        featurizer = BatchNgramFeaturizer.create(config, LocalModelStorage(tmp_path), Resource(name),
                                                 ExecutionContext(None, node_name="f"))
        featurizer.train(data)
        trained.append(featurizer)
    featurizer, alone = trained
    assert [v.vocabulary_ for v in featurizer.vectorizers] == [v.vocabulary_ for v in alone.vectorizers]

"""`python -m bot eval --split`: a fixed split by text, so two data versions are compared on the same rows (in-process)."""

from __future__ import annotations

from bot.split_eval import FOLDS, declined_by_language, in_test, macro_f1


def test_a_row_stays_on_its_side_whatever_else_is_in_the_data():
    texts = [f"where is my order {n}" for n in range(300)]
    tested = {t for t in texts if in_test("en", t)}
    more = texts + [f"cancel my alarm {n}" for n in range(300)]
    assert {t for t in more if in_test("en", t) and t in texts} == tested
    assert in_test("en", " Where is my order 7 ") == in_test("en", "where is my order 7")  # (case, spaces)
    assert abs(len(tested) / len(texts) - 1 / FOLDS) < 0.1  # about a third is tested


def test_a_fallback_counts_as_wrong_and_left_out_intents_are_not_averaged():
    rows = [{"gold": "order_tracking", "predicted": "order_tracking"},
            {"gold": "order_tracking", "predicted": "nlu_fallback"},
            {"gold": "out_of_scope", "predicted": "order_tracking"}]
    assert macro_f1(rows, "predicted", ("out_of_scope",)) == 0.5  # precision 1/2, recall 1/2
    assert macro_f1(rows, "predicted") == 0.25  # out_of_scope's F1 is 0


def test_off_topic_dev_rows_are_counted_declined_per_language():
    rows = [{"dev": "offtopic_dev2", "language": "en", "predicted": "out_of_scope"},
            {"dev": "offtopic_dev2", "language": "en", "predicted": "cancel_order"},
            {"dev": "offtopic_dev2", "language": "fr", "predicted": "nlu_fallback"},
            {"dev": "offtopic_dev", "language": "fr", "predicted": "cancel_order"}]
    assert declined_by_language(rows, "offtopic_dev2") == {"en": (1, 2), "fr": (1, 1)}

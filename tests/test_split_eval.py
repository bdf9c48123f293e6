"""`python -m bot eval --split`: a fixed split by text, so two data versions are compared on the same rows (in-process)."""

from __future__ import annotations

import numpy as np

from bot.split_eval import (FOLDS, bootstrap_interval, declined_by_language, fold, in_test, macro_f1, paired,
                            weighted_macro_f1)


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


def test_a_row_keeps_its_fold_whatever_else_is_in_the_data_and_the_first_of_three_is_the_fixed_split():
    texts = [f"where is my order {n}" for n in range(300)]
    folds = {t: fold("en", t, 5) for t in texts}
    more = texts + [f"cancel my alarm {n}" for n in range(300)]
    assert {t: fold("en", t, 5) for t in more if t in folds} == folds
    assert set(folds.values()) == set(range(5))  # each row in exactly one of the 5, every fold used
    assert all((fold("en", t, FOLDS) == 0) == in_test("en", t) for t in more)


def test_the_shared_rows_are_those_with_the_same_language_text_and_intent():
    before = [{"language": "en", "text": "Refund?", "gold": "refund_status"},
              {"language": "en", "text": "is it cotton", "gold": "out_of_scope"},
              {"language": "fr", "text": "gone", "gold": "thank"}]
    after = [{"language": "en", "text": "is it cotton", "gold": "product_question"},
             {"language": "en", "text": "refund? ", "gold": "refund_status"}]
    old, new = paired(before, after)
    assert [r["text"] for r in old] == ["Refund?"] and [r["text"] for r in new] == ["refund? "]


def test_weighted_macro_f1_counts_a_row_as_often_as_its_weight():
    rows = [{"gold": g, "predicted": p} for g, p in (("a", "a"), ("a", "b"), ("b", "b"), ("c", "a"), ("c", "c"))]
    number = {"a": 0, "b": 1, "c": 2}
    gold, predicted = (np.array([number[r[f]] for r in rows]) for f in ("gold", "predicted"))
    assert weighted_macro_f1(gold, predicted, np.ones(5)) == macro_f1(rows, "predicted")
    twice = [rows[0], rows[0], rows[2], rows[3], rows[4]]  # row 0 twice, row 1 not drawn
    assert weighted_macro_f1(gold, predicted, np.array([2, 0, 1, 1, 1])) == macro_f1(twice, "predicted")
    assert weighted_macro_f1(gold, predicted, np.array([1, 1, 0, 1, 1])) == macro_f1(
        [rows[0], rows[1], rows[3], rows[4]], "predicted")  # b not drawn: not averaged


def test_the_bootstrap_interval_holds_the_difference_and_excludes_zero_only_for_a_clear_fall():
    gold = ["a"] * 50 + ["b"] * 50
    before = [{"gold": g, "predicted": g} for g in gold]
    one = [dict(r) for r in before]
    one[0]["predicted"] = "b"  # one row of a hundred lost
    low, high = bootstrap_interval(before, one)
    assert low < macro_f1(one, "predicted") - 1 < 0 and high == 0.0  # the draws without row 0 differ by nothing
    many = [{"gold": g, "predicted": "b" if n < 20 else g} for n, g in enumerate(gold)]  # 20 of 50 a's lost
    low, high = bootstrap_interval(before, many)
    assert low < macro_f1(many, "predicted") - 1 < high < 0
    assert bootstrap_interval(before, many) == (low, high)  # seeded
    assert bootstrap_interval(before, before) == (0.0, 0.0)

"""The quality gate scores the live model once (issue #16: the studio loop in <= 2 minutes).

A model's name is the fingerprint of what it was trained on, so its scores on a reference set are
remembered in the models folder: the next gate compares its candidate with the live model's
remembered scores instead of loading and parsing with the live model again (~7 s of ~15 s).
"""

from __future__ import annotations

from bot.gate import SCORES_FILE, model_scores, reference_rows, remember_scores, remembered_scores, rows_digest
from tests.support import ROOT

ROWS = [("en", "greet", "hello"), ("en", "goodbye", "bye")]


def test_a_models_remembered_scores_are_used_without_loading_it(tmp_path):
    live = tmp_path / "crossdesk-0123456789abcdef.tar.gz"
    live.write_bytes(b"not a model: loading it would fail")
    scores_file = tmp_path / SCORES_FILE
    remember_scores(scores_file, live, rows_digest(ROWS), {"en": 0.91})

    assert model_scores(live, ROWS, scores_file) == {"en": 0.91}


def test_scores_of_another_reference_set_or_of_a_deleted_model_are_not_used(tmp_path):
    old = tmp_path / "crossdesk-aaaaaaaaaaaaaaaa.tar.gz"
    new = tmp_path / "crossdesk-bbbbbbbbbbbbbbbb.tar.gz"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    scores_file = tmp_path / SCORES_FILE
    remember_scores(scores_file, old, rows_digest(ROWS), {"en": 0.5})
    old.unlink()  # (pruned)
    remember_scores(scores_file, new, rows_digest(ROWS), {"en": 0.7})

    assert remembered_scores(scores_file, old, rows_digest(ROWS)) is None
    assert remembered_scores(scores_file, new, rows_digest(ROWS[:1])) is None
    assert remembered_scores(scores_file, new, rows_digest(ROWS)) == {"en": 0.7}


def test_the_reference_set_is_named_by_its_rows():
    rows = reference_rows(ROOT / "data" / "nlu", ["en"], per_language=50)
    assert rows_digest(rows) == rows_digest(list(rows))
    assert rows_digest(rows) != rows_digest(rows[1:])

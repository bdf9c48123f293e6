"""crossdesk/languages.py: its lists agree with the widget's strings, the responses and the training data (in-process)."""

from __future__ import annotations

import re

from crossdesk.languages import AUTHORED, KNOWN, WIDGET
from crossdesk.paths import NLU_DIR, RESPONSES_DIR, WIDGET_DIR

WIDGET_SOURCE = (WIDGET_DIR / "crossdesk.js").read_text(encoding="utf-8")


def widget_table(name: str) -> set[str]:
    """The language keys of one of the widget's per-language tables (``STRINGS``, ``LANGUAGE_NAMES``)."""
    start = WIDGET_SOURCE.index(f"const {name} = {{")
    body = WIDGET_SOURCE[start:WIDGET_SOURCE.index("};", start)]
    return set(re.findall(r'^\s*"?([a-z]{2}(?:-[A-Z]{2})?)"?: \{', body, re.MULTILINE)
               if name == "STRINGS" else re.findall(r'"?([a-z]{2}(?:-[A-Z]{2})?)"?: "', body))


def test_the_widget_speaks_exactly_the_widget_languages():
    assert widget_table("STRINGS") == set(WIDGET)
    assert widget_table("LANGUAGE_NAMES") == set(WIDGET)


def test_every_widget_language_has_the_bots_answers_or_its_system_texts():
    answered = {p.stem for p in RESPONSES_DIR.glob("*.yml")} | {p.stem for p in (RESPONSES_DIR / "system").glob("*.yml")}
    assert set(WIDGET) <= answered


def test_every_authored_language_has_training_data_and_is_known():
    assert {p.name for p in NLU_DIR.iterdir() if p.is_dir()} >= set(AUTHORED)
    assert set(AUTHORED) <= set(KNOWN) and len(set(KNOWN)) == len(KNOWN)

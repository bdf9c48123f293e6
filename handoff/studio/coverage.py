"""Coverage: intents x languages, with ``make check``'s findings (``bot/datacheck.py``) on each cell."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot import datacheck
from bot.language import AUTHORED


def _response_names(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with open(path, encoding="utf-8") as handle:
        return set(((yaml.safe_load(handle) or {}).get("responses") or {}))


def answers_for(intent: str, english: set[str]) -> list[str]:
    """The responses that answer an intent: ``utter_<intent>`` and its variants (``utter_<intent>_generic``)."""
    return sorted(n for n in english if n == f"utter_{intent}" or n.startswith(f"utter_{intent}_"))


def coverage(root: Path, domain: Path = datacheck.DOMAIN) -> dict:
    """The matrix and the data check's findings for the content under ``root``.

    Each cell: ``examples`` (count), ``answer`` (``present``, ``missing`` or None when the intent
    has no answer of its own, e.g. handed to an agent), ``thin`` and ``collisions`` (examples it
    shares with another intent), exactly as ``python -m bot check`` reports them.
    """
    nlu_dir, responses_dir = Path(root) / "data" / "nlu", Path(root) / "bot" / "responses"
    report = datacheck.run_checks(nlu_dir, responses_dir)
    intents = datacheck.domain_intents(domain)
    english = _response_names(responses_dir / "en.yml")
    cells: dict[str, dict[str, dict]] = {}
    for language in AUTHORED:
        counts = datacheck.load_nlu(nlu_dir / language) if (nlu_dir / language).is_dir() else {}
        present = _response_names(responses_dir / f"{language}.yml")
        for intent in intents:
            answers = answers_for(intent, english)
            cells.setdefault(intent, {})[language] = {
                "examples": len(counts.get(intent, [])),
                "answer": (None if not answers else "present" if set(answers) <= present else "missing"),
                "missing_answers": [a for a in answers if a not in present],
                "thin": False, "collisions": [],
            }
    for finding in report.findings:
        cell = cells.get(finding.get("intent"), {}).get(finding.get("language"))
        if cell is None:
            continue
        if finding["kind"] == "thin":
            cell["thin"] = True
        elif finding["kind"] == "collision":
            cell["collisions"].append({"example": finding["example"], "other": finding["other"]})
            other = cells.get(finding["other"], {}).get(finding["language"])
            if other is not None:
                other["collisions"].append({"example": finding["example"], "other": finding["intent"]})
    return {"languages": list(AUTHORED), "intents": intents, "cells": cells, "min_examples": datacheck.MIN_EXAMPLES,
            "errors": report.errors, "warnings": report.warnings, "ok": report.ok}

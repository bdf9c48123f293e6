"""Content checks for staff: ``python -m bot check``.

Reports, per language: missing topic files or intents, intents with too few
examples, examples that appear under two intents, responses missing or with
placeholders that differ from English. Exit code 1 when there are errors.
"""

from __future__ import annotations

import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from crossdesk.languages import AUTHORED
from crossdesk.paths import DOMAIN_FILE, NLU_DIR, RESPONSES_DIR

DOMAIN = DOMAIN_FILE
MIN_EXAMPLES = 15


@dataclass
class Report:
    """Problems found, as human-readable lines (and as ``findings``, one dict each, for the studio)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)

    def error(self, line: str, **finding) -> None:
        """Record an error; ``finding`` says what and where (``kind``, ``language``, ``intent``...)."""
        self.errors.append(line)
        self.findings.append({"level": "error", "message": line, **finding})

    def warning(self, line: str, **finding) -> None:
        """Record a warning (see ``error``)."""
        self.warnings.append(line)
        self.findings.append({"level": "warning", "message": line, **finding})

    @property
    def ok(self) -> bool:
        return not self.errors


def _examples(block: str) -> list[str]:
    return [line.strip()[2:].strip() for line in (block or "").splitlines() if line.strip().startswith("- ")]


def load_nlu(directory: Path) -> dict[str, list[str]]:
    """``{intent: [examples]}`` from every yml under ``directory``."""
    intents: dict[str, list[str]] = defaultdict(list)
    for path in sorted(Path(directory).glob("*.yml")):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        for item in data.get("nlu") or []:
            if "intent" in item:
                intents[item["intent"]].extend(_examples(item.get("examples", "")))
    return dict(intents)


def domain_intents(domain: Path = DOMAIN) -> list[str]:
    """Intent names declared in the domain."""
    with open(domain, encoding="utf-8") as handle:
        return list((yaml.safe_load(handle) or {}).get("intents") or [])


def _placeholders(variations: Iterable[dict]) -> set[str]:
    names = set()
    for variation in variations or []:
        names |= {n for _, n, _, _ in string.Formatter().parse(variation.get("text") or "") if n}
    return names


def check_nlu(report: Report, nlu_dir: Path, intents: list[str], languages: Iterable[str]) -> None:
    """Languages, topic files, example counts, collisions."""
    reference_files = {p.name for p in (nlu_dir / "en").glob("*.yml")}
    for lang in languages:
        directory = nlu_dir / lang
        if not directory.is_dir():
            report.error(f"{lang}: no training data (data/nlu/{lang}/ missing)", kind="no_language", language=lang)
            continue
        files = {p.name for p in directory.glob("*.yml")}
        for missing in sorted(reference_files - files):
            report.error(f"{lang}: topic file {missing} missing (present in en)", kind="missing_file", language=lang,
                         file=missing)
        data = load_nlu(directory)
        for intent in intents:
            count = len(data.get(intent, []))
            if count == 0:
                report.error(f"{lang}: intent {intent} has no examples", kind="thin", language=lang, intent=intent,
                             count=0)
            elif count < MIN_EXAMPLES:
                report.warning(f"{lang}: intent {intent} has {count} examples (< {MIN_EXAMPLES})", kind="thin",
                               language=lang, intent=intent, count=count)
        for unknown in sorted(set(data) - set(intents)):
            report.error(f"{lang}: intent {unknown} is not in the domain", kind="unknown_intent", language=lang,
                         intent=unknown)
        seen: dict[str, str] = {}
        for intent, examples in data.items():
            for example in examples:
                key = example.casefold()
                if key in seen and seen[key] != intent:
                    report.error(f"{lang}: '{example}' is an example of both {seen[key]} and {intent}",
                                 kind="collision", language=lang, intent=intent, other=seen[key], example=example)
                seen.setdefault(key, intent)


def check_responses(report: Report, responses_dir: Path, languages: Iterable[str]) -> None:
    """Every response in every language, with English's placeholders."""
    def load(lang: str) -> dict:
        path = responses_dir / f"{lang}.yml"
        if not path.exists():
            return {}
        with open(path, encoding="utf-8") as handle:
            return (yaml.safe_load(handle) or {}).get("responses") or {}

    english = load("en")
    for lang in languages:
        responses = load(lang)
        if not responses:
            report.error(f"{lang}: no responses (bot/responses/{lang}.yml)", kind="no_responses", language=lang)
            continue
        for name, variations in english.items():
            if name not in responses:
                report.error(f"{lang}: response {name} missing", kind="missing_response", language=lang, response=name)
            elif _placeholders(responses[name]) != _placeholders(variations):
                report.error(
                    f"{lang}: response {name} placeholders {sorted(_placeholders(responses[name]))} "
                    f"differ from en {sorted(_placeholders(variations))}", kind="placeholders", language=lang,
                    response=name)


def run_checks(nlu_dir: Path = NLU_DIR, responses_dir: Path = RESPONSES_DIR,
               languages: Iterable[str] = AUTHORED) -> Report:
    """All content checks (without Rasa's own validation)."""
    report = Report()
    languages = list(languages)
    check_nlu(report, Path(nlu_dir), domain_intents(), languages)
    check_responses(report, Path(responses_dir), languages)
    return report

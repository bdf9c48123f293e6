"""The quality gate a newly trained model passes before it goes live.

1. The content checks (``bot/datacheck.py``) find no errors in the candidate's data.
2. Per language, the candidate's macro-F1 on a reference set is not lower than the
   live model's by more than a margin (``CROSSDESK_GATE_MARGIN``, 0.02).

The reference set is a stable sample (up to ``PER_LANGUAGE`` examples per language,
chosen by a hash of the text, so the same rows every time) of the approved
examples: those of the repository (``data/nlu`` of the checkout, which content
changes in a separate content directory do not touch), or the content's own
when it is the repository. ``data/eval`` has no intent-labelled held-out file,
and cross-validation would take three trainings (far past the 2-minute budget),
so this is a regression check: a language whose examples were mislabelled or
deleted falls by far more than the margin; a few added or moved examples do not.
Both models parse the sample in one batch through their whole NLU pipeline (a
message the bot would turn into ``nlu_fallback`` counts as wrong), ~2 s each.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Optional

import yaml

from bot.language import AUTHORED, GENERATED_FILE

ROOT = Path(__file__).resolve().parent.parent
PER_LANGUAGE = 400
DEFAULT_MARGIN = 0.02


def reference_rows(nlu_dir: Path, languages: Iterable[str] = AUTHORED,
                   per_language: int = PER_LANGUAGE) -> list[tuple[str, str, str]]:
    """(language, intent, text): a stable sample of each language's examples."""
    rows = []
    for language in languages:
        found = []
        for path in sorted((Path(nlu_dir) / language).glob("*.yml")):
            if path.name == GENERATED_FILE:
                continue
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            for item in (data or {}).get("nlu") or []:
                for line in (item.get("examples") or "").splitlines():
                    if "intent" in item and line.strip().startswith("- "):
                        found.append((language, item["intent"], line.strip()[2:].strip()))
        found.sort(key=lambda row: hashlib.sha1(row[2].encode()).hexdigest())
        rows += found[:per_language]
    return rows


def predict(model_path: Path, rows: list[tuple[str, str, str]]) -> list[Optional[str]]:
    """The intent a model's full NLU pipeline gives each row's text (one batch, no tracker)."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    from bot.engine import configure_rasa_logging

    configure_rasa_logging()
    processor = Agent.load(str(model_path)).processor
    messages = [UserMessage(text, metadata={"locale": language}) for language, _, text in rows]
    target = processor.model_metadata.nlu_target
    parsed = processor.graph_runner.run(inputs={"__message__": messages}, targets=[target])[target]
    return [(message.get("intent") or {}).get("name") for message in parsed]


def macro_f1_by_language(rows: list[tuple[str, str, str]], predicted: list[Optional[str]]) -> dict[str, float]:
    """Macro-F1 over the intents of each language's rows."""
    from sklearn.metrics import f1_score

    scores = {}
    for language in dict.fromkeys(row[0] for row in rows):
        mine = [(row[1], guess) for row, guess in zip(rows, predicted) if row[0] == language]
        gold = [g for g, _ in mine]
        scores[language] = round(float(f1_score(gold, [str(p) for _, p in mine], labels=sorted(set(gold)),
                                                 average="macro", zero_division=0)), 4)
    return scores


def compare(live: dict[str, float], candidate: dict[str, float], margin: float) -> dict:
    """The gate's verdict per language: ok when the candidate is at most ``margin`` below live."""
    languages = {lang: {"live": live.get(lang, 0.0), "candidate": score,
                        "ok": score >= live.get(lang, 0.0) - margin}
                 for lang, score in candidate.items()}
    return {"ok": all(v["ok"] for v in languages.values()), "languages": languages}


SCORES_FILE = "gate-scores.json"  # in the models folder: each model's scores, by reference set


def rows_digest(rows: list[tuple[str, str, str]]) -> str:
    """A name for a reference set (its rows, in order)."""
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]


def remembered_scores(scores_file: Optional[Path], model: Path, digest: str) -> Optional[dict]:
    """A model's scores on a reference set, if a gate computed them before."""
    try:
        return json.loads(Path(scores_file).read_text(encoding="utf-8"))[model.name][digest]
    except (TypeError, OSError, ValueError, KeyError):
        return None


def remember_scores(scores_file: Optional[Path], model: Path, digest: str, scores: dict,
                    keep: Iterable[str] = ()) -> None:
    """Keep a model's scores for the next gate (models named in ``keep`` or still present only)."""
    if scores_file is None:
        return
    path = Path(scores_file)
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known = {name: value for name, value in known.items() if name in set(keep) or (path.parent / name).exists()}
    known.setdefault(model.name, {})[digest] = scores
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(known), encoding="utf-8")
    temporary.replace(path)


def model_scores(model: Path, rows: list, scores_file: Optional[Path]) -> dict[str, float]:
    """A model's macro-F1 per language on ``rows``: remembered (a model's name is the fingerprint of
    what it was trained on), or computed and remembered. The live model's scores are the previous
    gate's candidate's: half the gate's time (the live model's load and parse, ~7 s)."""
    digest = rows_digest(rows)
    scores = remembered_scores(scores_file, model, digest)
    if scores is None:
        scores = macro_f1_by_language(rows, predict(model, rows))
        remember_scores(scores_file, model, digest, scores)
    return scores


def run_gate(candidate: Path, live: Optional[Path], content_dir: Path, margin: float = DEFAULT_MARGIN,
             log=print, scores_file: Optional[Path] = None) -> dict:
    """Content checks, then the candidate against the live model; the JSON the studio shows.

    ``scores_file``: where models' scores are remembered between gates (``SCORES_FILE`` in the
    models folder); None: none are.
    """
    from bot.datacheck import run_checks

    nlu_dir = Path(content_dir) / "data" / "nlu"
    languages = [lang for lang in AUTHORED if (nlu_dir / lang).is_dir()]  # (a test's content has a few)
    checks = run_checks(nlu_dir, Path(content_dir) / "bot" / "responses", languages)
    for line in checks.errors:
        log(f"content check: {line}")
    reference = ROOT / "data" / "nlu"
    rows = reference_rows(reference, languages)
    log(f"scoring {len(rows)} reference examples ({reference}) with the candidate"
        + (" and the live model" if live else ""))
    candidate_scores = model_scores(candidate, rows, scores_file)
    live_scores = model_scores(live, rows, scores_file) if live else dict(candidate_scores)
    verdict = compare(live_scores, candidate_scores, margin)
    verdict["checks"] = {"ok": checks.ok, "errors": checks.errors}
    verdict["ok"] = verdict["ok"] and checks.ok
    for lang, v in verdict["languages"].items():
        log(f"{lang}: live {v['live']:.3f}, candidate {v['candidate']:.3f} {'ok' if v['ok'] else 'REJECTED'}")
    return verdict

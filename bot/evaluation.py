"""``make eval``: NLU cross-validation per language, language detection, fallback threshold.

The classifier is evaluated as it is served: one model for all languages,
k-fold stratified by language and intent, scored per language.

Writes ``reports/index.html`` (per-intent F1 per language, macro-F1, links to
Rasa's confusion plots) and ``reports/summary.json``.
"""

from __future__ import annotations

import asyncio
import html
import json
from pathlib import Path
from typing import Optional

from bot.language import GENERATED_FILE, detect
from crossdesk.languages import AUTHORED
from crossdesk.paths import CONFIG_FILE, EVAL_DIR, MODELS_DIR, NLU_DIR, ROOT

DETECTION_FILES = {
    # Written apart from the training data; the detection rules were tuned while looking at its misses.
    "dev": EVAL_DIR / "language_detection.tsv",
    # Written later by someone who saw neither the training data nor the dev file; never tuned on.
    "test": EVAL_DIR / "language_detection_test.tsv",
}
NEAR_MISS_FILE = EVAL_DIR / "near_misses.tsv"
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
NOT_ANSWERS = {"out_of_scope", "nlu_fallback", "request_human", "bot_challenge", "greet", "goodbye", "thank",
               "affirm", "deny", "product_question"}  # product_question: handed to a person, not an FAQ
REPORTS = ROOT / "reports"


def detection_rows(path: Path) -> list[tuple[str, str]]:
    """(expected language, text) pairs of the held-out file."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, text = line.split("\t", 1)
            rows.append((expected, text))
    return rows


def plain_langdetect(text: str) -> Optional[str]:
    """Seeded langdetect alone (the baseline)."""
    from langdetect import DetectorFactory, detect as raw_detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        found = raw_detect(text)
    except LangDetectException:
        return None
    return {"zh-cn": "zh-CN", "zh-tw": "zh-TW"}.get(found, found)


def training_texts(nlu_dir: Path = NLU_DIR) -> set[str]:
    """Every training example, lowercased (held-out rows that appear here are not held out)."""
    from bot.language import _EXAMPLE

    return {example.strip().lower() for path in nlu_dir.glob("*/*.yml")
            for example in _EXAMPLE.findall(path.read_text(encoding="utf-8"))}


def held_out(rows: list[tuple[str, str]], seen: set[str]) -> list[tuple[str, str]]:
    """The rows whose text is not a training example."""
    return [(expected, text) for expected, text in rows if text.strip().lower() not in seen]


def score_detection(rows: list[tuple[str, str]]) -> dict:
    """Accuracy with our rules and with plain langdetect, and our misses."""
    ours = [(expected, text, getattr(detect(text), "language", None)) for expected, text in rows]
    baseline = sum(plain_langdetect(text) == expected for expected, text in rows)
    return {
        "messages": len(rows),
        "crossdesk_correct": sum(got == expected for expected, _, got in ours),
        "langdetect_correct": baseline,
        "misses": [{"expected": e, "text": t, "got": g} for e, t, g in ours if g != e],
    }


def best_intent(parse: dict) -> tuple[Optional[str], float]:
    """The top intent before the fallback classifier stepped in, with its confidence."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    return (ranking[0]["name"], float(ranking[0]["confidence"] or 0.0)) if ranking else (None, 0.0)


def _examples(languages: tuple[str, ...]) -> list[tuple[str, object]]:
    """(language, Rasa Message) for every training example."""
    from rasa.shared.nlu.training_data.loading import load_data

    found = []
    for language in languages:
        for path in sorted((NLU_DIR / language).glob("*.yml")):
            if path.name != GENERATED_FILE:
                found += [(language, m) for m in load_data(str(path)).intent_examples]
    return found


async def _predict_fold(train: list, test: list, workdir: Path) -> list[dict]:
    """Train on ``train`` (all languages together, like the served model) and parse ``test``."""
    import rasa.model_training
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data_file = workdir / "fold.yml"
    RasaYAMLWriter().dump(str(data_file), TrainingData(training_examples=[m for _, m in train]))
    model = rasa.model_training.train_nlu(str(CONFIG_FILE), str(data_file), str(workdir))
    processor = Agent.load(model).processor
    found = []
    for language, message in test:
        text = message.get("text")
        parse = await processor.parse_message(UserMessage(text, metadata={"locale": language}))
        best, confidence = best_intent(parse)
        found.append({"language": language, "text": text, "gold": message.get("intent"),
                      "predicted": (parse.get("intent") or {}).get("name"), "best": best, "confidence": confidence})
    return found


async def pooled_cross_validation(languages: tuple[str, ...], folds: int) -> list[dict]:
    """Stratified (language x intent) k-fold over the pooled data: every example predicted once."""
    import tempfile

    from sklearn.model_selection import StratifiedKFold

    examples = _examples(languages)
    strata = [f"{lang}|{m.get('intent')}" for lang, m in examples]
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    predictions = []
    for train_idx, test_idx in splitter.split(examples, strata):
        with tempfile.TemporaryDirectory(prefix="crossdesk-cv-") as workdir:
            predictions += await _predict_fold([examples[i] for i in train_idx], [examples[i] for i in test_idx],
                                               Path(workdir))
    return predictions


def language_report(predictions: list[dict], language: str, output: Path) -> Optional[dict]:
    """Per-intent precision/recall/F1 for one language, and its confusion matrix plot."""
    from sklearn.metrics import ConfusionMatrixDisplay, classification_report

    mine = [p for p in predictions if p["language"] == language]
    if not mine:
        return None
    gold, predicted = [p["gold"] for p in mine], [p["predicted"] for p in mine]
    labels = sorted(set(gold))
    report = classification_report(gold, predicted, labels=labels, output_dict=True, zero_division=0)
    output.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    display = ConfusionMatrixDisplay.from_predictions(gold, predicted, labels=labels, xticks_rotation="vertical",
                                                      include_values=False, colorbar=False)
    display.figure_.set_size_inches(10, 10)
    display.figure_.tight_layout()
    display.figure_.savefig(output / "intent_confusion_matrix.png", dpi=60)
    matplotlib.pyplot.close(display.figure_)
    (output / "intent_report.json").write_text(json.dumps(report, indent=2))
    return report


def in_domain_predictions(predictions: list[dict]) -> list[tuple[bool, float]]:
    """(correct, confidence) of every held-out cross-validation prediction, before the fallback."""
    return [(p["best"] == p["gold"], p["confidence"]) for p in predictions]


async def near_miss_predictions(rows: list[tuple[str, str]], models_dir: Path = MODELS_DIR) -> list[dict]:
    """The best non-fallback intent and its confidence for each near-miss, with the trained model."""
    from bot.engine import BotEngine, build_agent
    from bot.training import ensure_model

    engine = BotEngine(lambda: build_agent(str(ensure_model(models_dir))))
    engine.start()
    try:
        found = []
        for language, text in rows:
            parse = await engine.parse(text, {"language": language})
            best, confidence = best_intent(parse)
            found.append({"language": language, "text": text, "intent": best, "confidence": confidence})
        return found
    finally:
        engine.stop()


def threshold_sweep(near: list[dict], in_domain: list[tuple[bool, float]]) -> list[dict]:
    """Per fallback threshold: near-misses still answered with an FAQ vs in-domain answers kept."""
    sweep = []
    for threshold in THRESHOLDS:
        answered = sum(m["intent"] not in NOT_ANSWERS and m["confidence"] >= threshold for m in near)
        kept = sum(correct and confidence >= threshold for correct, confidence in in_domain)
        sweep.append({"threshold": threshold, "near_misses_answered": round(answered / max(1, len(near)), 3),
                      "in_domain_correct_answers": round(kept / max(1, len(in_domain)), 3)})
    return sweep


def per_intent_f1(report: dict) -> dict[str, float]:
    """Intent -> F1 from a Rasa intent report."""
    skip = {"accuracy", "macro avg", "weighted avg", "micro avg"}
    return {k: v["f1-score"] for k, v in report.items() if k not in skip and isinstance(v, dict)}


def detection_scores() -> dict[str, dict]:
    """Detection scored on each held-out file, without lines that are training examples."""
    seen = training_texts()
    scores = {}
    for name, path in DETECTION_FILES.items():
        rows = detection_rows(path)
        kept = held_out(rows, seen)
        scores[name] = {**score_detection(kept), "dropped": len(rows) - len(kept)}
    return scores


def write_html(results: dict[str, dict], detection: dict[str, dict], path: Path, sweep: list[dict] = (), folds: int = 3,
               extra: str = "") -> None:
    """The report page."""
    languages = [lang for lang in results if results[lang]]
    intents = sorted({i for lang in languages for i in per_intent_f1(results[lang])})
    head = "".join(f"<th>{html.escape(lang)}</th>" for lang in languages)
    macro = "".join(f"<td><b>{results[lang]['macro avg']['f1-score']:.3f}</b></td>" for lang in languages)
    rows = []
    for intent in intents:
        cells = []
        for lang in languages:
            f1 = per_intent_f1(results[lang]).get(intent)
            style = ' class="low"' if f1 is not None and f1 < 0.9 else ""
            cells.append(f"<td{style}>{'' if f1 is None else f'{f1:.2f}'}</td>")
        rows.append(f"<tr><th>{html.escape(intent)}</th>{''.join(cells)}</tr>")
    plots = "".join(
        f'<figure><img src="nlu/{lang}/intent_confusion_matrix.png" width="600">'
        f"<figcaption>{html.escape(lang)}</figcaption></figure>" for lang in languages)
    sections = []
    for name, scored in detection.items():
        n = scored["messages"]
        misses = "".join(f"<li>{html.escape(m['text'])}: expected {m['expected']}, got {m['got']}</li>"
                         for m in scored["misses"])
        sections.append(
            f"<h3>{html.escape(name)} ({html.escape(DETECTION_FILES[name].name)}; {scored['dropped']} lines "
            f"dropped because they are training examples)</h3>"
            f"<p>Crossdesk: {scored['crossdesk_correct']}/{n} ({scored['crossdesk_correct'] / n:.1%}); "
            f"langdetect alone (seeded): {scored['langdetect_correct']}/{n} ({scored['langdetect_correct'] / n:.1%})"
            f"</p><ul>{misses}</ul>")
    path.write_text(f"""<!doctype html><meta charset="utf-8"><title>Crossdesk NLU evaluation</title>
<style>body{{font:14px system-ui;margin:2em}} td,th{{padding:2px 8px;text-align:right}}
.low{{background:#fdd}} figure{{display:inline-block}}</style>
<h1>Crossdesk NLU evaluation</h1>
<h2>Intent F1 per language ({folds}-fold cross-validation of the pooled, all-language model, as served)</h2>
<table><tr><th></th>{head}</tr><tr><th>macro-F1</th>{macro}</tr>{''.join(rows)}</table>
<h2>Language detection on held-out short messages</h2>
{''.join(sections)}
<h2>Fallback threshold (near-misses from data/eval, in-domain from cross-validation)</h2>
<table><tr><th>threshold</th><th>near-misses answered with an FAQ</th><th>in-domain answered correctly</th></tr>
{''.join(f"<tr><td>{r['threshold']}</td><td>{r['near_misses_answered']:.1%}</td><td>{r['in_domain_correct_answers']:.1%}</td></tr>" for r in sweep)}
</table>
{extra}
<h2>Confusion matrices</h2>{plots}
""", encoding="utf-8")


def main(folds: int = 3, languages: tuple[str, ...] = AUTHORED, models_dir: Path = MODELS_DIR) -> dict:
    """Run the evaluation; print a summary; write reports/ (the near-misses go through the model in ``models_dir``)."""
    REPORTS.mkdir(exist_ok=True)
    predictions = asyncio.run(pooled_cross_validation(languages, folds))
    results = {lang: language_report(predictions, lang, REPORTS / "nlu" / lang) for lang in languages}
    detection = detection_scores()
    from bot.detection_eval import lingua_scores, zh_script_scores

    benchmarks = {"zh_script": {name: {k: v for k, v in s.items() if k != "misses"} for name, s in zh_script_scores().items()},
                  "lingua": lingua_scores()}
    in_domain = in_domain_predictions(predictions)
    near = asyncio.run(near_miss_predictions(detection_rows(NEAR_MISS_FILE), models_dir))
    sweep = threshold_sweep(near, in_domain)
    heldout = heldout_report(models_dir)
    write_html(results, detection, REPORTS / "index.html", sweep, folds, extra=heldout_html(heldout))
    summary = {
        "macro_f1": {lang: round(r["macro avg"]["f1-score"], 4) for lang, r in results.items() if r},
        "missing_languages": [lang for lang, r in results.items() if not r],
        "detection": {name: {k: v for k, v in scored.items() if k != "misses"} for name, scored in detection.items()},
        "detection_benchmarks": benchmarks,
        "fallback_thresholds": sweep,
        "heldout": heldout["languages"],
    }
    (REPORTS / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"report: {REPORTS / 'index.html'}")
    return summary


def heldout_report(models_dir: Path = MODELS_DIR, model: Optional[Path] = None) -> dict:
    """The held-out tests (``bot/heldout.py``) with ``model`` or the trained model of ``models_dir``; prints the table."""
    from bot import heldout
    from bot.training import ensure_model

    scored = heldout.run(Path(model) if model else ensure_model(models_dir))
    for key, title in (("all_rows", "all rows"), ("without_new", "without " + ", ".join(heldout.NEW_INTENTS))):
        print(f"held-out ({title}): clean / typo / long accuracy, off-topic declined, in-domain declined")
        print(heldout.table(scored, key))
    return scored


def heldout_html(scored: dict) -> str:
    """The held-out section of the report page."""
    from bot import heldout

    return heldout.html_section(scored)


def heldout_main(models_dir: Path = MODELS_DIR, model: Optional[Path] = None) -> dict:
    """Only the held-out tests (fast: no cross-validation): the table, ``reports/heldout.html`` and the
    ``heldout`` key of ``reports/summary.json`` (its other keys kept)."""
    REPORTS.mkdir(exist_ok=True)
    scored = heldout_report(models_dir, model)
    (REPORTS / "heldout.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>Crossdesk held-out evaluation</title>'
        "<style>body{font:14px system-ui;margin:2em} td,th{padding:2px 8px;text-align:right}</style>"
        + heldout_html(scored), encoding="utf-8")
    summary_file = REPORTS / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    summary["heldout"] = scored["languages"]
    summary_file.write_text(json.dumps(summary, indent=2))
    print(f"report: {REPORTS / 'heldout.html'}")
    return scored

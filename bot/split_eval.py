"""Per-language macro-F1 on one fixed split, in-process (``python -m bot eval --split``): ~1 minute, not 3 trainings.

``make eval``'s cross-validation trains three Rasa models (5+ minutes on a quiet machine). This fits
the served tokenizer, featurizer and classifier (options from ``config.yml``) once, on the examples
whose hash of language and text is not 0 mod 3, and scores the third whose hash is: the same row is
on the same side whatever other examples are added, moved or removed, so two data versions can be
compared row by row (``--without offtopic.yml`` leaves a file out of training and testing). Scored
per language: macro-F1 of the classifier alone (as ``tests/test_training_speed.py`` did), with the
fallback threshold applied (a message below it counts as wrong), and over the shop intents only
(``out_of_scope`` left out of the average, so a split with and without off-topic data compare);
``--intents`` prints per-intent F1 and the test rows taken by ``out_of_scope``.

One row is ~0.001-0.002 of a language's macro-F1 here, so a small fall cannot be told from noise.
``--folds K`` tests every row once (K fits on K hash folds, the first of three being the fixed split)
and pools the predictions; ``--baseline REV`` fits the same folds on a git revision's data with this
code and gives, per language, macro-F1 before and after on the rows both have, the rows lost and
gained, and a paired bootstrap 95 % interval of the difference (docs/pipeline.md, "Did macro-F1 fall?").
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
from pathlib import Path
from typing import Optional

import yaml

from bot.language import GENERATED_FILE
from crossdesk.languages import AUTHORED
from crossdesk.paths import CONFIG_FILE, DATA_DIR, EVAL_DIR, NLU_DIR, ROOT

FOLDS = 3
DEV_FILES = {"offtopic_dev": EVAL_DIR / "offtopic_dev.tsv", "offtopic_dev2": EVAL_DIR / "offtopic_dev2.tsv",
             "offtopic_dev3": EVAL_DIR / "offtopic_dev3.tsv", "offtopic_dev5": EVAL_DIR / "offtopic_dev5.tsv",
             "nonsense_dev": EVAL_DIR / "nonsense_dev.tsv",
             "near_misses": EVAL_DIR / "near_misses.tsv", "robust_dev": EVAL_DIR / "robust_dev.tsv",
             "long_dev": EVAL_DIR / "long_dev.tsv", "long_offtopic_dev": EVAL_DIR / "long_offtopic_dev.tsv",
             "shop_words_dev": EVAL_DIR / "shop_words_dev.tsv", "shop_words_dev2": EVAL_DIR / "shop_words_dev2.tsv",
             "ja_typo_dev": EVAL_DIR / "ja_typo_dev.tsv"}
CONTEXT_DEV_FILE = EVAL_DIR / "context_dev.tsv"
"""Context sentences for the split's long-message test, written apart from the held-out ``long_context.tsv``."""
LABELLED = ("robust_dev", "long_dev", "shop_words_dev", "shop_words_dev2", "ja_typo_dev")  # lang<TAB>intent<TAB>text
DEV_TYPO_KIND = "typo_dev"
"""The labelled dev rows are scored again with the held-out test's edits, seeded by this kind (not ``typo``)."""
OFFTOPIC_DEV = ("offtopic_dev", "offtopic_dev2", "offtopic_dev3", "offtopic_dev5")  # also reported per language
DECLINED = ("out_of_scope", "nlu_fallback")


def fold(language: str, text: str, folds: int = FOLDS) -> int:
    """A row's fold: the hash of its language and text (case and outer spaces aside) mod ``folds``."""
    digest = hashlib.sha1(f"{language}|{text.strip().lower()}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % folds


def in_test(language: str, text: str) -> bool:
    """The fixed split: a row is tested when its hash is 0 mod 3."""
    return fold(language, text) == 0


def pipeline_options(name: str) -> dict:
    """A component's options in ``config.yml``."""
    config = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    return next(({k: v for k, v in c.items() if k != "name"} for c in config["pipeline"] if c["name"] == name), {})


def pipeline_names() -> list[str]:
    """The components of ``config.yml``'s pipeline, in order."""
    return [c["name"] for c in yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))["pipeline"]]


def examples(languages, without: tuple[str, ...] = (), nlu_dir: Path = NLU_DIR) -> list:
    """(language, Rasa Message) of every training example, but the generated file and ``without``."""
    from rasa.shared.nlu.training_data.loading import load_data

    return [(language, message) for language in languages
            for path in sorted((nlu_dir / language).glob("*.yml"))
            if path.name != GENERATED_FILE and path.name not in without
            for message in load_data(str(path)).intent_examples]


def predict(train: list, test: list, data_dir: Path = DATA_DIR) -> list[dict]:
    """Fit the served pipeline on ``train`` and parse ``test`` through it (sentences and chooser too);
    the tokenizer's country names are ``data_dir``'s. The fit's files (~45 MB) are removed after."""
    with tempfile.TemporaryDirectory(prefix="split-eval-") as storage_dir:
        return fit_and_parse(train, test, data_dir, Path(storage_dir))


def fit_and_parse(train: list, test: list, data_dir: Path, storage_dir: Path) -> list[dict]:
    """``predict`` with the fit's files in ``storage_dir``."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.constants import INTENT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.components import (CrossdeskTokenizer, SentenceIntentChooser, SentenceSplitter, TypoCopies,
                                UnknownWordsFallback)
    from bot.featurizers import BatchNgramFeaturizer
    from bot.intent_classifier import TfidfLogisticRegressionClassifier
    from crossdesk.store_facts import COUNTRIES_PATH, Gazetteer

    tokenizer = CrossdeskTokenizer(CrossdeskTokenizer.get_default_config(),
                                   Gazetteer.from_file(data_dir / COUNTRIES_PATH.relative_to(DATA_DIR)))
    storage = LocalModelStorage(storage_dir)
    name = "bot.featurizers.BatchNgramFeaturizer"
    featurizer = BatchNgramFeaturizer.create({**BatchNgramFeaturizer.get_default_config(), **pipeline_options(name)},
                                             storage, Resource("featurizer"), ExecutionContext(None, node_name="f"))
    name = "bot.intent_classifier.TfidfLogisticRegressionClassifier"
    classifier = TfidfLogisticRegressionClassifier(
        {**TfidfLogisticRegressionClassifier.get_default_config(), **pipeline_options(name)}, "classifier",
        storage, Resource("classifier"))
    chooser = SentenceIntentChooser({**SentenceIntentChooser.get_default_config(),
                                     **pipeline_options("bot.components.SentenceIntentChooser")})
    unknown = UnknownWordsFallback({**UnknownWordsFallback.get_default_config(),
                                    **pipeline_options("bot.components.UnknownWordsFallback")})
    splitter = SentenceSplitter({**SentenceSplitter.get_default_config(),
                                 **pipeline_options("bot.components.SentenceSplitter")}, tokenizer)
    data = tokenizer.process_training_data(TrainingData([copy.deepcopy(m) for _, m in train]))  # (``train`` as it was)
    if "bot.components.TypoCopies" in pipeline_names():
        copies = TypoCopies({**TypoCopies.get_default_config(), **pipeline_options("bot.components.TypoCopies")},
                            tokenizer)
        data = copies.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    classifier.train(data)
    messages = [Message(data={"text": m.get("text")}) for _, m in test]
    tokenizer.process(messages)
    batch = splitter.process(list(messages))
    featurizer.process(batch)
    classifier.process(batch)
    chooser.process(batch)
    unknown.process(messages)
    threshold = float(pipeline_options("FallbackClassifier").get("threshold", 0.0))
    found = []
    for (language, example), message in zip(test, messages):
        intent = message.get(INTENT)
        confidence = float(intent["confidence"] or 0.0)
        ranking = {r["name"]: float(r["confidence"] or 0.0) for r in message.get("intent_ranking") or []}
        found.append({"language": language, "text": example.get("text"), "gold": example.get(INTENT),
                      "best": intent["name"], "confidence": confidence, "ranking": ranking,
                      "predicted": intent["name"] if confidence >= threshold else "nlu_fallback"})
    return found


def macro_f1(rows: list[dict], key: str, leave_out: tuple[str, ...] = ()) -> float:
    """Macro-F1 over the gold intents of ``rows`` (a fallback counts as wrong), but ``leave_out``."""
    from sklearn.metrics import f1_score

    labels = sorted({r["gold"] for r in rows} - set(leave_out))
    return float(f1_score([r["gold"] for r in rows], [r[key] for r in rows], labels=labels, average="macro",
                          zero_division=0))


def per_intent(rows: list[dict], key: str = "predicted") -> dict[str, float]:
    """F1 per gold intent."""
    from sklearn.metrics import f1_score

    labels = sorted({r["gold"] for r in rows})
    scores = f1_score([r["gold"] for r in rows], [r[key] for r in rows], labels=labels, average=None,
                      zero_division=0)
    return dict(zip(labels, (float(s) for s in scores)))


def dev_rows(languages) -> list:
    """(language, Message with the expected intent) of the dev files; nonsense, off-topic: out_of_scope,
    near-misses: ``near_miss`` (right unless answered with an FAQ), robust: its own column."""
    from rasa.shared.nlu.training_data.message import Message

    rows = []
    for name, path in DEV_FILES.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            language, text = fields[0], fields[-1]
            gold = fields[1] if name in LABELLED else ("near_miss" if name == "near_misses" else "out_of_scope")
            if language in languages:
                rows.append((language, Message(data={"text": text, "intent": gold, "dev": name})))
    return rows


def dev_scores(found: list[dict]) -> dict[str, float]:
    """Per dev file: how often it went right (declined; near-misses: not answered with an FAQ)."""
    from bot.evaluation import NOT_ANSWERS

    scores = {}
    for name in DEV_FILES:
        mine = [r for r in found if r.get("dev") == name]
        if name == "near_misses":
            right = [r["predicted"] in NOT_ANSWERS or r["predicted"] == "nlu_fallback" for r in mine]
        elif name in LABELLED:
            right = [r["predicted"] == r["gold"] or (r["gold"] == "out_of_scope" and r["predicted"] in DECLINED)
                     for r in mine]
        else:
            right = [r["predicted"] in DECLINED for r in mine]
        scores[name] = sum(right) / max(len(right), 1)
    return scores


def declined_by_language(found: list[dict], name: str) -> dict[str, tuple[int, int]]:
    """Per language: (declined, rows) of one dev file whose rows should all be declined."""
    counts: dict[str, tuple[int, int]] = {}
    for row in found:
        if row.get("dev") == name:
            declined, total = counts.get(row["language"], (0, 0))
            counts[row["language"]] = (declined + (row["predicted"] in DECLINED), total + 1)
    return counts


def noisy_rows(test: list, context_file: Path = CONTEXT_DEV_FILE) -> list:
    """The test rows again as the held-out tests make them (``bot.heldout.variants``, same seeds): each with
    1-2 character edits (``typo``) and each question inside 2-3 sentences of ``context_file`` (``long``)."""
    from rasa.shared.nlu.training_data.message import Message

    from bot.heldout import Row, context_sentences, variants

    rows = [Row(language, m.get("intent"), m.get("text")) for language, m in test]
    made = variants(rows, context_sentences(context_file))
    return [(row.language, Message(data={"text": text, "intent": row.intent, "variant": name}))
            for name in ("typo", "long") for row, text in made[name]]


def dev_typo_rows(dev: list) -> list:
    """The labelled dev rows again with 1-2 character edits (``bot.heldout.with_typos``, seeded by ``DEV_TYPO_KIND``)."""
    from rasa.shared.nlu.training_data.message import Message

    from bot.heldout import rng_for, with_typos

    return [(language, Message(data={"text": with_typos(m.get("text"), rng_for(DEV_TYPO_KIND, language, m.get("text"))),
                                     "intent": m.get("intent"), "dev": m.get("dev"), "variant": "typo"}))
            for language, m in dev if m.get("dev") in LABELLED]


def dev_typo_scores(clean: list[dict], typo: list[dict], languages) -> dict[str, dict[str, float]]:
    """Per language (and ``all``): accuracy on the labelled dev rows, clean and with typos."""
    from bot.heldout import correct

    figures = {}
    for language in list(languages) + ["all"]:
        figures[language] = {}
        for name, rows in (("clean", [r for r in clean if r.get("dev") in LABELLED]), ("typo", typo)):
            hits = [correct(r["gold"], r["predicted"]) for r in rows if language == "all" or r["language"] == language]
            figures[language][name] = sum(hits) / max(len(hits), 1)
            figures[language]["rows"] = len(hits)
    return figures


def robustness(found: list[dict], languages) -> dict[str, dict[str, float]]:
    """Per language: accuracy on the clean, typo and long test rows (``out_of_scope``: any decline is right)."""
    from bot.heldout import correct

    figures = {}
    for language in list(languages) + ["all"]:
        figures[language] = {}
        for name in ("clean", "typo", "long"):
            hits = [correct(r["gold"], r["predicted"]) for r in found
                    if r.get("variant", "clean") == name and (language == "all" or r["language"] == language)]
            figures[language][name] = sum(hits) / max(len(hits), 1)
            figures[language][f"{name}_rows"] = len(hits)
    return figures


def evaluate(languages=AUTHORED, without: tuple[str, ...] = (), show_intents: bool = False,
             out: Optional[Path] = None) -> dict:
    """Print and return per-language macro-F1 on the fixed split."""
    rows = examples(languages, without)
    train = [(lang, m) for lang, m in rows if not in_test(lang, m.get("text"))]
    test = [(lang, m) for lang, m in rows if in_test(lang, m.get("text"))]
    dev = dev_rows(languages)
    noisy = noisy_rows(test)
    dev_typo = dev_typo_rows(dev)
    found = predict(train, test + dev + noisy + dev_typo)
    for row, (_, message) in zip(found[len(test):], dev + noisy + dev_typo):
        row["dev"], row["variant"] = message.get("dev"), message.get("variant")
    dev_typo_found = found[len(found) - len(dev_typo):]
    noisy_found = found[len(test) + len(dev):len(found) - len(dev_typo)]
    dev_found, found = found[len(test):len(test) + len(dev)], found[:len(test)]
    summary = {}
    print(f"fixed split: {len(train)} training, {len(test)} test rows; without {list(without) or 'nothing'}")
    print("language  classifier  with-fallback  shop-intents  declined-in-domain  rows")
    for language in languages:
        mine = [r for r in found if r["language"] == language]
        shop = [r for r in mine if r["gold"] != "out_of_scope"]
        declined = sum(r["predicted"] in ("out_of_scope", "nlu_fallback") for r in shop) / max(len(shop), 1)
        summary[language] = {"classifier": macro_f1(mine, "best"), "with_fallback": macro_f1(mine, "predicted"),
                             "shop_intents": macro_f1(mine, "predicted", ("out_of_scope",)),
                             "declined_in_domain": declined, "rows": len(mine),
                             "intents": per_intent(mine)}
        s = summary[language]
        print(f"{language:8}  {s['classifier']:.3f}       {s['with_fallback']:.3f}          {s['shop_intents']:.3f}"
              f"         {100 * declined:5.1f} %            {len(mine)}")
        if show_intents:
            for row in shop:
                if row["predicted"] == "out_of_scope":
                    print(f"    {row['gold']:>24} -> out_of_scope {row['confidence']:.2f}  {row['text']}")
    summary["dev"] = dev_scores(dev_found)
    print("dev (right: declined; near-misses not answered with an FAQ; robust: its intent):",
          {k: round(100 * v, 1) for k, v in summary["dev"].items()})
    summary["dev_typo"] = dev_typo_scores(dev_found, dev_typo_found, languages)
    print(f"labelled dev rows ({', '.join(LABELLED)}), accuracy: clean / typo (1-2 edits, seeded {DEV_TYPO_KIND!r})")
    for language, f in summary["dev_typo"].items():
        print(f"{language:8}  {100 * f['clean']:5.1f}  {100 * f['typo']:5.1f}   ({f['rows']})")
    for name in OFFTOPIC_DEV:
        counts = declined_by_language(dev_found, name)
        summary[f"{name}_by_language"] = counts
        print(f"{name} declined:", "  ".join(f"{lang} {d}/{n}" for lang, (d, n) in counts.items()))
    summary["robustness"] = robustness(found + noisy_found, languages)
    print("test rows, accuracy: clean / typo (1-2 seeded edits) / long (inside context_dev.tsv sentences)")
    for language, f in summary["robustness"].items():
        print(f"{language:8}  {100 * f['clean']:5.1f}  {100 * f['typo']:5.1f}  {100 * f['long']:5.1f}"
              f"   ({f['clean_rows']} / {f['typo_rows']} / {f['long_rows']})")
    for row in dev_found:
        if show_intents and row["dev"] in OFFTOPIC_DEV and row["predicted"] not in DECLINED:
            print(f"    {row['dev']} {row['language']} -> {row['predicted']} {row['confidence']:.2f}  {row['text']}")
    if out:
        import json

        found = found + dev_found + noisy_found + dev_typo_found

        out.write_text(json.dumps({"summary": summary, "rows": found}, ensure_ascii=False, indent=1),
                       encoding="utf-8")
    return summary


def fold_predictions(rows: list, folds: int, data_dir: Path = DATA_DIR) -> list[dict]:
    """Every row predicted once, by the fit on the other ``folds - 1`` hash folds (``folds`` fits)."""
    found = []
    for k in range(folds):
        train = [(lang, m) for lang, m in rows if fold(lang, m.get("text"), folds) != k]
        found += predict(train, [(lang, m) for lang, m in rows if fold(lang, m.get("text"), folds) == k], data_dir)
    return found


def revision_data(revision: str, into: Path) -> Path:
    """What the fit reads from ``data/`` (the examples, the store's countries) at a git revision, under ``into``."""
    import io
    import subprocess
    import tarfile

    archive = subprocess.run(["git", "archive", "--format=tar", revision, "--", "data/nlu", "data/store"],
                             cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into)
    return into / "data"


def row_key(row: dict) -> tuple:
    """What makes two runs' rows the same row: language, text (case and outer spaces aside) and intent."""
    return row["language"], row["text"].strip().lower(), row["gold"]


def paired(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict]]:
    """The rows both runs scored (``row_key``; a repeated row once), in the same order on both sides."""
    earlier = {row_key(r): r for r in before}
    later = {row_key(r): r for r in after}
    shared = [k for k in later if k in earlier]
    return [earlier[k] for k in shared], [later[k] for k in shared]


def weighted_macro_f1(gold, predicted, weights) -> float:
    """``macro_f1`` on label numbers, each row counted ``weights`` times (the gold labels of weight > 0 averaged)."""
    import numpy as np

    size = int(max(gold.max(), predicted.max())) + 1
    right = gold == predicted
    hits = np.bincount(gold[right], weights[right], minlength=size)
    support = np.bincount(gold, weights, minlength=size)
    chosen = np.bincount(predicted, weights, minlength=size)
    present = support > 0
    return float(np.mean(2 * hits[present] / (support[present] + chosen[present])))


def bootstrap_interval(before: list[dict], after: list[dict], key: str = "predicted", resamples: int = 1000,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Paired bootstrap interval of macro-F1 after minus before: the shared rows resampled, the same on both sides."""
    import numpy as np

    labels = {name: n for n, name in enumerate(sorted({r[f] for r in before + after for f in ("gold", key)}))}
    gold = np.array([labels[r["gold"]] for r in before])
    earlier, later = (np.array([labels[r[key]] for r in rows]) for rows in (before, after))
    counts = np.random.default_rng(seed).multinomial(len(gold), np.full(len(gold), 1 / len(gold)), size=resamples)
    differences = [weighted_macro_f1(gold, later, w) - weighted_macro_f1(gold, earlier, w) for w in counts]
    low, high = np.quantile(differences, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def compare(before: list[dict], after: list[dict], languages, show_rows: bool = False) -> dict:
    """Per language: macro-F1 with fallback before and after on the shared rows, the interval, rows lost/gained."""
    figures = {}
    print("shared rows (same language, text, intent): macro-F1 with fallback, before -> after, difference,"
          " paired bootstrap 95 % interval (1,000 resamples), rows lost / gained (shared; only before / only after)")
    for language in languages:
        mine = [[r for r in rows if r["language"] == language] for rows in (before, after)]
        old, new = paired(*mine)
        if not old:
            print(f"{language:8}  no shared rows")
            continue
        earlier, later = ({row_key(r) for r in rows} for rows in mine)
        lost = [(o, n) for o, n in zip(old, new) if o["predicted"] == o["gold"] != n["predicted"]]
        gained = [(o, n) for o, n in zip(old, new) if o["predicted"] != o["gold"] == n["predicted"]]
        f = figures[language] = {
            "before": macro_f1(old, "predicted"), "after": macro_f1(new, "predicted"),
            "interval": bootstrap_interval(old, new), "lost": len(lost), "gained": len(gained), "shared": len(old),
            "only_before": len(earlier - later), "only_after": len(later - earlier)}
        print(f"{language:8}  {f['before']:.4f} -> {f['after']:.4f}  {f['after'] - f['before']:+.4f}"
              f"  [{f['interval'][0]:+.4f}, {f['interval'][1]:+.4f}]  {f['lost']} / {f['gained']}"
              f"   ({f['shared']}; {f['only_before']} / {f['only_after']})")
        for o, n in lost if show_rows else []:
            print(f"    lost {o['gold']:>22} -> {n['predicted']} {n['confidence']:.2f}  {n['text']}")
    return figures


def evaluate_folds(languages=AUTHORED, without: tuple[str, ...] = (), folds: int = FOLDS,
                   baseline: Optional[str] = None, show_rows: bool = False, out: Optional[Path] = None) -> dict:
    """Print and return per-language macro-F1 pooled over ``folds`` hash folds (each row tested once); with
    ``baseline`` (a git revision), the same folds fitted on that revision's data by this code, compared."""
    after = fold_predictions(examples(languages, without), folds)
    summary = {"folds": {lang: macro_f1([r for r in after if r["language"] == lang], "predicted")
                         for lang in languages}}
    print(f"{folds} hash folds, {len(after)} rows each tested once: pooled macro-F1 with fallback")
    for language, score in summary["folds"].items():
        print(f"{language:8}  {score:.4f}  ({sum(r['language'] == language for r in after)})")
    before = []
    if baseline:
        with tempfile.TemporaryDirectory(prefix="split-baseline-") as tmp:
            data_dir = revision_data(baseline, Path(tmp))
            before = fold_predictions(examples(languages, without, data_dir / "nlu"), folds, data_dir)
        print(f"baseline {baseline}: the same folds fitted on its data/nlu and data/store with this code")
        summary["baseline"] = compare(before, after, languages, show_rows)
    if out:
        import json

        out.write_text(json.dumps({"summary": summary, "rows": after, "baseline_rows": before}, ensure_ascii=False,
                                  indent=1), encoding="utf-8")
    return summary

"""Content-staff and developer commands.

``python -m bot train``  train the model if its inputs changed (``--force`` to retrain)
``python -m bot parse``  one message per line on stdin -> one JSON object per line on stdout
``python -m bot check``  content checks for staff (languages, counts, collisions, responses)
``python -m bot eval``   per-language cross-validation + language detection + held-out tests -> reports/
                        (``--heldout``: only the held-out tests with the trained model, fast)

Models live in ``--models-dir`` (default ``var/models``). These commands read no server
settings: the server (``handoff``) passes its own ``models_dir`` to ``bot.training.ensure_model``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from crossdesk.paths import MODELS_DIR, ROOT


def _quiet_rasa() -> None:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    """Train when needed; with ``--gate`` or ``--output``, train the content directory and check it."""
    from bot.training import ensure_model

    if not (args.gate or args.output or args.content_dir):
        ensure_model(Path(args.models_dir), force=args.force)
        return
    sys.exit(train_and_gate(args))


def train_and_gate(args: argparse.Namespace) -> int:
    """Train on the content directory; with ``--gate`` compare with the live model (exit code 1: rejected).

    Prints ``stage: training|checking`` and a final ``gate: {json}`` line (the server's training job
    reads them). Without ``--output`` a model that passes becomes the live one (running servers
    switch to it within seconds) and a rejected one is deleted.
    """
    import time
    from pathlib import Path

    from bot import training
    from bot.engine import configure_rasa_logging
    from bot.gate import SCORES_FILE, run_gate

    configure_rasa_logging()
    content = Path(args.content_dir) if args.content_dir else ROOT
    models_dir = Path(args.models_dir)
    target = Path(args.output) if args.output else training.model_path(models_dir, training.content_fingerprint(content))
    live = Path(args.live) if args.live else training.live_model(models_dir) or training.latest_model(models_dir)
    print("stage: training", flush=True)
    started = time.perf_counter()
    training.train_content(content, target)
    print(f"trained in {time.perf_counter() - started:.1f} s -> {target.name}", flush=True)
    if not args.gate:
        verdict = {"ok": True}
    else:
        print("stage: checking", flush=True)
        same = live is not None and live.resolve() == target.resolve()
        verdict = run_gate(target, None if same else live, content, args.gate_margin,
                           log=lambda line: print(line, flush=True), scores_file=models_dir / SCORES_FILE)
        print("gate: " + json.dumps(verdict), flush=True)
    if verdict["ok"]:
        training.unpack_ahead(target)  # (here, not in the server that switches to it: it loads the kept copy)
    if args.output:
        return 0 if verdict["ok"] else 1
    if verdict["ok"]:
        training.set_live_model(models_dir, target)
        training.prune(models_dir, args.keep, protect={target})
        print(f"live: {target.name}", flush=True)
        return 0
    if live is None or live.resolve() != target.resolve():
        target.unlink(missing_ok=True)
    print("rejected: the live model stays", flush=True)
    return 1


def parse_lines(lines, engine, out) -> None:
    """Parse each non-empty line with the server's NLU path; write JSON lines."""
    from bot.components import language_of

    async def run() -> None:
        for line in lines:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            parse = await engine.parse(text)
            intent = parse.get("intent") or {}
            out.write(json.dumps({
                "text": text,
                "language": language_of(parse),
                "intent": intent.get("name"),
                "confidence": round(float(intent.get("confidence") or 0.0), 4),
                "entities": [
                    {"entity": e["entity"], "value": e["value"], "start": e.get("start"), "end": e.get("end")}
                    for e in parse.get("entities") or [] if e.get("entity") != "language"
                ],
            }, ensure_ascii=False) + "\n")
            out.flush()

    asyncio.run(run())


def cmd_parse(args: argparse.Namespace) -> None:
    """stdin lines -> JSON lines, stdout kept clean of Rasa's logging."""
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # Rasa and TF print to stdout
        from bot.engine import BotEngine, build_agent
        from bot.training import ensure_model

        model = args.model or str(ensure_model(Path(args.models_dir)))
        engine = BotEngine(lambda: build_agent(model))
        engine.start()
        try:
            parse_lines(sys.stdin, engine, stdout)
        finally:
            engine.stop()


def cmd_check(args: argparse.Namespace) -> None:
    """Content checks, then Rasa's own data validation."""
    import subprocess

    from bot.datacheck import run_checks

    report = run_checks()
    for line in report.errors:
        print(f"ERROR   {line}")
    for line in report.warnings:
        print(f"warning {line}")
    print(f"{len(report.errors)} errors, {len(report.warnings)} warnings in Crossdesk content checks")
    rasa_ok = True
    if not args.skip_rasa:
        print("running Rasa's data validation...", flush=True)
        rasa = Path(sys.executable).parent / "rasa"
        result = subprocess.run([str(rasa), "data", "validate", "--domain", "bot/domain.yml", "--config",
                                 "config.yml", "--data", "data/nlu", "data/rules.yml"], cwd=ROOT)
        rasa_ok = result.returncode == 0
    sys.exit(0 if report.ok and rasa_ok else 1)


def cmd_eval(args: argparse.Namespace) -> None:
    """Cross-validation per language and language detection -> reports/."""
    if args.detection:
        evaluate_detection()  # (before importing the engine: no Rasa needed)
        return
    from bot.engine import configure_rasa_logging
    from bot.evaluation import main as evaluate

    configure_rasa_logging()
    if args.heldout:
        from bot.evaluation import heldout_main

        heldout_main(Path(args.models_dir), Path(args.model) if args.model else None)
        return
    if args.split:
        from bot.split_eval import evaluate as evaluate_split

        from crossdesk.languages import AUTHORED

        languages = tuple(args.languages.split(",")) if args.languages else AUTHORED
        out = Path(args.out) if args.out else None
        if args.folds or args.baseline:
            from bot.split_eval import FOLDS, evaluate_folds

            evaluate_folds(languages, tuple(args.without), args.folds or FOLDS, args.baseline, args.intents, out)
            return
        evaluate_split(languages, tuple(args.without), args.intents, out)
        return
    evaluate(folds=args.folds or 3, models_dir=Path(args.models_dir))


def evaluate_detection() -> None:
    """Language detection only (no training, no model): the short-message files, Chinese script, lingua's data."""
    import json

    from bot.detection_eval import detection_summary

    print(json.dumps(detection_summary(), indent=2))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    _quiet_rasa()
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the model if training inputs changed")
    train.add_argument("--force", action="store_true", help="retrain even if up to date")
    train.add_argument("--gate", action="store_true",
                       help="train the content directory, run the quality gate against the live model "
                            "(exit code 1 when it rejects) and make a model that passes live")
    train.add_argument("--content-dir", help="content to train on (default: the repository)")
    train.add_argument("--gate-margin", type=float, default=0.02,
                       help="how far a language's macro-F1 may fall against the live model (default 0.02)")
    train.add_argument("--keep", type=int, default=5, help="trained models kept besides the live one (default 5)")
    train.add_argument("--output", help="write the model here and change nothing else (the server's job uses it)")
    train.add_argument("--live", help="the model to compare with (default: the live one)")
    parse = commands.add_parser("parse", help="stdin messages -> JSON lines")
    parse.add_argument("--model", help="model archive (default: current trained model)")
    check = commands.add_parser("check", help="report missing languages, thin intents, collisions, responses")
    check.add_argument("--skip-rasa", action="store_true", help="skip Rasa's own (slower) validation")
    evaluation = commands.add_parser("eval", help="per-language NLU evaluation -> reports/index.html")
    evaluation.add_argument("--folds", type=int,
                            help="cross-validation folds (default 3); with --split: K hash folds of every row, "
                                 "each tested once (K fits), pooled macro-F1 per language")
    evaluation.add_argument("--baseline", metavar="REV",
                            help="with --split: the same hash folds (--folds, default 3) fitted on git revision "
                                 "REV's data/nlu and data/store with this code; per language macro-F1 before/after "
                                 "on the shared rows, rows lost/gained, paired bootstrap 95 %% interval")
    evaluation.add_argument("--detection", action="store_true",
                            help="language detection only (~1 min of CPU: short messages, zh-TW/zh-CN script, lingua's word pairs)")
    evaluation.add_argument("--heldout", action="store_true",
                            help="only the held-out tests with the trained model (clean, typo, long, off-topic; ~1 min)")
    evaluation.add_argument("--model", help="with --heldout: the model archive to test (default: the trained one)")
    evaluation.add_argument("--split", action="store_true",
                            help="per-language macro-F1 on one fixed split by text hash, in-process (~1-2 min)")
    evaluation.add_argument("--without", action="append", default=[],
                            help="with --split: leave this NLU file name out (e.g. offtopic.yml); repeatable")
    evaluation.add_argument("--languages", help="with --split: comma-separated languages (default: all authored)")
    evaluation.add_argument("--intents", action="store_true",
                            help="with --split: list the in-domain test rows taken by out_of_scope "
                                 "(with --baseline: the shared rows lost)")
    evaluation.add_argument("--out", help="with --split: write every row's prediction to this JSON file")
    for command in (train, parse, evaluation):
        command.add_argument("--models-dir", default=str(MODELS_DIR),
                             help="where trained models live (default: var/models)")
    args = parser.parse_args(argv)
    if getattr(args, "baseline", None) and not args.split:
        parser.error("--baseline compares hash folds: use it with --split")
    {"train": cmd_train, "parse": cmd_parse, "check": cmd_check, "eval": cmd_eval}[args.command](args)


if __name__ == "__main__":
    main()

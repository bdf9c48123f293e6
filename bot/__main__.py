"""Content-staff and developer commands.

``python -m bot train``  train the model if its inputs changed (``--force`` to retrain)
``python -m bot parse``  one message per line on stdin -> one JSON object per line on stdout
``python -m bot check``  content checks for staff (languages, counts, collisions, responses)
``python -m bot eval``   per-language cross-validation + language detection -> reports/

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

from crossdesk.paths import MODELS_DIR


def _quiet_rasa() -> None:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    """Train when needed."""
    from bot.training import ensure_model

    ensure_model(Path(args.models_dir), force=args.force)


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
    from crossdesk.paths import ROOT

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
    from bot.engine import configure_rasa_logging
    from bot.evaluation import main as evaluate

    configure_rasa_logging()
    evaluate(folds=args.folds, models_dir=Path(args.models_dir))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    _quiet_rasa()
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the model if training inputs changed")
    train.add_argument("--force", action="store_true", help="retrain even if up to date")
    parse = commands.add_parser("parse", help="stdin messages -> JSON lines")
    parse.add_argument("--model", help="model archive (default: current trained model)")
    check = commands.add_parser("check", help="report missing languages, thin intents, collisions, responses")
    check.add_argument("--skip-rasa", action="store_true", help="skip Rasa's own (slower) validation")
    evaluation = commands.add_parser("eval", help="per-language NLU evaluation -> reports/index.html")
    evaluation.add_argument("--folds", type=int, default=3)
    for command in (train, parse, evaluation):
        command.add_argument("--models-dir", default=str(MODELS_DIR),
                             help="where trained models live (default: var/models)")
    args = parser.parse_args(argv)
    {"train": cmd_train, "parse": cmd_parse, "check": cmd_check, "eval": cmd_eval}[args.command](args)


if __name__ == "__main__":
    main()

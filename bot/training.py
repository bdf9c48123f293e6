"""Train the Rasa model only when its inputs changed.

The fingerprint covers the NLU data, rules, domain, pipeline config and our
NLU components' code (with the word pattern in ``crossdesk/words.py``); responses
and store facts are read at run time and do not need a retrain.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

from crossdesk.paths import CONFIG_FILE as CONFIG, DOMAIN_FILE as DOMAIN, NLU_DIR, ROOT, RULES_FILE as RULES

MODEL_NAME = "crossdesk"


def training_inputs(nlu_dir: Path = NLU_DIR) -> list[Path]:
    """Every file whose content changes the trained model."""
    files = [CONFIG, DOMAIN, RULES, ROOT / "bot" / "components.py", ROOT / "bot" / "intent_classifier.py",
             ROOT / "crossdesk" / "words.py"]
    files += sorted(Path(nlu_dir).rglob("*.yml"))
    return [f for f in files if f.exists()]


def fingerprint(files: Iterable[Path]) -> str:
    """A hash of the files' paths and contents."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(models_dir: Path, digest: str) -> Path:
    """Where the model for a fingerprint lives."""
    return Path(models_dir) / f"{MODEL_NAME}-{digest}.tar.gz"


def ensure_model(models_dir: Path, nlu_dir: Path = NLU_DIR, force: bool = False) -> Path:
    """Return a model trained on the current inputs, training it if needed."""
    inputs = training_inputs(nlu_dir)
    digest = fingerprint(inputs)
    target = model_path(models_dir, digest)
    if target.exists() and not force:
        print(f"model up to date: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        return target
    nlu_files = [p for p in inputs if p.is_relative_to(nlu_dir)]
    print(f"training model on {len(nlu_files)} NLU files (inputs changed, fingerprint {digest})...",
          flush=True)
    started = time.perf_counter()
    train(target, [str(nlu_dir), str(RULES)])
    print(f"trained in {time.perf_counter() - started:.1f} s -> {target}", flush=True)
    for old in Path(models_dir).glob(f"{MODEL_NAME}-*.tar.gz"):
        if old != target:
            old.unlink()
    return target


def train(target: Path, training_files: list[str], config: Path = CONFIG) -> None:
    """Train with Rasa into ``target``."""
    from rasa.model_training import train as rasa_train

    from bot.engine import configure_rasa_logging

    configure_rasa_logging()

    target.parent.mkdir(parents=True, exist_ok=True)
    result = rasa_train(
        domain=str(DOMAIN),
        config=str(config),
        training_files=training_files,
        output=str(target.parent),
        fixed_model_name=target.name[: -len(".tar.gz")],
    )
    if result.code != 0 or not target.exists():
        sys.exit(f"training failed (code {result.code})")


def latest_model(models_dir: Path) -> Optional[Path]:
    """The newest trained model, if any."""
    models = sorted(Path(models_dir).glob(f"{MODEL_NAME}-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None

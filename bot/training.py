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
MODELS_KEPT = 5  # older models are deleted; the live one is always kept (CROSSDESK_MODELS_KEEP in the server)
LIVE_POINTER = "LIVE"


def training_inputs(nlu_dir: Path = NLU_DIR) -> list[Path]:
    """Every file whose content changes the trained model."""
    files = [CONFIG, DOMAIN, RULES, ROOT / "bot" / "components.py", ROOT / "bot" / "chat_spelling.py", ROOT / "bot" / "intent_classifier.py",
             ROOT / "bot" / "featurizers.py", ROOT / "bot" / "typos.py", ROOT / "crossdesk" / "words.py"]
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
    unpack_ahead(target)  # (before it is live: a running server that follows LIVE finds it unpacked)
    set_live_model(models_dir, target)
    prune(models_dir, keep=MODELS_KEPT, protect={target})
    return target


def unpack_ahead(model: Path) -> None:
    """Unpack a newly trained model beside its archive now (``crossdesk/unpacked_models.py``), so that no
    server start pays it: a model's first start took 5.1 s, later ones 3.8-4.6 s (quiet machine).

    A model that cannot be unpacked here is only reported: the server's load unpacks it (or says why not).
    """
    from crossdesk.unpacked_models import unpacked

    try:
        unpacked(Path(model))
    except Exception as error:  # (tarfile's errors are not OSErrors)
        print(f"warning: {Path(model).name} not unpacked ahead of the server's start: {error}", file=sys.stderr,
              flush=True)


def prune(models_dir: Path, keep: int, protect: Iterable[Optional[Path]] = ()) -> list[Path]:
    """Delete all but the ``keep`` newest models (never those in ``protect``); the deleted ones."""
    protected = {Path(p).resolve() for p in protect if p}
    models = sorted(Path(models_dir).glob(f"{MODEL_NAME}-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    deleted = [p for p in models[max(keep, 0):] if p.resolve() not in protected]
    for path in deleted:
        path.unlink(missing_ok=True)
    return deleted


def live_model(models_dir: Path) -> Optional[Path]:
    """The model made live by the studio or ``python -m handoff models activate`` (``LIVE`` names it)."""
    pointer = Path(models_dir) / LIVE_POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    path = Path(models_dir) / name
    return path if name and "/" not in name and path.exists() else None


def set_live_model(models_dir: Path, model: Path) -> None:
    """Make ``model`` (a file in ``models_dir``) the live one, for this and every later start."""
    pointer = Path(models_dir) / LIVE_POINTER
    temporary = pointer.with_suffix(".tmp")
    temporary.write_text(Path(model).name + "\n", encoding="utf-8")
    temporary.replace(pointer)  # atomic: a reader never sees half a name


def content_inputs(content_dir: Path) -> list[Path]:
    """The training inputs under a content directory (the code's inputs come from this checkout)."""
    content = Path(content_dir)
    files = [content / "config.yml", content / "bot" / "domain.yml", content / "data" / "rules.yml"]
    files += [ROOT / "bot" / name for name in ("components.py", "intent_classifier.py", "featurizers.py")]
    files += sorted((content / "data" / "nlu").rglob("*.yml"))
    return [f for f in files if f.exists()]


def content_fingerprint(content_dir: Path) -> str:
    """A hash of the content's training inputs (paths relative to their root, and contents)."""
    digest = hashlib.sha256()
    for path in content_inputs(content_dir):
        base = Path(content_dir) if path.is_relative_to(content_dir) else ROOT
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train_content(content_dir: Path, target: Path) -> None:
    """Train on a content directory's ``data/nlu``, ``data/rules.yml``, ``bot/domain.yml``, ``config.yml``."""
    content = Path(content_dir)
    train(target, [str(content / "data" / "nlu"), str(content / "data" / "rules.yml")],
          config=content / "config.yml", domain=content / "bot" / "domain.yml")


def train(target: Path, training_files: list[str], config: Path = CONFIG, domain: Path = DOMAIN) -> None:
    """Train with Rasa into ``target``."""
    from rasa.model_training import train as rasa_train

    from crossdesk import compat
    from bot.engine import configure_rasa_logging

    configure_rasa_logging()
    compat.tune_rasa_training()

    target.parent.mkdir(parents=True, exist_ok=True)
    result = rasa_train(
        domain=str(domain),
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

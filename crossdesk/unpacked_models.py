"""Unpacked model archives kept on disk beside the archive, so a start does not unpack 39 MB again.

A model archive (``crossdesk-<hash>.tar.gz``) unpacks to ``.unpacked/<name>-<size>-<mtime_ns>/`` in its
folder. The directory is filled under a temporary name, its manifest (every file and its size) written
last, and renamed into place in one step: a crash while unpacking leaves only a temporary directory
(removed later) and never a directory under the final name. A directory whose manifest is missing or
does not match the files (damaged, half deleted) is removed and unpacked again. The key changes when the
archive is rewritten (size or modification time), and entries of archives that are gone are pruned.

(Measured on ``python -m handoff serve``: unpacking was ~15 % of the CPU from start to first reply.)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from crossdesk.paths import ROOT

logger = logging.getLogger(__name__)

CACHE_DIR = ".unpacked"
MANIFEST = "crossdesk-manifest.json"
ARCHIVE_SUFFIX = ".tar.gz"
TEMPORARY_PREFIX = ".partial-"
STALE_TEMPORARY_SECONDS = 600.0
"""A temporary directory older than this is a crashed unpack (a live one takes seconds)."""


def entry_name(archive: Path) -> str:
    """The cache key of an archive: its name without ``.tar.gz``, size and modification time."""
    stat = archive.stat()
    stem = archive.name[:-len(ARCHIVE_SUFFIX)] if archive.name.endswith(ARCHIVE_SUFFIX) else archive.name
    return f"{stem}-{stat.st_size}-{stat.st_mtime_ns}"


def _manifest_of(directory: Path) -> dict:
    """Every file below ``directory`` (relative POSIX path) and its size in bytes, the manifest excluded."""
    files = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(directory).as_posix()
            if relative != MANIFEST:
                files[relative] = path.stat().st_size
    return files


def is_complete(directory: Path) -> bool:
    """True if ``directory`` holds its manifest and exactly the files and sizes it lists."""
    try:
        expected = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["files"]
        return _manifest_of(directory) == expected
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _remove(directory: Path) -> None:
    """Delete a directory, first moving it out of its name so no reader finds it half deleted."""
    doomed = directory.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}")
    try:
        directory.rename(doomed)
    except OSError:
        doomed = directory
    shutil.rmtree(doomed, ignore_errors=True)


def extract(archive: Path, target: Path) -> None:
    """Unpack a model archive as Rasa does (``TarSafe``: no member outside ``target``), without importing Rasa."""
    from tarsafe import TarSafe

    with TarSafe.open(archive, mode="r:gz") as tar:
        tar.extractall(target)


def unpacked(archive: Path, unpack: Callable[[Path, Path], None] = extract) -> Path:
    """The directory holding ``archive`` unpacked, unpacking it with ``unpack(archive, target)`` if needed.

    Raises ``OSError`` if the archive's folder is not writable (the caller unpacks elsewhere).
    """
    archive = Path(archive)
    _wait_for_background_unpack(archive)
    cache = archive.parent / CACHE_DIR
    entry = cache / entry_name(archive)
    if entry.is_dir():
        if is_complete(entry):
            return entry
        logger.warning("unpacked model %s is damaged or incomplete: unpacking it again", entry)
        _remove(entry)
    cache.mkdir(exist_ok=True)
    temporary = cache / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    temporary.mkdir()
    try:
        unpack(archive, temporary)
        manifest = temporary / MANIFEST
        manifest.write_text(json.dumps({"archive": archive.name, "files": _manifest_of(temporary)}), encoding="utf-8")
        _fsync(manifest)
        try:
            temporary.rename(entry)  # atomic: the entry appears whole or not at all
        except OSError:
            if not is_complete(entry):  # (another process unpacked the same archive meanwhile: use theirs)
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    prune(archive.parent)
    return entry


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def prune(models_dir: Path, now: Optional[float] = None) -> list[Path]:
    """Remove unpacked entries whose archive is gone or was rewritten, and crashed unpacks; the removed ones."""
    cache = Path(models_dir) / CACHE_DIR
    if not cache.is_dir():
        return []
    now = time.time() if now is None else now
    wanted = set()
    for archive in Path(models_dir).glob(f"*{ARCHIVE_SUFFIX}"):
        try:
            wanted.add(entry_name(archive))
        except OSError:  # (deleted meanwhile)
            pass
    removed = []
    for path in cache.iterdir():
        try:
            if path.name.startswith(TEMPORARY_PREFIX):
                if now - path.stat().st_mtime < STALE_TEMPORARY_SECONDS:
                    continue  # maybe another process unpacking right now
            elif path.name in wanted:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed



_background: dict = {}  # resolved archive path -> the process unpacking it for this one
_background_lock = threading.Lock()


def unpack_in_background(archive: Path) -> Optional[subprocess.Popen]:
    """Start unpacking ``archive`` in a child process unless it is kept already; the process, or None.

    A later :func:`unpacked` of the same archive in this process waits for it instead of unpacking a second
    copy. The server starts it before its imports, so the unpack runs on the other core beside them (in a
    thread it got the GIL back only every switch interval: 1.5 s alone, 2.1 s beside pure Python work that
    took 0.8 s). If the child fails, the load unpacks for itself (or says why it cannot).
    """
    archive = Path(archive).resolve()
    try:
        if is_complete(archive.parent / CACHE_DIR / entry_name(archive)):
            return None
    except OSError:  # (no such archive: the load says so)
        return None
    with _background_lock:
        process = _background.get(archive)
        if process is None or process.poll() is not None:
            process = _background[archive] = subprocess.Popen(
                [sys.executable, "-m", "crossdesk.unpacked_models", str(archive)], cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL)
    return process


def _wait_for_background_unpack(archive: Path) -> None:
    """Wait for a background unpack of ``archive`` started by this process."""
    if not _background:
        return
    with _background_lock:
        process = _background.get(archive.resolve())
    if process is not None:
        process.wait()


def main(argv: list[str]) -> int:
    """``python -m crossdesk.unpacked_models ARCHIVE``: unpack it beside itself (what a server's background unpack runs)."""
    try:
        unpacked(Path(argv[0]))
    except Exception as error:  # (tarfile's errors are not OSErrors)
        print(f"warning: model {argv[0]} not unpacked in the background: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

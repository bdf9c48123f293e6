"""Commits of studio edits, authored by the staff member who made them.

Blocking (``git`` subprocesses): callers run these off the event loop.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Optional

_GIT_LOCK = threading.Lock()  # one commit at a time: git's index lock is per repository
GIT_TIMEOUT = 30


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                          timeout=GIT_TIMEOUT)


def is_work_tree(directory: Path) -> bool:
    """Whether ``directory`` is inside a git work tree."""
    try:
        done = _git(directory, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def author_email(username: str) -> str:
    """The e-mail a staff member's commits carry (accounts have no e-mail address)."""
    return f"{username}@studio.crossdesk.invalid"


def commit_file(directory: Path, path: Path, message: str, name: str, username: str) -> Optional[str]:
    """Commit only ``path`` (other changes in the tree stay as they are); its hash, None if nothing changed.

    Raises RuntimeError when git refuses.
    """
    relative = str(Path(path).resolve().relative_to(Path(directory).resolve()))
    identity = ("-c", f"user.name={name}", "-c", f"user.email={author_email(username)}")
    with _GIT_LOCK:
        added = _git(directory, "add", "--", relative)
        if added.returncode != 0:
            raise RuntimeError(f"git add failed: {added.stderr.strip()}")
        if _git(directory, "diff", "--cached", "--quiet", "--", relative).returncode == 0:
            return None
        done = _git(directory, *identity, "commit", "--no-verify", "-q", "-m", message, "--", relative)
        if done.returncode != 0:
            raise RuntimeError(f"git commit failed: {done.stderr.strip() or done.stdout.strip()}")
        return _git(directory, "rev-parse", "HEAD").stdout.strip()

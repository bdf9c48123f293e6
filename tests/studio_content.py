"""A copy of the repository's content (NLU data, answers, store facts) for studio tests, optionally a git repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT

CONTENT_FOLDERS = ("data/nlu", "bot/responses", "data/store")


def copy_content(target: Path, git: bool = False) -> Path:
    """Copy the content folders under ``target`` (never edit the repository's own files)."""
    for folder in CONTENT_FOLDERS:
        shutil.copytree(ROOT / folder, target / folder)
    if git:
        for args in (["init", "-q"], ["add", "-A"],
                     ["-c", "user.name=Setup", "-c", "user.email=setup@example.invalid", "commit", "-q", "-m", "content"]):
            subprocess.run(["git", "-C", str(target), *args], check=True, capture_output=True)
    return target


def git(target: Path, *args: str) -> str:
    """A git command's output in the content copy."""
    return subprocess.run(["git", "-C", str(target), *args], check=True, capture_output=True, text=True).stdout

"""The setup script finds Python 3.10 or explains how to get it."""

import os
import subprocess
from pathlib import Path

from tests.support import ROOT

SCRIPT = ROOT / "scripts" / "find-python310"


def run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)


def test_finds_a_working_python310(tmp_path):
    found = run(dict(os.environ)).stdout.strip()
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("Python 3.10")


def test_a_broken_shim_is_skipped_and_absence_is_explained(tmp_path):
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.10"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    # No pyenv root, no real python3.10 anywhere this environment can see.
    result = run({"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYENV_ROOT": str(tmp_path)})
    assert str(shim) not in result.stdout
    if Path("/usr/bin/python3.10").exists() or Path("/usr/local/bin/python3.10").exists():
        return  # this machine has a system Python 3.10, which is then rightly found
    assert result.returncode == 1
    assert "needs Python 3.10" in result.stderr and "pyenv install 3.10" in result.stderr

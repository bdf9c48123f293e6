"""Cold start (issue #21), session 11: a start reads our modules' bytecode instead of compiling their sources.

With ``PYTHONDONTWRITEBYTECODE`` set (as the Makefile and many container images set it) Python never wrote
``__pycache__`` for handoff, bot, crossdesk and actions, so every start compiled them (0.1-0.3 s of CPU).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from handoff.bytecode import PACKAGES, refresh, refresh_in_child
from harness.processes import ServerProcess
from tests.support import ROOT

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONDONTWRITEBYTECODE": "1"}


def _tree(root: Path) -> Path:
    for name in PACKAGES:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
    module = root / "handoff" / "greeting.py"
    module.write_text("TEXT = 'hello'\n")
    return module


def _loaded_from_bytecode(root: Path, module: str) -> tuple[bool, str]:
    """Import ``module`` in a new interpreter that may not write bytecode: (read from a .pyc?, its TEXT)."""
    done = subprocess.run([sys.executable, "-v", "-c", f"import {module} as m; print(m.TEXT)"], cwd=root, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    pyc = importlib.util.cache_from_source(str(root / Path(*module.split(".")).with_suffix(".py")))
    return f"code object from '{pyc}'" in done.stderr, done.stdout.strip()


def test_the_refresh_writes_missing_and_stale_bytecode_that_a_later_start_reads(tmp_path):
    module = _tree(tmp_path)
    assert _loaded_from_bytecode(tmp_path, "handoff.greeting") == (False, "hello")  # (what every start did)
    assert asyncio.run(refresh_in_child(tmp_path))
    assert _loaded_from_bytecode(tmp_path, "handoff.greeting") == (True, "hello")
    module.write_text("TEXT = 'hello again'\n")  # an edit (git pull): the bytecode is stale, never used stale
    os.utime(module, ns=(time.time_ns(), module.stat().st_mtime_ns + 2_000_000_000))
    assert _loaded_from_bytecode(tmp_path, "handoff.greeting") == (False, "hello again")
    assert refresh(tmp_path)  # (the supervisor's way, in-process)
    assert _loaded_from_bytecode(tmp_path, "handoff.greeting") == (True, "hello again")


def test_a_server_writes_its_stale_bytecode_after_its_model_is_loaded(model_path, tmp_path):
    """The real server, not allowed to write bytecode by the environment: its next start reads this module's."""
    pyc = Path(importlib.util.cache_from_source(str(ROOT / "handoff" / "bytecode.py")))
    pyc.unlink(missing_ok=True)
    server = ServerProcess(tmp_path / "var", model_path, env={"PYTHONDONTWRITEBYTECODE": "1"}).start()
    try:
        deadline = time.monotonic() + 90
        while not pyc.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        server.stop()
    assert pyc.exists()
    done = subprocess.run([sys.executable, "-v", "-c", "import handoff.bytecode"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert f"code object from '{pyc}'" in done.stderr

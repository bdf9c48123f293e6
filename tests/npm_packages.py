"""Files of the npm packages the browser tests load into Chromium (``scripts/ensure-npm-packages``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT

NODE_MODULES = ROOT / "tests" / "js" / "node_modules"


def npm_file(relative: str) -> Path:
    """A file under ``tests/js/node_modules`` (e.g. ``axe-core/axe.min.js``)."""
    return NODE_MODULES / relative


def needs_npm_file(relative: str):
    """Skip unless ``scripts/ensure-npm-packages`` installed the file."""
    return pytest.mark.skipif(not npm_file(relative).is_file(),
                              reason=f"{relative} not installed: run scripts/ensure-npm-packages (needs npm)")


RASA_WEBCHAT = "rasa-webchat/lib/index.js"  # rasa-webchat 1.0.1's browser bundle (global WebChat)
AXE = "axe-core/axe.min.js"

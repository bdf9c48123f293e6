"""Round-trip YAML: content files are rewritten keeping their layout, quotes and comments.

With these settings every content file in the repository (NLU data, responses,
store facts) loads and dumps back byte for byte, so a saved edit's ``git diff``
shows only the lines that changed (tests/test_studio_content.py checks both).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long answer
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def load(path: Path) -> Any:
    """The file's data (round-trip types: comments and styles attached)."""
    with open(path, encoding="utf-8") as handle:
        return _yaml().load(handle)


def dumps(data: Any) -> str:
    """The data as YAML text in the files' layout."""
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def write(path: Path, data: Any) -> None:
    """Replace the file atomically (a reader never sees half a file)."""
    text = dumps(data)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def examples_of(block: Any) -> list[str]:
    """The examples of an NLU block (``- text`` lines), as ``bot/datacheck.py`` reads them."""
    return [line.strip()[2:].strip() for line in str(block or "").splitlines() if line.strip().startswith("- ")]


def examples_block(examples: list[str]) -> LiteralScalarString:
    """An NLU ``examples: |`` block for these examples."""
    return LiteralScalarString("".join(f"- {example}\n" for example in examples))

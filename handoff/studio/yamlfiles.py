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

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

# Reading for lookups (which file holds an intent, is an example taken) uses libyaml and a cache
# per file version: a round-trip load of one NLU file took ~200 ms here under load, and an added
# example looked through 6-12 files (2.2 s per change before, measured in docs/studio.md).
_FAST_LOADER = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
_cache: dict[Path, tuple[tuple[int, int, int], Any]] = {}


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


def read_fast(path: Path) -> Any:
    """The file's data as plain Python (libyaml), cached until the file changes; do not modify it."""
    path = Path(path)
    stat = path.stat()
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # (write() replaces the file: a new inode)
    known = _cache.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    with open(path, encoding="utf-8") as handle:
        data = pyyaml.load(handle, Loader=_FAST_LOADER)
    _cache[path] = (stamp, data)
    return data


def nlu_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """``(intent, examples)`` of each intent block of an NLU file."""
    return [(item["intent"], examples_of(item.get("examples")))
            for item in (read_fast(path) or {}).get("nlu") or [] if isinstance(item, dict) and "intent" in item]


def domain_intents(path: Path) -> list[str]:
    """The intents a domain file declares."""
    return list((read_fast(path) or {}).get("intents") or [])

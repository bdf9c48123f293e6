"""Content files the studio edits: NLU examples, answers and store facts under the content folder.

Every write is a read-modify-write of one file under that file's lock (a
thread lock here plus an ``flock`` for other processes), re-reading the file
after taking it, so two staff saving the same file at once both keep their
change. Each change is validated before anything is written (``ContentError``:
nothing changed), recorded in ``content_changes`` with who and when, and, when
the content folder is a git work tree, committed as that staff member.
Blocking: callers run these methods off the event loop.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import string
import subprocess
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import select

from bot import datacheck
from bot.language import AUTHORED
from handoff.store.sql import content_changes
from handoff.studio import facts_schema, yamlfiles
from handoff.studio.git import commit_file, is_work_tree

logger = logging.getLogger(__name__)
MAX_EXAMPLE_CHARS = 300
MAX_ANSWER_CHARS = 2000


class ContentError(ValueError):
    """A change refused before anything was written: ``code`` and a message for staff."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Editor:
    """Who makes a change."""

    id: Optional[int]
    username: str
    display_name: str


class ContentFiles:
    """The content folder's files and the record of changes to them.

    Args:
        root: the content folder (``data/nlu``, ``bot/responses``, ``data/store`` under it).
        engine: the store's SQLAlchemy engine (``content_changes``).
        lock_dir: where the cross-process lock files live (outside the content folder).
        domain: the domain file whose intents examples may belong to.
        responses_dir: the answers (``CROSSDESK_RESPONSES_DIR``), default ``bot/responses`` under ``root``.
    """

    def __init__(self, root: Path, engine, lock_dir: Path, domain: Path = datacheck.DOMAIN,
                 responses_dir: Optional[Path] = None):
        self.root = Path(root)
        self._responses_dir = Path(responses_dir) if responses_dir else self.root / "bot" / "responses"
        self.engine = engine
        self.lock_dir = Path(lock_dir)
        self.domain = self.root / "bot" / "domain.yml" if (self.root / "bot" / "domain.yml").exists() else domain
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._git: Optional[bool] = None

    # -- paths -------------------------------------------------------------------
    @property
    def nlu_dir(self) -> Path:
        return self.root / "data" / "nlu"

    @property
    def responses_dir(self) -> Path:
        return self._responses_dir

    @property
    def store_dir(self) -> Path:
        return self.root / "data" / "store"

    def relative(self, path: Path) -> str:
        path = Path(path)
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    @property
    def uses_git(self) -> bool:
        """Whether changes are committed (the content folder is a git work tree)."""
        if self._git is None:
            self._git = is_work_tree(self.root)
        return self._git

    # -- examples -----------------------------------------------------------------
    def intents(self) -> list[str]:
        """Intent names examples may belong to (the domain's)."""
        return yamlfiles.domain_intents(self.domain)

    def _blocks(self, language: str) -> list[tuple[Path, str, list[str]]]:
        """``(file, intent, examples)`` of every NLU block of a language, read fast (not round-trip)."""
        return [(path, intent, examples) for path in sorted((self.nlu_dir / language).glob("*.yml"))
                for intent, examples in yamlfiles.nlu_blocks(path)]

    def examples(self, intent: str, language: str, query: Optional[str] = None) -> list[dict]:
        """``[{text, file}]`` of one intent in one language (those containing ``query``)."""
        self._check_intent(intent)
        self._check_language(language)
        found = [{"text": text, "file": self.relative(path)}
                 for path, name, texts in self._blocks(language) if name == intent for text in texts]
        if query:
            found = [e for e in found if query.casefold() in e["text"].casefold()]
        return found

    def check_new_example(self, intent: str, language: str, text: Any) -> None:
        """Raise the ContentError ``add_example(..., allow_repeat=True)`` would raise, writing nothing."""
        text = self._check_example(intent, language, text)
        owner = self._owner(language, text)
        if owner and owner != intent:
            raise ContentError("example_collision", f"'{text}' is already an example of {owner}")
        self._home_file(intent, language)

    def add_example(self, who: Editor, intent: str, language: str, text: str, allow_repeat: bool = False) -> dict:
        """Add ``text`` as an example of ``intent`` in its topic file."""
        text = self._check_example(intent, language, text)
        path = self._home_file(intent, language)

        def change(data: Any) -> None:
            owner = self._owner(language, text)
            if owner and owner != intent:
                raise ContentError("example_collision", f"'{text}' is already an example of {owner}")
            if owner == intent:
                if allow_repeat:
                    raise _Unchanged()
                raise ContentError("duplicate_example", f"'{text}' is already an example of {intent}")
            item = _intent_item(data, intent)
            item["examples"] = yamlfiles.examples_block(yamlfiles.examples_of(item.get("examples")) + [text])

        return self._change(who, "example", path, change, f"add example of {intent} ({language}): {text}")

    def edit_example(self, who: Editor, intent: str, language: str, old: str, text: str) -> dict:
        """Replace the example ``old`` of ``intent`` by ``text`` (same place in its file)."""
        text = self._check_example(intent, language, text)
        path = self._file_with(intent, language, old)

        def change(data: Any) -> None:
            owner = self._owner(language, text)
            if owner and owner != intent:
                raise ContentError("example_collision", f"'{text}' is already an example of {owner}")
            item = _intent_item(data, intent, create=False)
            examples = yamlfiles.examples_of(item.get("examples") if item else None)
            if old not in examples:
                raise ContentError("not_found", f"'{old}' is not an example of {intent} any more")
            if text != old and text in examples:
                raise ContentError("duplicate_example", f"'{text}' is already an example of {intent}")
            examples[examples.index(old)] = text
            item["examples"] = yamlfiles.examples_block(examples)

        return self._change(who, "example", path, change, f"edit example of {intent} ({language}): {old} -> {text}")

    def delete_example(self, who: Editor, intent: str, language: str, text: str) -> dict:
        """Remove the example ``text`` of ``intent``."""
        self._check_intent(intent)
        self._check_language(language)
        path = self._file_with(intent, language, text)

        def change(data: Any) -> None:
            item = _intent_item(data, intent, create=False)
            examples = yamlfiles.examples_of(item.get("examples") if item else None)
            if text not in examples:
                raise ContentError("not_found", f"'{text}' is not an example of {intent} any more")
            examples.remove(text)
            if not examples:
                raise ContentError("last_example", f"{intent} needs at least one example in {language}")
            item["examples"] = yamlfiles.examples_block(examples)

        return self._change(who, "example", path, change, f"delete example of {intent} ({language}): {text}")

    def _check_intent(self, intent: str) -> None:
        if not isinstance(intent, str) or intent not in self.intents():
            raise ContentError("unknown_intent", f"no intent called {intent!r}")

    @staticmethod
    def _check_language(language: str) -> None:
        if language not in AUTHORED:
            raise ContentError("unknown_language", f"language must be one of {', '.join(AUTHORED)}")

    def _check_example(self, intent: str, language: str, text: Any) -> str:
        self._check_intent(intent)
        self._check_language(language)
        if not isinstance(text, str) or not text.strip():
            raise ContentError("empty_example", "an example needs some text")
        text = text.strip()
        if len(text.splitlines()) != 1:
            raise ContentError("invalid_example", "an example is one line")
        _check_printable(text, "invalid_example")
        if len(text) > MAX_EXAMPLE_CHARS:
            raise ContentError("invalid_example", f"an example has at most {MAX_EXAMPLE_CHARS} characters")
        return text

    def _owner(self, language: str, text: str) -> Optional[str]:
        """The intent ``text`` is already an example of (compared as ``make check`` does), if any."""
        key = text.casefold()
        for _, intent, examples in self._blocks(language):
            if any(example.casefold() == key for example in examples):
                return intent
        return None

    def _home_file(self, intent: str, language: str) -> Path:
        """The topic file new examples of ``intent`` go to: where most of them are (in this language, else in en)."""
        for lang in (language, "en"):
            counts: dict[str, int] = {}
            for path, name, texts in self._blocks(lang):
                if name == intent:
                    counts[path.name] = counts.get(path.name, 0) + len(texts)
            if counts:
                name = max(counts, key=lambda n: (counts[n], -sorted(counts).index(n)))
                path = self.nlu_dir / language / name
                if path.exists():
                    return path
        raise ContentError("no_topic_file", f"no topic file for {intent} in data/nlu/{language}/")

    def _file_with(self, intent: str, language: str, text: str) -> Path:
        for example in self.examples(intent, language):
            if example["text"] == text:
                return self.root / example["file"]
        raise ContentError("not_found", f"'{text}' is not an example of {intent} in {language}")

    # -- answers --------------------------------------------------------------------
    def responses(self, language: str) -> dict:
        """``{name: [variation, ...]}`` of one language (plain data)."""
        path = self.responses_dir / f"{language}.yml"
        if not path.exists():
            return {}
        return _plain((yamlfiles.read_fast(path) or {}).get("responses") or {})

    def set_answer(self, who: Editor, language: str, name: str, index: int, text: Any) -> dict:
        """Replace the text of variation ``index`` of response ``name`` in ``language``."""
        self._check_language(language)
        english = self.responses("en")
        if not isinstance(name, str) or name not in english:
            raise ContentError("unknown_answer", f"no answer called {name!r}")
        if not isinstance(text, str) or not text.strip():
            raise ContentError("empty_answer", "an answer needs some text")
        if len(text) > MAX_ANSWER_CHARS:
            raise ContentError("invalid_answer", f"an answer has at most {MAX_ANSWER_CHARS} characters")
        _check_printable(text.replace("\n", ""), "invalid_answer")
        expected = datacheck._placeholders(english[name])
        used = placeholder_names(text)
        unknown = used - expected
        if unknown:
            raise ContentError("unknown_placeholder", f"{{{sorted(unknown)[0]}}} is not a value this answer has; "
                                                      f"it can use {', '.join('{' + n + '}' for n in sorted(expected)) or 'none'}")
        path = self.responses_dir / f"{language}.yml"

        def change(data: Any) -> None:
            from ruamel.yaml.comments import CommentedMap, CommentedSeq
            from ruamel.yaml.scalarstring import DoubleQuotedScalarString

            responses = (data or {}).get("responses")
            if responses is None:
                raise ContentError("unknown_answer", f"{self.relative(path)} has no responses")
            variations = responses.get(name)
            count = len(variations or [])
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= count:
                raise ContentError("invalid_index", f"{name} has {count} variation(s) in {language}")
            if index == count:  # a new variation (or the first text of an answer missing in this language)
                if variations is None:
                    variations = responses[name] = CommentedSeq()
                variations.append(CommentedMap([("text", DoubleQuotedScalarString(text))]))
            else:
                old = variations[index].get("text")
                variations[index]["text"] = type(old)(text) if isinstance(old, str) and type(old) is not str else text
            missing = expected - datacheck._placeholders(_plain(variations))
            if missing:
                raise ContentError("missing_placeholder", f"the answer must still use {{{sorted(missing)[0]}}}")

        return self._change(who, "answer", path, change, f"edit answer {name} ({language}) #{index}")

    # -- store facts -------------------------------------------------------------------
    def facts(self) -> dict:
        """``{"destinations": ..., "policies": ...}`` as plain data."""
        return {name: _plain(yamlfiles.read_fast(self.store_dir / f"{name}.yml") or {})
                for name in facts_schema.FILES if (self.store_dir / f"{name}.yml").exists()}

    def set_fact(self, who: Editor, file: str, path: list, value: Any) -> dict:
        """Set one store fact (``path`` inside ``data/store/<file>.yml``) after validating it."""
        value = facts_schema.validate(file, path, value)
        target = self.store_dir / f"{file}.yml"

        def change(data: Any) -> None:
            facts_schema.assign(data, path, value)
            facts_schema.check_file(file, _plain(data))

        return self._change(who, "fact", target, change, f"set {file}: {'.'.join(map(str, path))}")

    # -- the write path ----------------------------------------------------------------
    @contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(path.resolve(), threading.Lock())
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16] + ".lock"
        with lock, open(self.lock_dir / name, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # other server processes editing the same file
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _change(self, who: Editor, kind: str, path: Path, mutate: Callable[[Any], None], summary: str) -> dict:
        if not path.exists():
            raise ContentError("not_found", f"{self.relative(path)} does not exist")
        with self._lock(path):
            data = yamlfiles.load(path)  # re-read under the lock: a change saved meanwhile is kept
            try:
                mutate(data)
            except _Unchanged:
                return {"path": self.relative(path), "commit": None, "summary": summary, "changed": False}
            yamlfiles.write(path, data)
            commit = None
            if self.uses_git and path.resolve().is_relative_to(self.root.resolve()):
                try:
                    commit = commit_file(self.root, path, f"studio: {summary}", who.display_name, who.username)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:  # the change itself is saved
                    logger.warning("studio: %s saved but not committed: %s", self.relative(path), error)
            now = time.time()
            with self.engine.begin() as conn:
                conn.execute(content_changes.insert().values(
                    agent_id=who.id, username=who.username, kind=kind, path=self.relative(path),
                    summary=summary, commit=commit, created_at=now))
        return {"path": self.relative(path), "commit": commit, "summary": summary, "changed": True, "at": now}

    def changes(self, limit: int = 50) -> list[dict]:
        """The latest changes, newest first."""
        query = select(content_changes).order_by(content_changes.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _check_printable(text: str, code: str) -> None:
    """Refuse control characters (YAML cannot hold some of them; none belongs in shopper-facing text)."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise ContentError(code, "the text contains control characters")


class _Unchanged(Exception):
    """The change is already there (e.g. the same inbox message added twice)."""


def placeholder_names(text: str) -> set[str]:
    """The ``{names}`` in an answer (ContentError for a broken one, like ``{days`` or ``{}``)."""
    try:
        names = [name for _, name, spec, conversion in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        raise ContentError("broken_placeholder", f"a placeholder is broken ({error}); write it as {{name}}")
    for name in names:
        if not name.isidentifier():
            raise ContentError("broken_placeholder", f"{{{name}}} is not a placeholder name; write it as {{name}}")
    return set(names)


def _intent_item(data: Any, intent: str, create: bool = True):
    from ruamel.yaml.comments import CommentedMap

    items = data.setdefault("nlu", []) if create else (data or {}).get("nlu") or []
    for item in items:
        if item.get("intent") == intent:
            return item
    if not create:
        return None
    item = CommentedMap([("intent", intent), ("examples", yamlfiles.examples_block([]))])
    items.append(item)
    return item


def _plain(value: Any) -> Any:
    """Round-trip YAML data as plain dicts, lists and scalars (JSON-ready)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)

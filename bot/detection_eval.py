"""Language detection benchmarks for ``make eval`` and ``python -m bot eval --detection``.

Three measurements besides the short-message files (``data/eval/language_detection*.tsv``):

- *Chinese script*: zh-TW vs zh-CN on Han-only messages of 2-8 characters
  (``data/eval/zh_script_{dev,test}.tsv``), scored on the text alone, with the shopper's
  browser locale, and after the conversation's earlier message (the previous line of the same
  variety, as a shopper's second message).
- *lingua's public test data* (``data/eval/lingua/``): single words and word pairs, dev and
  test halves, against lingua's published high-accuracy figures (in each file's header).
- For each, seeded plain langdetect as the baseline, and how often Crossdesk answered a
  language it does not serve (not in ``crossdesk.languages.KNOWN``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from bot.language import choose_language, detect
from crossdesk.languages import KNOWN
from crossdesk.paths import EVAL_DIR

ZH_SCRIPT_FILES = {"dev": EVAL_DIR / "zh_script_dev.tsv", "test": EVAL_DIR / "zh_script_test.tsv"}
LINGUA_DIR = EVAL_DIR / "lingua"
_LOCALES = {"zh-TW": "zh-TW", "zh-CN": "zh-CN"}
_PUBLISHED = re.compile(r"single words (\d+)%, word pairs (\d+)%")


def _rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, text = line.split("\t", 1)
            rows.append((expected, text.strip()))
    return rows


def score_zh_script(rows: list[tuple[str, str]]) -> dict:
    """zh-TW/zh-CN accuracy on the text alone, with the browser locale, and after an earlier message."""
    alone = with_locale = with_context = 0
    earlier: dict[str, Optional[str]] = {}
    misses = []
    for expected, text in rows:
        got = getattr(detect(text), "language", None)
        alone += got == expected
        if got != expected:
            misses.append({"expected": expected, "text": text, "got": got})
        with_locale += choose_language(text, None, _LOCALES[expected])[0] == expected
        previous = earlier.get(expected)
        if previous is None:  # the first message of a variety: its own first message, no context
            language = choose_language(text)[0]
        else:
            language = choose_language(text, choose_language(previous)[0])[0]
        with_context += language == expected
        earlier[expected] = text
    n = len(rows)
    return {"messages": n, "text_alone": round(alone / n, 3), "with_locale": round(with_locale / n, 3),
            "with_earlier_message": round(with_context / n, 3), "misses": misses}


def zh_script_scores() -> dict[str, dict]:
    """Both zh script files (dev: tuned on; test: held out)."""
    return {name: score_zh_script(_rows(path)) for name, path in ZH_SCRIPT_FILES.items() if path.exists()}


def _plain_langdetect(text: str) -> Optional[str]:
    from bot.evaluation import plain_langdetect

    return plain_langdetect(text)


def published_figures(path: Path) -> Optional[tuple[int, int]]:
    """lingua's published (single words, word pairs) accuracy from a sample file's header."""
    found = _PUBLISHED.search(path.read_text(encoding="utf-8")[:2000])
    return (int(found.group(1)), int(found.group(2))) if found else None


def score_lingua_file(path: Path, language: str, baseline: bool = True) -> dict:
    """Accuracy of Crossdesk (and of plain langdetect, with ``baseline``) on one lingua sample file."""
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    ours = [getattr(detect(text), "language", None) for text in texts]
    n = len(texts)
    plain = sum(_plain_langdetect(t) == language for t in texts) if baseline else None
    wrong: dict[str, int] = {}
    for got in ours:
        if got != language:
            wrong[str(got)] = wrong.get(str(got), 0) + 1
    return {
        "lines": n,
        "crossdesk": round(sum(g == language for g in ours) / n, 3),
        "langdetect": None if plain is None else round(plain / n, 3),
        "not_served": round(sum(g is not None and g not in KNOWN for g in ours) / n, 3),
        "top_wrong": dict(sorted(wrong.items(), key=lambda kv: -kv[1])[:4]),
    }


def lingua_scores(lingua_dir: Path = LINGUA_DIR) -> dict[str, dict]:
    """``kind/lang/split`` -> scores, with lingua's published figure for that kind."""
    scores = {}
    for path in sorted(lingua_dir.glob("*/*.txt")):
        kind = path.parent.name
        language, split = path.name.split(".")[:2]
        scored = score_lingua_file(path, language)
        published = published_figures(path)
        if published:
            scored["lingua_published"] = published[1 if kind == "word-pairs" else 0] / 100
        scores[f"{kind}/{language}/{split}"] = scored
    return scores


def detection_summary() -> dict:
    """Every detection figure: the short-message files, Chinese script, lingua's data."""
    from bot.evaluation import detection_scores

    short = {name: {k: v for k, v in s.items() if k != "misses"} for name, s in detection_scores().items()}
    zh = {name: {k: v for k, v in s.items() if k != "misses"} for name, s in zh_script_scores().items()}
    return {"short_messages": short, "zh_script": zh, "lingua": lingua_scores()}

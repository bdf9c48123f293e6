"""Word frequencies per Latin-script language: which served language makes a short message most likely.

langdetect's character n-grams need more text than a shopper's two words: on lingua's public
word pairs (``data/eval/lingua``, dev half) it was right for 57% of English, 50% of Spanish and
55% of Portuguese pairs. Real words are better evidence: how often each word occurs in each
language (``wordfreq``'s "small" lists: web text, Wikipedia, subtitles, Twitter; every word with a
frequency of at least 1 per million) gave 98%, 92% and 80% on the same pairs.

The model is naive Bayes over the message's words: each language's log-frequency of every word
that any list knows (a word a language's list lacks counts as rarer than any word it has), plus a
prior for the authored languages. Words no list knows carry no evidence; a message made only of
them gets no vote. The lists take ~48 MB and ~2-4 s to load (once per process, in ``warm_up``).
"""

from __future__ import annotations

import math
import threading
from typing import Iterable, Optional

LANGUAGES = (
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl",
    "cs", "tr", "id", "vi", "ro", "hu",
)
"""The served Latin-script languages (``crossdesk.languages.KNOWN``) the model scores."""
_WORDFREQ_CODES = {"no": "nb"}  # wordfreq lists Norwegian as Bokmål
_MISSING = 200
"""Score (zipf x 100, i.e. 1 in 10 million) of a word a language's list lacks: below any listed word (>= 300)."""
_LEVELS = tuple(range(1000))  # one shared int object per level, not one per word (~20 MB less)


class WordFrequencies:
    """Per-language word frequencies (zipf x 100, 300-900) for the served Latin-script languages."""

    def __init__(self, tables: dict[str, dict[str, int]]):
        self._tables = tables

    @classmethod
    def load(cls, languages: Iterable[str] = LANGUAGES) -> "WordFrequencies":
        """Read wordfreq's small lists (buckets of words, most frequent first, one centibel apart)."""
        from wordfreq import available_languages, read_cBpack

        paths = available_languages("small")
        tables = {}
        for lang in languages:
            table: dict[str, int] = {}
            for index, bucket in enumerate(read_cBpack(paths[_WORDFREQ_CODES.get(lang, lang)])):
                level = _LEVELS[max(900 - index, 300)]
                for word in bucket:
                    table.setdefault(word, level)
            tables[lang] = table
        return cls(tables)

    def known(self, word: str) -> bool:
        """Whether any language's list has the word."""
        return any(word in table for table in self._tables.values())

    def posterior(self, words: list[str], prior: dict[str, float]) -> Optional[dict[str, float]]:
        """Language -> probability given the words any list knows, or None if it knows none."""
        known = [w for w in words if self.known(w)]
        if not known:
            return None
        scores = {}
        for lang, table in self._tables.items():
            # zipf is log10 of frequency per billion: x100 -> natural log is / 100 * ln 10
            scores[lang] = math.log(prior.get(lang, 1.0)) + sum(
                table.get(w, _MISSING) for w in known) * (math.log(10) / 100)
        top = max(scores.values())
        weights = {lang: math.exp(score - top) for lang, score in scores.items()}
        total = sum(weights.values())
        return {lang: weight / total for lang, weight in weights.items()}


_loaded: Optional[WordFrequencies] = None
_lock = threading.Lock()


def word_frequencies() -> WordFrequencies:
    """The process's one model, loaded on first use."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = WordFrequencies.load()
        return _loaded

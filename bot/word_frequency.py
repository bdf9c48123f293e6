"""Word frequencies per Latin-script language: which served language makes a short message most likely.

langdetect's character n-grams need more text than a shopper's two words: on lingua's public
word pairs (``data/eval/lingua``, dev half) it was right for 57% of English, 50% of Spanish and
55% of Portuguese pairs. Real words are better evidence: how often each word occurs in each
language (``wordfreq``'s "small" lists: web text, Wikipedia, subtitles, Twitter; every word with a
frequency of at least 1 per million) gave 98%, 92% and 80% on the same pairs.

The model is naive Bayes over the message's words: each language's log-frequency of every word
that any list knows (a word a language's list lacks counts as rarer than any word it has), plus a
prior for the authored languages. Words no list knows carry no evidence; a message made only of
them gets no vote. The lists take ~23 MB and ~0.7 s of CPU to load (once per process, in ``warm_up``).
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    import numpy as np

LANGUAGES = (
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl",
    "cs", "tr", "id", "vi", "ro", "hu",
)
"""The served Latin-script languages (``crossdesk.languages.KNOWN``) the model scores."""
_WORDFREQ_CODES = {"no": "nb"}  # wordfreq lists Norwegian as Bokmål
_MISSING = 200
"""Score (zipf x 100, i.e. 1 in 10 million) of a word a language's list lacks: below any listed word (>= 300)."""


class WordFrequencies:
    """Per-language word frequencies (zipf x 100, 300-900) for the served Latin-script languages.

    Kept as two arrays, not a dict per language: the sorted hashes of every listed word (516,025
    words, 4 MB) and one row of levels per word (a column per language, ``_MISSING`` where a
    language's list lacks it: 19 MB). A dict per language held each of the 675,677 listed words
    as its own string: 64 MB measured (tracemalloc), 92 MB of the process's RSS. The hashes are
    Python's own ``hash`` of the word (64 bits, the same within one process, which builds its
    arrays when it starts): two listed words sharing one is unlikely (p ~ 1e-8), a word read as
    listed because its hash is a listed word's even less (~3e-14 per word).

    Args:
        hashes: sorted ``hash(word)`` of every listed word (int64).
        levels: one row per hash, one column per language (uint16).
        languages: the columns' languages.
    """

    def __init__(self, hashes: "np.ndarray", levels: "np.ndarray", languages: tuple[str, ...]):
        self._hashes = hashes
        self._levels = levels
        self._languages = languages

    @classmethod
    def load(cls, languages: Iterable[str] = LANGUAGES) -> "WordFrequencies":
        """Read wordfreq's small lists (buckets of words, most frequent first, one centibel apart)."""
        import numpy as np
        from wordfreq import available_languages, read_cBpack

        languages = tuple(languages)
        paths = available_languages("small")
        columns = []
        for lang in languages:
            hashes, levels = [], []
            for index, bucket in enumerate(read_cBpack(paths[_WORDFREQ_CODES.get(lang, lang)])):
                hashes.extend(map(hash, bucket))
                levels.extend([max(900 - index, 300)] * len(bucket))
            columns.append((np.array(hashes, dtype=np.int64), np.array(levels, dtype=np.uint16)))
        every = np.unique(np.concatenate([hashes for hashes, _ in columns]))
        table = np.full((len(every), len(languages)), _MISSING, dtype=np.uint16)
        for column, (hashes, levels) in enumerate(columns):
            # A word listed twice keeps its first (most frequent) level, as dict.setdefault did.
            unique, first = np.unique(hashes, return_index=True)
            table[np.searchsorted(every, unique), column] = levels[first]
        return cls(every, table, languages)

    def _rows(self, words: list[str]) -> "np.ndarray":
        """Index of each word's row, -1 for a word no list has."""
        import numpy as np

        wanted = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        found = np.minimum(np.searchsorted(self._hashes, wanted), len(self._hashes) - 1)
        return np.where(self._hashes[found] == wanted, found, -1)

    def known(self, word: str) -> bool:
        """Whether any language's list has the word."""
        return bool(self._rows([word])[0] >= 0)

    def posterior(self, words: list[str], prior: dict[str, float]) -> Optional[dict[str, float]]:
        """Language -> probability given the words any list knows, or None if it knows none."""
        rows = self._rows(words) if words else ()
        known = [row for row in rows if row >= 0]
        if not known:
            return None
        totals = self._levels[known].sum(axis=0, dtype="int64").tolist()  # exact integers, as before
        scores = {}
        for lang, total in zip(self._languages, totals):
            # zipf is log10 of frequency per billion: x100 -> natural log is / 100 * ln 10
            scores[lang] = math.log(prior.get(lang, 1.0)) + total * (math.log(10) / 100)
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

"""bot/word_frequency.py: the compact tables give the dict tables' answers in a third of the memory (issue #21)."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from bot.word_frequency import LANGUAGES, WordFrequencies, _MISSING, _WORDFREQ_CODES


def dict_tables(languages):
    """The tables as the module kept them before: a dict word -> level per language."""
    from wordfreq import available_languages, read_cBpack

    paths = available_languages("small")
    tables = {}
    for lang in languages:
        table = {}
        for index, bucket in enumerate(read_cBpack(paths[_WORDFREQ_CODES.get(lang, lang)])):
            for word in bucket:
                table.setdefault(word, max(900 - index, 300))
        tables[lang] = table
    return tables


@pytest.fixture(scope="module")
def loaded():
    import wordfreq  # noqa: F401  (its own import is not the lists)

    tracemalloc.start()
    try:
        frequencies = WordFrequencies.load()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return frequencies, held


def test_every_language_list_is_held_in_under_30_mb(loaded):
    _, held = loaded
    assert held < 30e6  # a dict per language held 64 MB


def test_the_compact_tables_give_each_words_level_and_the_posterior_the_dict_tables_gave(loaded):
    frequencies, _ = loaded
    tables = dict_tables(("en", "de", "nl"))
    random.seed(21)
    words = [w for table in tables.values() for w in random.sample(sorted(table), 3000)]
    words += ["zzqxjv", "versandkosten", "the", "de", "shipping"]
    for word in words:
        expected = {lang: tables[lang].get(word, _MISSING) for lang in tables}
        row = frequencies._rows([word])[0]
        found = {lang: int(frequencies._levels[row, LANGUAGES.index(lang)]) if row >= 0 else _MISSING
                 for lang in tables}
        assert found == expected, word
    assert not frequencies.known("zzqxjv") and frequencies.known("versandkosten")
    assert_naive_bayes(frequencies, dict_tables(LANGUAGES))


def assert_naive_bayes(frequencies, tables):
    """The posterior of a message is naive Bayes over its known words, exactly as with dict tables."""
    import math

    prior = {"en": 3.0, "de": 1.5}
    words = ["kann", "man", "mit", "paypal", "zahlen", "zzqxjv"]
    known = [w for w in words if any(w in t for t in tables.values())]
    scores = {lang: math.log(prior.get(lang, 1.0)) + sum(tables[lang].get(w, _MISSING) for w in known)
              * (math.log(10) / 100) for lang in LANGUAGES}
    top = max(scores.values())
    weights = {lang: math.exp(s - top) for lang, s in scores.items()}
    assert frequencies.posterior(words, prior) == {lang: w / sum(weights.values()) for lang, w in weights.items()}
    assert frequencies.posterior(["zzqxjv"], prior) is None and frequencies.posterior([], prior) is None

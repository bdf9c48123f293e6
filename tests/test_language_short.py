"""Short Latin-script messages: word pairs and single words, served languages only."""

import pytest

from bot.detection_eval import LINGUA_DIR, published_figures, score_lingua_file
from bot.language import detect
from crossdesk.languages import AUTHORED


@pytest.mark.parametrize("text, expected", [
    ("zapatos rojos", "es"),  # was Czech
    ("sandalias verano", "es"),  # was Indonesian
    ("zapatillas", "es"),  # was Italian
    ("code promo", "fr"),  # was Portuguese
])
def test_a_shoppers_word_pair_stays_in_its_language(text, expected):
    assert detect(text).language == expected


def test_a_short_message_is_long_tail_only_on_its_own_words_or_letters():
    # Words no list knows (lingua's Spanish lost its accents): letters alone are no evidence for
    # Portuguese, Italian or Romanian, which langdetect answered for each of these.
    for text in ("crditos", "trastos", "buensimos", "recortadas", "abultado"):
        assert detect(text).language in AUTHORED, text
    for text, expected in (("obrigado pela ajuda", "pt"), ("grazie mille", "it"), ("não chegou", "pt"),
                           ("dziękuję", "pl")):
        assert detect(text).language == expected, text


@pytest.mark.parametrize("language, published", [
    ("en", 0.89), ("es", 0.69), ("de", 0.94),
    # French: 89.2% on the test half (dev 94.8%; its misses are names and English words, see
    # docs/pipeline.md session 11): the must-hold is not met yet. strict: passing flags the marker.
    pytest.param("fr", 0.94, marks=pytest.mark.xfail(strict=True, reason="fr word pairs 89.2% < lingua's 94%")),
])
def test_word_pairs_match_lingua_published_high_accuracy_figures(language, published):
    # lingua's public test data, the half the detector was never tuned on (data/eval/lingua/).
    scores = score_lingua_file(LINGUA_DIR / "word-pairs" / f"{language}.test.txt", language, baseline=False)
    assert scores["lines"] == 250
    assert scores["crossdesk"] >= published
    assert scores["not_served"] == 0


@pytest.mark.parametrize("language", ["en", "es", "fr", "de"])
def test_single_words_beat_lingua_published_high_accuracy_figures(language):
    # The test half of lingua's single words; the published figure is read from the file's header.
    path = LINGUA_DIR / "single-words" / f"{language}.test.txt"
    single, _pairs = published_figures(path)
    scores = score_lingua_file(path, language, baseline=False)
    assert scores["lines"] == 250
    assert scores["crossdesk"] >= single / 100
    assert scores["not_served"] == 0


def test_french_and_german_samples_carry_lingua_published_figures():
    # make eval / python -m bot eval --detection report every file under data/eval/lingua against the
    # figure in its header (bot.detection_eval.lingua_scores): dev and test halves of both kinds.
    expected = {f"{kind}/{lang}/{split}": figure for lang in ("fr", "de") for split in ("dev", "test")
                for kind, figure in (("word-pairs", 0.94), ("single-words", 0.74))}
    found = {}
    for path in sorted(LINGUA_DIR.glob("*/*.txt")):
        lang, split = path.name.split(".")[:2]
        single, pairs = published_figures(path)
        found[f"{path.parent.name}/{lang}/{split}"] = (pairs if path.parent.name == "word-pairs" else single) / 100
    assert {key: found.get(key) for key in expected} == expected

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


# Lines in each test half: en/es are lingua-go's shuffled lines 251-500; fr/de the even positions of a
# sample spread over the whole sorted Kotlin file (session 11 round 2, rule in each file's header).
TEST_LINES = {"word-pairs": {"en": 250, "es": 250, "fr": 501, "de": 500},
              "single-words": {"en": 250, "es": 250, "fr": 500, "de": 504}}


@pytest.mark.parametrize("language, published", [
    # French: 96.4% on the spread sample's test half (round 1's slice of 'a' pairs gave 89.2% and
    # was marked xfail; see docs/pipeline.md session 11).
    ("en", 0.89), ("es", 0.69), ("de", 0.94), ("fr", 0.94),
])
def test_word_pairs_match_lingua_published_high_accuracy_figures(language, published):
    # lingua's public test data, the half the detector was never tuned on (data/eval/lingua/).
    scores = score_lingua_file(LINGUA_DIR / "word-pairs" / f"{language}.test.txt", language, baseline=False)
    assert scores["lines"] == TEST_LINES["word-pairs"][language]
    assert scores["crossdesk"] >= published
    assert scores["not_served"] == 0


@pytest.mark.parametrize("language", ["en", "es", "fr", "de"])
def test_single_words_beat_lingua_published_high_accuracy_figures(language):
    # The test half of lingua's single words; the published figure is read from the file's header.
    path = LINGUA_DIR / "single-words" / f"{language}.test.txt"
    single, _pairs = published_figures(path)
    scores = score_lingua_file(path, language, baseline=False)
    assert scores["lines"] == TEST_LINES["single-words"][language]
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


@pytest.mark.parametrize("kind", ["word-pairs", "single-words"])
@pytest.mark.parametrize("language", ["fr", "de"])
def test_french_and_german_samples_span_the_whole_sorted_file(kind, language):
    # lingua's Kotlin files are sorted: their first 500 lines all start with 'a' (round 1's sample,
    # whose French test half had 123 distinct first words). The spread sample's halves start at 'a',
    # reach past 's' (11-14 first letters each), and both halves cover the same stretches.
    halves = {}
    for split in ("dev", "test"):
        path = LINGUA_DIR / kind / f"{language}.{split}.txt"
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        halves[split] = {line[0] for line in lines}
    assert len(halves["test"]) >= 10, sorted(halves["test"])
    assert min(halves["test"]) == "a" and max(halves["test"]) >= "s"
    assert halves["dev"] == halves["test"]

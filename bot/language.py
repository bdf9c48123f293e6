"""Language detection made reliable for short chat messages.

langdetect alone is poor on 1-6 word messages (it calls Traditional Chinese
Korean and ``ok`` Slovak) and random unless seeded. :func:`detect` layers, in order:

1. *Evidence filtering*: URLs, e-mails, order numbers, digits, emoji and
   neutral words (``ok``, brand and carrier names) carry no language; a message
   made only of them gives no detection at all, so a conversation's language
   never flips on it.
2. *Script rules*: kana -> ja, Hangul -> ko, Han -> zh-CN/zh-TW
   (``hanzidentifier`` tells Simplified from Traditional; kanji-only text in a
   Japanese chat stays ja; Han text with no character of either script takes
   its variety from Taiwan/mainland words, ``data/language/chinese_variants.yml``:
   宅配, 超商, 好喔 / 微信, 包邮, 咋, at 0.8, under what a locale or a conversation
   needs; else the hint), Thai, Hebrew, Greek, Devanagari; Cyrillic by
   Ukrainian/Russian/Macedonian letters, else a restricted detector; Arabic
   script by a restricted detector (ar/fa/ur).
3. *Distinctive letters* of Latin-script languages: Turkish letters decide at
   once; then letters only one long-tail language uses (Vietnamese, Polish,
   Czech, Hungarian, Romanian, Portuguese, checked in that order), unless two
   or more lexicon words say another language.
4. *Word lists*: chat words and shop vocabulary mined from our training data
   (en/fr/de/es) plus ``data/language/long_tail.yml``. The language with the
   most of a message's words decides, without running langdetect, a message
   of up to three words, and a longer one when it holds at least 80% of its
   words, or at least half of them and is the conversation's own language.
5. *Word frequencies* (:mod:`bot.word_frequency`): how often each word occurs
   in each served Latin-script language, with the authored prior; decides
   whenever a list knows one of the words (and the word lists did not say
   another language). Its probability counts for less under 12 characters.
6. *Restricted langdetect*: a private, seeded factory loaded with the
   Latin-script profiles we care about, with a prior for the authored Latin
   languages (never the global, lazily-loaded one); its probability counts for
   less under 12 characters. The word lists overrule it when it is unsure
   (< 0.95), guesses a long-tail language, or guesses a language none of two
   or more lexicon words belongs to; shop vocabulary (two words and 40% of the
   message) outweighs a long-tail guess.

*Served languages only.* Every answer is in ``crossdesk.languages.KNOWN``
(authored + the documented long tail, handled through translation): each layer
only knows those languages, so a message in another language gets the closest
served one, never a language we cannot serve. On a *short* message (up to
:data:`SHORT_WORDS` words) a long-tail language also needs evidence of its own
over the authored ones: its letters (layer 3), its chat words (layer 4), or
its word frequencies as a majority after the authored prior
(:data:`LONG_TAIL_SURE`); words no list knows are judged by langdetect among
en/fr/de/es only. So a Spanish two-word message is not taken for Romanian,
while "obrigado pela ajuda" and "grazie mille" keep their languages.

:func:`choose_language` then applies stickiness: a conversation keeps its
language unless a message is confidently in another one.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional

import hanzidentifier
from langdetect import detector_factory
from langdetect.lang_detect_exception import LangDetectException

from bot.word_frequency import word_frequencies
from crossdesk import yaml_files
from crossdesk.languages import AUTHORED
from crossdesk.paths import LANGUAGE_DATA_DIR, NLU_DIR


SWITCH_CONFIDENCE = 0.9
"""A conversation switches language only on a detection at least this sure."""
LOCALE_OVERRIDE_CONFIDENCE = 0.85
"""On a first message, a detection this sure overrides the browser locale (a short-text guess never does)."""

# Latin-script languages langdetect may answer (authored + common long tail).
# Close confusers of es/en on chat text (ca, sl, hr, sk, tl) are left out.
_LATIN_PROFILES = (
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl",
    "cs", "tr", "id", "vi", "ro", "hu",
)
# Most shoppers write in an authored language: a prior, not a rule.
_LATIN_PRIOR = {lang: (3.0 if lang in ("en", "fr", "de", "es") else 1.0) for lang in _LATIN_PROFILES}
_AUTHORED_LATIN = ("en", "fr", "de", "es")
SHORT_WORDS = 3
"""Up to this many words a message is short: a long-tail answer needs its letters or its words."""
LONG_TAIL_SURE = 0.5
"""On a short message the word-frequency vote gives a long-tail language only when it is at least this
likely after the authored prior (its words >3x likelier there than in every authored language together),
else the likeliest authored language. On the dev halves of lingua's word pairs, asking 0.7-0.8 instead
gained Spanish 0.8 points and cost Portuguese 6: a majority is the rule."""
_CYRILLIC_PROFILES = ("ru", "bg", "mk")  # Ukrainian is told by its own letters
_CYRILLIC_PRIOR = {"ru": 3.0, "bg": 1.0, "mk": 1.0}
_UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")
_RUSSIAN_LETTERS = set("ыэёЫЭЁ")  # not in Bulgarian or Macedonian
_MACEDONIAN_LETTERS = set("ѓќѕљњџјЃЌЅЉЊЏЈ")
_TURKISH_LETTERS = set("ığİĞ")
# Letters that, among the Latin-script languages we detect, only one long-tail language uses
# (checked in this order: Vietnamese also writes ã, õ and ă).
_DISTINCTIVE_LETTERS = (
    ("vi", set("ơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")),
    ("pl", set("ąęłńśźż")),
    ("cs", set("řůě")),
    ("hu", set("őű")),
    ("ro", set("ășțţă")),
    ("pt", set("ãõ")),
)
# A brand glued to CJK text ("PayPal可以吗") is two words.
_SCRIPT_BOUNDARY = re.compile(r"(?<=[A-Za-z])(?=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])"
                              r"|(?<=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])(?=[A-Za-z])")
_ARABIC_PROFILES = ("ar", "fa", "ur")

_NUMBERS = (r"#?[A-Za-z]{0,3}[-#]?\d[\d-]*"  # order numbers like #A10234, 4501-22871
            r"|[\d.,:/%+-]+")
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+|" + _NUMBERS)  # links and e-mails first
_NUMBER_NOISE = re.compile(_NUMBERS)  # the same where no link or e-mail can match (5x faster)
_NEUTRAL_WORDS = {
    "ok", "okay", "okey", "k", "kk", "lol", "haha", "hahaha", "hmm", "hm",
    "xd", "thx", "pls", "plz", "ty", "np", "dhl", "ems", "fedex", "ups",
    "paypal", "visa", "mastercard", "amex", "iphone", "apple", "pay", "google",
    "alipay", "klarna", "jcb", "email", "e-mail", "id", "no.", "www",
}
# High-signal chat words for short Latin-script messages.
_LEXICON = {
    "en": "hi hello hey thanks thank you yes yeah yep no nope bye goodbye please "
          "where when how what shipping order my is the can i help human agent "
          "refund return cancel cost much long talk person real someone package parcel "
          "card declined pay payment you are your bot do ship",
    "fr": "bonjour salut merci oui non ouais au revoir stp svp commande livraison "
          "combien est-ce je vous ma mon suis aide remboursement annuler ou quand "
          "colis frais douane paiement",
    "de": "hallo servus moin danke ja nein nee tschüss tschuss tschuess bitte "
          "bestellung lieferung wie lange wo ist mein meine ich kann zoll versand "
          "kosten rückerstattung stornieren paket vielen dank danke zahlen karte "
          "wann kommt sendung mit einem",
    "es": "hola gracias sí si vale adiós adios por favor pedido envío envio "
          "cuánto cuanto dónde donde está esta mi quiero puedo aduana pago "
          "reembolso cancelar paquete tarjeta rechazaron llegó llego eres aceptan "
          "crédito credito tengo quiero hablar persona envían envian pagar chao chau "
          "vemos seguimiento devolución devolucion buenas hacen llega",
}
LONG_TAIL_FILE = LANGUAGE_DATA_DIR / "long_tail.yml"
CHINESE_VARIANTS_FILE = LANGUAGE_DATA_DIR / "chinese_variants.yml"
# Generated from authored examples (scripts/greeting-prefixed-examples): trained on, not counted or evaluated.
GENERATED_FILE = "greeting_prefixed.yml"
_EXAMPLE = re.compile(r"^\s+- (.+)$", re.MULTILINE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _training_vocabulary(nlu_dir: Path, languages: tuple[str, ...]) -> dict[str, Counter]:
    counts = {}
    for lang in languages:
        counter: Counter = Counter()
        for path in sorted(p for p in (nlu_dir / lang).glob("*.yml") if p.name != GENERATED_FILE):
            for example in _EXAMPLE.findall(path.read_text(encoding="utf-8")):
                counter.update(w.lower() for w in _WORD.findall(example) if len(w) > 1)
        counts[lang] = counter
    return counts


@lru_cache(maxsize=1)
def lexicon_sets(nlu_dir: Path = NLU_DIR, long_tail_file: Path = LONG_TAIL_FILE) -> dict[str, frozenset]:
    """Words that mark a Latin-script language.

    Authored languages: the hand list above plus words of our own training data
    that occur (nearly) only in that language. Long-tail languages: the chat
    words in ``data/language/long_tail.yml``, minus any word our training data uses.
    """
    languages = tuple(_LEXICON)
    counts = _training_vocabulary(nlu_dir, languages)
    total: Counter = sum(counts.values(), Counter())
    sets = {}
    for lang in languages:
        mined = {w for w, n in counts[lang].items() if n >= 3 and n >= 0.95 * total[w] and w not in _NEUTRAL_WORDS}
        sets[lang] = frozenset(set(_LEXICON[lang].split()) | mined)
    authored = frozenset().union(*sets.values())
    for lang, words in _long_tail_words(long_tail_file).items():
        sets[lang] = frozenset(w for w in words if w not in authored and w not in total and w not in _NEUTRAL_WORDS)
    return sets


def _long_tail_words(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    return {str(lang): [str(w).lower() for w in words] for lang, words in yaml_files.safe_load(path.read_text("utf-8")).items()}


@dataclass(frozen=True)
class Detection:
    """One message's language evidence.

    Attributes:
        language: BCP-47-ish code (``zh-CN``, ``ko``, ``it``...).
        confidence: 0..1; script rules give high values, short Latin text low.
        method: ``script``, ``lexicon`` or ``langdetect`` (for reports).
    """

    language: str
    confidence: float
    method: str


class _RestrictedDetector:
    """A private, seeded langdetect factory limited to some profiles."""

    def __init__(self, languages: tuple[str, ...], prior: Optional[dict] = None):
        self._lock = threading.Lock()
        self._factory = detector_factory.DetectorFactory()
        profiles = []
        for lang in languages:
            path = os.path.join(detector_factory.PROFILES_DIRECTORY, lang)
            with open(path, encoding="utf-8") as handle:
                profiles.append(json.dumps(json.load(handle)))
        self._factory.load_json_profile(profiles)
        self._factory.set_seed(0)
        self._prior = prior
    def detect(self, text: str) -> Optional[tuple[str, float]]:
        """Return (language, probability) or None when nothing is detectable."""
        with self._lock:  # the factory's random state is shared
            detector = self._factory.create()
            if self._prior:
                detector.set_prior_map(self._prior)
            detector.append(text)
            try:
                best = detector.get_probabilities()[0]
            except (LangDetectException, IndexError):
                return None
        return best.lang, best.prob


_detectors: dict[str, _RestrictedDetector] = {}
_detectors_lock = threading.Lock()


def _detector(name: str, languages: tuple[str, ...], prior: Optional[dict] = None) -> _RestrictedDetector:
    with _detectors_lock:
        if name not in _detectors:
            _detectors[name] = _RestrictedDetector(languages, prior)
        return _detectors[name]


class PostponedWarmUp:
    """What :func:`warm_up_postponed` yields: whether ``warm_up`` was asked for, and a way to run it."""

    def __init__(self) -> None:
        self.asked = False

    def start(self, then: Optional[Callable[[], None]] = None) -> Optional[threading.Thread]:
        """Run the warm-up asked for, then ``then``, in a background thread (returned; None if none was asked)."""
        if not self.asked:
            return None
        self.asked = False

        def run() -> None:
            warm_up()
            if then is not None:
                then()

        thread = threading.Thread(target=run, name="crossdesk-language-warm-up", daemon=True)
        thread.start()
        return thread


_postponing = threading.local()  # .current: the PostponedWarmUp of a warm_up_postponed() on this thread


def warm_up() -> None:
    """Load every langdetect profile and word list now (not on a shopper's first message).

    Inside :func:`warm_up_postponed` (on the same thread) it only notes that it was asked.
    """
    postponed = getattr(_postponing, "current", None)
    if postponed is not None:
        postponed.asked = True
        return
    _detector("latin", _LATIN_PROFILES, _LATIN_PRIOR)
    _detector("latin_authored", _AUTHORED_LATIN)
    _detector("cyrillic", _CYRILLIC_PROFILES, _CYRILLIC_PRIOR)
    _detector("arabic", _ARABIC_PROFILES)
    _lexicon_index()
    chinese_variant_words()
    word_frequencies()


@contextlib.contextmanager
def warm_up_postponed() -> Iterator[PostponedWarmUp]:
    """Postpone the :func:`warm_up` calls made inside (on this thread) until ``.start()`` of what it yields.

    The bot engine loads its model inside and starts the warm-up once the model answers: the
    warm-up (0.5-1 s of CPU, most of it the word lists) is needed neither to load the model nor
    for most first replies, so a server answers that much sooner after it starts. Every table
    stays lazy and locked, so a message that needs one before the background thread has built
    it builds it or waits for it.
    """
    postponed = _postponing.current = PostponedWarmUp()
    try:
        yield postponed
    finally:
        _postponing.current = None


_ASCII_NOT_KEPT = re.compile(r"[^A-Za-z '-]")


def _strip_noise(text: str) -> str:
    links = "@" in text or "://" in text or "www." in text
    text = (_NOISE if links else _NUMBER_NOISE).sub(" ", text)
    if text.isascii():  # the common case, without a Unicode lookup per character
        kept = _ASCII_NOT_KEPT.sub("", text)
    else:
        text = _SCRIPT_BOUNDARY.sub(" ", text)
        kept = "".join(c for c in text if unicodedata.category(c)[0] in "LMZ" or c in "'-")
    words = kept.split()
    return " ".join(w for w in words if w.lower().strip("'-") not in _NEUTRAL_WORDS)


_ASCII_NON_LETTER = re.compile(r"[^A-Za-z]+")


def _script_counts(text: str) -> dict[str, int]:
    if text.isascii():  # the common case: Latin letters only, counted without a loop per character
        letters = len(_ASCII_NON_LETTER.sub("", text))
        return {"latin": letters} if letters else {}
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        code = ord(char)
        if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
            script = "kana"
        elif 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            script = "hangul"
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
            script = "han"
        elif 0x0E00 <= code <= 0x0E7F:
            script = "thai"
        elif 0x0590 <= code <= 0x05FF:
            script = "hebrew"
        elif 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F:
            script = "arabic"
        elif 0x0400 <= code <= 0x04FF:
            script = "cyrillic"
        elif 0x0370 <= code <= 0x03FF:
            script = "greek"
        elif 0x0900 <= code <= 0x097F:
            script = "devanagari"
        else:
            script = "latin"
        counts[script] = counts.get(script, 0) + 1
    return counts


def _chinese_variant(text: str, hint: Optional[str]) -> Detection:
    kind = hanzidentifier.identify(text)
    if kind == hanzidentifier.SIMPLIFIED:
        return Detection("zh-CN", 0.95, "script")
    if kind == hanzidentifier.TRADITIONAL:
        return Detection("zh-TW", 0.95, "script")
    if kind == hanzidentifier.MIXED:
        simp = sum(hanzidentifier.is_simplified(c) and not hanzidentifier.is_traditional(c) for c in text)
        trad = sum(hanzidentifier.is_traditional(c) and not hanzidentifier.is_simplified(c) for c in text)
        return Detection("zh-TW" if trad > simp else "zh-CN", 0.8, "script")
    # Characters shared by both systems: words of one side ("宅配", "微信支付"), else the hint, weakly.
    by_words = _chinese_variant_by_words(text)
    if by_words:
        return Detection(by_words, 0.8, "lexicon")  # (under the 0.85/0.9 a locale or conversation needs)
    variant = hint if hint in ("zh-CN", "zh-TW") else "zh-CN"
    return Detection(variant, 0.6, "script")


@lru_cache(maxsize=1)
def chinese_variant_words(path: Path = CHINESE_VARIANTS_FILE) -> dict[str, tuple[str, ...]]:
    """zh-TW / zh-CN -> the words that mark that variety (``data/language/chinese_variants.yml``)."""
    return {str(k): tuple(dict.fromkeys(str(w) for w in v)) for k, v in yaml_files.safe_load(path.read_text("utf-8")).items()}


def _chinese_variant_by_words(text: str) -> Optional[str]:
    """The variety with more of its own words in the text, if one has more."""
    counts = {variant: sum(word in text for word in words) for variant, words in chinese_variant_words().items()}
    if counts.get("zh-TW", 0) == counts.get("zh-CN", 0):
        return None
    return max(counts, key=counts.get)


def _by_script(scripts: dict[str, int], text: str, hint: Optional[str]) -> Optional[Detection]:
    if len(scripts) == 1 and "latin" in scripts:
        return None  # (the common case: decided by words and letters)
    letters = sum(scripts.values())
    if scripts.get("kana"):
        return Detection("ja", 0.99 if scripts["kana"] >= 2 else 0.9, "script")
    if scripts.get("hangul"):
        return Detection("ko", 0.99 if scripts["hangul"] >= 2 else 0.9, "script")
    if scripts.get("han", 0) >= 2 or scripts.get("han", 0) * 2 >= letters:  # Latin words in CJK text are brands
        if hint == "ja" and hanzidentifier.identify(text) == hanzidentifier.BOTH:
            return Detection("ja", 0.6, "script")  # kanji-only text in a Japanese chat
        return _chinese_variant(text, hint)
    fixed = {"thai": "th", "hebrew": "he", "greek": "el", "devanagari": "hi"}
    for script, lang in fixed.items():
        if scripts.get(script, 0) * 2 >= letters:
            return Detection(lang, 0.95, "script")
    if scripts.get("cyrillic", 0) * 2 >= letters:
        if _UKRAINIAN_LETTERS & set(text):
            return Detection("uk", 0.95, "script")
        if _RUSSIAN_LETTERS & set(text):
            return Detection("ru", 0.95, "script")
        if _MACEDONIAN_LETTERS & set(text):
            return Detection("mk", 0.95, "script")
        found = _detector("cyrillic", _CYRILLIC_PROFILES, _CYRILLIC_PRIOR).detect(text)
        return Detection(found[0] if found else "ru", 0.95, "script")
    if scripts.get("arabic", 0) * 2 >= letters:
        found = _detector("arabic", _ARABIC_PROFILES).detect(text)
        return Detection(found[0] if found else "ar", 0.95, "script")
    return None


@lru_cache(maxsize=1)
def _lexicon_index() -> dict[str, tuple[str, ...]]:
    """Word -> the languages whose lexicon has it."""
    index: dict[str, tuple[str, ...]] = {}
    for lang, words in lexicon_sets().items():
        for word in words:
            index[word] = index.get(word, ()) + (lang,)
    return index


def _lexicon_scores(words: list[str]) -> dict[str, int]:
    """Language -> how many of the words its lexicon has."""
    index = _lexicon_index()
    scores: dict[str, int] = {}
    for word in words:
        for lang in index.get(word, ()):
            scores[lang] = scores.get(lang, 0) + 1
    return scores


def _lexicon_vote(scores: dict[str, int]) -> Optional[tuple[str, int]]:
    """The language with the most lexicon words (and how many), if one leads alone."""
    if not scores:
        return None
    top = max(scores.values())
    leaders = [lang for lang, count in scores.items() if count == top]
    return (leaders[0], top) if len(leaders) == 1 else None


def _by_letters(text: str, vote: Optional[tuple[str, int]]) -> Optional[Detection]:
    """A long-tail language whose own letters appear, unless two or more words say otherwise
    ("do you ship to São Paulo?" stays English)."""
    letters = set(text)
    for lang, own in _DISTINCTIVE_LETTERS:
        if own & letters:
            if vote and vote[0] != lang and vote[1] >= 2:
                return None
            return Detection(lang, 0.9, "script")
    return None


def _by_lexicon(vote: Optional[tuple[str, int]], count: int) -> Optional[Detection]:
    if vote is None:
        return None
    best, top = vote
    share = top / count
    # Short messages decided by the lexicon alone; longer ones need a clear share.
    if count <= 3 or share >= 0.5:
        return Detection(best, 0.7 + 0.25 * share, "lexicon")
    return None


def _shop_vocabulary_vote(vote: Optional[tuple[str, int]], count: int) -> Optional[Detection]:
    """An authored language when at least two words and 40% of the message are its shop vocabulary."""
    if vote is None:
        return None
    best, top = vote
    if top >= 2 and top / count >= 0.4:
        return Detection(best, 0.6 + 0.3 * top / count, "lexicon")
    return None


def _by_word_frequency(words: list[str], cleaned: str) -> Optional[Detection]:
    """The served Latin-script language whose word frequencies make the message likeliest
    (see :mod:`bot.word_frequency`), or None when no word list knows any of its words.

    It decides even when unsure: on lingua's word pairs and single words (dev halves) deciding
    at any posterior beat falling back to langdetect below 0.4/0.5/0.6 (en single words 83% vs
    79/77/71%, es word pairs 93% vs 93/92/90%); the confidence it reports says how sure it is.
    """
    posterior = word_frequencies().posterior(words, _LATIN_PRIOR)
    if posterior is None:
        return None
    best = max(posterior, key=posterior.get)
    if best not in AUTHORED and len(words) <= SHORT_WORDS and posterior[best] < LONG_TAIL_SURE:
        best = max(_AUTHORED_LATIN, key=posterior.get)
    prob = posterior[best]
    if len(cleaned) < 12:
        prob *= 0.8  # a word or two: never enough on its own to switch a conversation (0.9)
    return Detection(best, round(prob, 3), "frequency")


def detect(text: str, hint: Optional[str] = None) -> Optional[Detection]:
    """Detect the language of one message, or None if it carries no evidence.

    Args:
        text: the raw message.
        hint: the conversation's language or the browser locale, used only to
            break ties (Han characters shared by Chinese variants and Japanese).
    """
    cleaned = _strip_noise(text)
    if not cleaned:
        return None
    scripts = _script_counts(cleaned)
    by_script = _by_script(scripts, cleaned, hint)
    if by_script:
        return by_script
    words = [w.lower().strip("'-!?.,") for w in cleaned.split()]
    words = [w for w in words if w]
    if not words:
        return None
    plain = cleaned.isascii()  # (no Turkish or other distinctive letters to look for)
    if not plain and _TURKISH_LETTERS & set(cleaned):
        return Detection("tr", 0.9, "script")
    scores = _lexicon_scores(words)
    vote = _lexicon_vote(scores)
    lettered = None if plain else _by_letters(cleaned.lower(), vote)
    if lettered:
        return lettered
    by_lexicon = _by_lexicon(vote, len(words))
    if by_lexicon and (len(words) <= 3 or by_lexicon.confidence >= 0.9 or by_lexicon.language == hint):
        return by_lexicon  # (words of the conversation's own language keep it; langdetect costs ~100x more)
    frequent = _by_word_frequency(words, cleaned)
    if frequent and (by_lexicon is None or by_lexicon.language == frequent.language):
        return frequent
    if len(words) <= SHORT_WORDS and not by_lexicon:
        # No word of a short message is in any list: its letters alone are no evidence for a
        # long-tail language (langdetect called such Spanish words Portuguese, Italian, Romanian).
        found = _detector("latin_authored", _AUTHORED_LATIN).detect(cleaned)
    else:
        found = _detector("latin", _LATIN_PROFILES, _LATIN_PRIOR).detect(cleaned)
    if not found:
        return by_lexicon
    lang, prob = found
    if len(cleaned) < 12:
        prob *= 0.8  # langdetect is unreliable on a word or two
    if by_lexicon and by_lexicon.language != lang and (
            prob < 0.95 or lang not in AUTHORED or (vote[1] >= 2 and not scores.get(lang))):
        return by_lexicon  # (two words of one language and none of langdetect's guess: the words win)
    if lang not in AUTHORED:
        # Our shoppers' words (mined from our training data) outweigh a long-tail guess on short text.
        shop_words = _shop_vocabulary_vote(vote, len(words))
        if shop_words:
            return shop_words
    return Detection(lang, round(prob, 3), "langdetect")


def normalise_locale(locale: Optional[str]) -> Optional[str]:
    """Map a browser locale (``ja-JP``, ``zh-Hant-TW``, ``pt_BR``) to our codes."""
    if not locale or not isinstance(locale, str):
        return None
    return _normalised_locale(locale)


@lru_cache(maxsize=512)  # (a handful of locales, read on every message)
def _normalised_locale(locale: str) -> Optional[str]:
    parts = locale.replace("_", "-").split("-")
    base = parts[0].lower()
    if base == "zh":
        rest = {p.lower() for p in parts[1:]}
        return "zh-TW" if rest & {"tw", "hk", "mo", "hant"} else "zh-CN"
    return base if base.isalpha() and 2 <= len(base) <= 3 else None


def choose_language(
    text: str, previous: Optional[str] = None, locale: Optional[str] = None
) -> tuple[str, Optional[Detection]]:
    """Decide a conversation's language after this message.

    Args:
        text: the shopper's message.
        previous: the conversation's language so far (None on the first message).
        locale: the browser locale hint.

    Returns:
        (language, detection): detection is None when the message had no
        language evidence (``ok``, an emoji, an order number).
    """
    hint_locale = normalise_locale(locale)
    detection = detect(text, hint=previous or hint_locale)
    if previous:
        if detection and detection.language != previous and detection.confidence >= SWITCH_CONFIDENCE:
            return detection.language, detection
        return previous, detection
    if not detection:
        return hint_locale or "en", None
    if hint_locale in AUTHORED and detection.language != hint_locale:
        # The browser's language is good evidence: only a sure detection overrides it.
        sure = detection.confidence >= LOCALE_OVERRIDE_CONFIDENCE
        return (detection.language, detection) if sure else (hint_locale, detection)
    if detection.confidence >= 0.5 or not hint_locale:
        return detection.language, detection
    return hint_locale, detection

"""Country names in every authored language, normalised to ISO 3166 alpha-2.

The gazetteer lives in ``data/store/countries.yml`` (staff edit it without
retraining). Matching rules:

* Latin-script aliases match whole words, case- and accent-insensitively;
* aliases of 2-3 capital letters (``US``, ``UK``, ``NZ``) match case-sensitively;
* CJK and Hangul aliases match as substrings (no word boundaries there).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "store" / "countries.yml"


@dataclass(frozen=True)
class CountryMatch:
    """A country name found in a text."""

    code: str
    start: int
    end: int
    text: str


def fold(text: str) -> str:
    """Lower-case and strip accents (``España`` -> ``espana``), same length."""
    out = []
    for char in text:
        base = unicodedata.normalize("NFKD", char)[0]
        out.append(base.lower() if len(base.lower()) == 1 else char)
    return "".join(out)


def _is_cjk(alias: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in alias)


class Gazetteer:
    """Finds country mentions and names countries in a given language."""

    def __init__(self, data: dict):
        self._names: dict[str, dict[str, str]] = {}
        folded: dict[str, str] = {}
        exact: dict[str, str] = {}
        cjk: dict[str, str] = {}
        for code, per_lang in (data or {}).items():
            code = str(code).upper()
            self._names[code] = {}
            for lang, aliases in (per_lang or {}).items():
                aliases = [str(a) for a in (aliases or []) if str(a).strip()]
                if not aliases:
                    continue
                self._names[code][lang] = aliases[0]
                for alias in aliases:
                    if _is_cjk(alias):
                        cjk.setdefault(alias, code)
                    elif alias.isupper() and len(alias.replace(".", "")) <= 3:
                        exact.setdefault(alias, code)
                    else:
                        folded.setdefault(fold(alias), code)
        self._folded = folded
        self._exact = exact
        self._cjk = cjk
        self._folded_re = self._alternation(folded, r"(?<!\w)(?:{})(?!\w)")
        self._exact_re = self._alternation(exact, r"(?<![\w.])(?:{})(?![\w])")
        self._cjk_re = self._alternation(cjk, "(?:{})")

    @staticmethod
    def _alternation(aliases: dict[str, str], template: str) -> Optional[re.Pattern]:
        if not aliases:
            return None
        ordered = sorted(aliases, key=len, reverse=True)  # longest first
        return re.compile(template.format("|".join(re.escape(a) for a in ordered)))

    @classmethod
    def from_file(cls, path: Path = DEFAULT_PATH) -> "Gazetteer":
        """Load the gazetteer; a missing file gives an empty one.

        One instance per file version is shared (it is read-only): the tokenizer,
        the entity extractor and the actions all ask for it when the model loads.
        """
        path = Path(path)
        if not path.exists():
            return cls({})
        return _load(cls, str(path), path.stat().st_mtime_ns)

    def find(self, text: str) -> list[CountryMatch]:
        """All country mentions in ``text``, in order, without overlaps."""
        found: list[CountryMatch] = []
        folded_text = fold(text)
        searches = (
            (self._folded_re, folded_text, self._folded, True),
            (self._exact_re, text, self._exact, False),
            (self._cjk_re, text, self._cjk, False),
        )
        for pattern, haystack, table, is_folded in searches:
            if pattern is None:
                continue
            for match in pattern.finditer(haystack):
                key = match.group(0)
                code = table[key]
                found.append(CountryMatch(code, match.start(), match.end(), text[match.start():match.end()]))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        result: list[CountryMatch] = []
        for match in found:
            if not result or match.start >= result[-1].end:
                result.append(match)
        return result

    def name(self, code: str, language: str) -> str:
        """The display name of ``code`` in ``language`` (English, then the code, as fallback)."""
        names = self._names.get(code.upper(), {})
        return names.get(language) or names.get("en") or code.upper()

    def codes(self) -> list[str]:
        """Every known country code."""
        return sorted(self._names)


@lru_cache(maxsize=4)
def _load(cls: type, path: str, _version: int) -> Gazetteer:
    with open(path, encoding="utf-8") as handle:
        return cls(yaml.safe_load(handle) or {})


GRAMMAR_PATH = DEFAULT_PATH.parent / "country_grammar.yml"
FORMS = ("to", "in", "for")


class CountryGrammar:
    """A country's name after "to", "in" and "for" in each language (``country_grammar.yml``)."""

    def __init__(self, data: dict):
        self._languages = {str(lang): entry or {} for lang, entry in (data or {}).items()}

    @classmethod
    def from_file(cls, path: Path = GRAMMAR_PATH) -> "CountryGrammar":
        """Load the forms; a missing file gives the bare name for every form."""
        path = Path(path)
        if not path.exists():
            return cls({})
        return _load(cls, str(path), path.stat().st_mtime_ns)

    def forms(self, code: str, name: str, language: str) -> dict[str, str]:
        """``{"to": ..., "in": ..., "for": ...}`` for the country ``code`` named ``name``."""
        entry = self._languages.get(language) or {}
        templates = entry.get("forms") or {}
        chosen = (entry.get("countries") or {}).get(code.upper(), "default")
        if not isinstance(chosen, dict):
            chosen = templates.get(chosen) or templates.get("default") or {}
        fallback = templates.get("default") or {}
        return {form: str(chosen.get(form) or fallback.get(form) or "{name}").replace("{name}", name)
                for form in FORMS}

    def values(self, gazetteer: Gazetteer, code: str, language: str) -> dict[str, str]:
        """The response placeholders for a country: ``country``, ``country_to``, ``country_in``, ``country_for``."""
        name = gazetteer.name(code, language)
        return {"country": name, **{f"country_{form}": text for form, text in self.forms(code, name, language).items()}}

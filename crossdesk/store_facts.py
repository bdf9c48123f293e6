"""The store's facts, read from ``data/store/*.yml``: used by the bot's NLU and by the actions.

Staff edit these files without retraining; the server picks a change up on restart.

* :class:`Gazetteer`: country names in every authored language, normalised to ISO 3166 alpha-2
  (``countries.yml``). Latin-script aliases match whole words, case- and accent-insensitively;
  aliases of 2-3 capital letters (``US``, ``UK``, ``NZ``) match case-sensitively; CJK and Hangul
  aliases match as substrings (no word boundaries there).
* :class:`CountryGrammar`: a country's name after "to", "in" and "for" (``country_grammar.yml``).
* :class:`PaymentMethods`: payment method names (``payment_methods.yml``), matched like countries.
* :class:`StoreFacts`: destinations (delivery days, fees, duties, payment methods) and policies
  (``destinations.yml``, ``policies.yml``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

from crossdesk import yaml_files
from crossdesk.paths import STORE_DATA_DIR

COUNTRIES_PATH = STORE_DATA_DIR / "countries.yml"


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
    def from_file(cls, path: Path = COUNTRIES_PATH) -> "Gazetteer":
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
        return cls(yaml_files.safe_load(handle) or {})


GRAMMAR_PATH = STORE_DATA_DIR / "country_grammar.yml"
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

# -- payment methods ---------------------------------------------------------------------

PAYMENT_METHODS_PATH = STORE_DATA_DIR / "payment_methods.yml"
"""An entry's key is the name ``destinations.yml`` lists under ``payment_methods``, so an answer
can say whether a method is available for a destination."""


class PaymentMethods:
    """Finds payment methods in a text and tells whether a list of offered methods includes one."""

    def __init__(self, data: dict):
        data = {str(name): dict(entry or {}) for name, entry in (data or {}).items()}
        self._covers = {name.upper(): [str(c).upper() for c in entry.pop("covers", None) or []]
                        for name, entry in data.items()}
        self.gazetteer = Gazetteer(data)

    @classmethod
    def from_file(cls, path: Path = PAYMENT_METHODS_PATH) -> "PaymentMethods":
        """Load the catalogue; a missing file gives an empty one (shared per file version)."""
        path = Path(path)
        if not path.exists():
            return cls({})
        return _load_methods(str(path), path.stat().st_mtime_ns)

    def find(self, text: str) -> list:
        """The payment methods named in ``text`` (code = upper-cased key), in order."""
        return self.gazetteer.find(text)

    def name(self, code: str, language: str) -> str:
        """How answers in ``language`` name the method."""
        return self.gazetteer.name(code, language)

    def offered(self, code: str, methods: Iterable[str]) -> bool:
        """Whether ``code`` (or, for a generic name like "card", one it covers) is among ``methods``."""
        offered = {str(m).upper() for m in methods}
        return code.upper() in offered or any(c in offered for c in self._covers.get(code.upper(), []))


@lru_cache(maxsize=4)
def _load_methods(path: str, _version: int) -> PaymentMethods:
    with open(path, encoding="utf-8") as handle:
        return PaymentMethods(yaml_files.safe_load(handle) or {})


# -- destinations and policies ------------------------------------------------------------

_DEFAULT_DESTINATION = {
    "days_min": 7, "days_max": 14, "fee_jpy": 2500, "free_over_jpy": 20000,
    "duties": {"model": "ddu", "threshold": "USD 100", "vat": "local taxes"},
    "payment_methods": ["Visa", "Mastercard", "American Express", "PayPal"],
    "currency": "USD",
}
_DEFAULT_POLICIES = {
    "dispatch_days": 2, "return_days": 30, "refund_days": 7,
    "tracking_url": "https://shop.example/track",
}


def _load_yaml(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml_files.safe_load(handle) or {}


def yen(amount: Any) -> str:
    """Format a JPY amount as shoppers read it: ``¥2,500``."""
    try:
        return f"¥{int(amount):,}"
    except (TypeError, ValueError):
        return str(amount)


@dataclass
class StoreFacts:
    """Destinations (per ISO code, plus a default) and shop policies."""

    destinations: dict = field(default_factory=dict)
    default: dict = field(default_factory=lambda: dict(_DEFAULT_DESTINATION))
    not_shipped: set = field(default_factory=set)
    policies: dict = field(default_factory=lambda: dict(_DEFAULT_POLICIES))

    @classmethod
    def from_dir(cls, directory: Path = STORE_DATA_DIR) -> "StoreFacts":
        """Load ``destinations.yml`` and ``policies.yml`` (defaults if absent)."""
        dest = _load_yaml(Path(directory) / "destinations.yml")
        policies = {**_DEFAULT_POLICIES, **_load_yaml(Path(directory) / "policies.yml")}
        return cls(
            destinations={str(k).upper(): v for k, v in (dest.get("destinations") or {}).items()},
            default={**_DEFAULT_DESTINATION, **(dest.get("default") or {})},
            not_shipped={str(c).upper() for c in dest.get("not_shipped") or []},
            policies=policies,
        )

    def destination(self, code: Optional[str]) -> Optional[dict]:
        """Facts for a destination we ship to (default filled in), else None."""
        if not code or code.upper() in self.not_shipped:
            return None
        known = self.destinations.get(code.upper())
        return {**self.default, **known} if known else None

    def tax_refund(self, destination: dict) -> tuple[str, Optional[int]]:
        """How import taxes and duties come back on a return to ``destination``, and in how many days.

        ``with_return`` (paid at checkout, refunded with the item: the shop's refund days), ``claim``
        (paid on delivery: claimed from customs with our documents) or ``none``.
        """
        duties = destination.get("duties") or {}
        refund = duties.get("refund") or ("with_return" if duties.get("model") == "ddp" else "claim")
        if refund == "with_return":
            return refund, self.policies.get("refund_days")
        if refund == "claim":
            return refund, duties.get("refund_days") or self.default.get("duties", {}).get("refund_days") or 30
        return refund, None

    def destination_or_default(self, code: Optional[str]) -> Optional[dict]:
        """Facts for a destination: its own, the default for one we ship to without a list entry
        (answers then name the country instead of asking for it again), None without a destination."""
        if not code or not self.ships_to(code):
            return None
        return self.destination(code) or dict(self.default)

    def ships_to(self, code: str) -> bool:
        """Whether we ship to ``code`` (listed destinations and unlisted, not banned, ones)."""
        return code.upper() not in self.not_shipped

    def shipping_values(self, dest: dict) -> dict:
        """Delivery days and fees for a destination (``self.default`` for the generic answer)."""
        return {
            "days_min": dest["days_min"], "days_max": dest["days_max"],
            "dispatch_days": self.policies["dispatch_days"],
            "fee": yen(dest["fee_jpy"]), "free_over": yen(dest["free_over_jpy"]),
        }

    @staticmethod
    def duty_values(dest: dict, language: str) -> dict:
        """The destination's import taxes in ``language`` (``vat_i18n``, else ``vat``) and duty threshold."""
        duties = dest.get("duties") or {}
        return {"vat": (duties.get("vat_i18n") or {}).get(language) or duties.get("vat", ""),
                "threshold": duties.get("threshold", "")}

    def destination_values(self, dest: dict, language: str) -> dict:
        """Everything an answer or a macro may say about a destination: delivery, payment methods, taxes."""
        return {**self.shipping_values(dest), "methods": ", ".join(dest.get("payment_methods") or []),
                **self.duty_values(dest, language)}

    def destination_count(self) -> int:
        """How many destinations have explicit facts."""
        return len(self.destinations)

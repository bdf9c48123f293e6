"""Payment method names in every authored language (``data/store/payment_methods.yml``).

Matched like country names (:class:`bot.countries.Gazetteer`); an entry's key is the
name ``data/store/destinations.yml`` lists under ``payment_methods``, so an answer can
say whether a method is available for a destination.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from bot.countries import Gazetteer

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "store" / "payment_methods.yml"


class PaymentMethods:
    """Finds payment methods in a text and tells whether a list of offered methods includes one."""

    def __init__(self, data: dict):
        data = {str(name): dict(entry or {}) for name, entry in (data or {}).items()}
        self._covers = {name.upper(): [str(c).upper() for c in entry.pop("covers", None) or []]
                        for name, entry in data.items()}
        self.gazetteer = Gazetteer(data)

    @classmethod
    def from_file(cls, path: Path = DEFAULT_PATH) -> "PaymentMethods":
        """Load the catalogue; a missing file gives an empty one (shared per file version)."""
        path = Path(path)
        if not path.exists():
            return cls({})
        return _load(str(path), path.stat().st_mtime_ns)

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
def _load(path: str, _version: int) -> PaymentMethods:
    with open(path, encoding="utf-8") as handle:
        return PaymentMethods(yaml.safe_load(handle) or {})

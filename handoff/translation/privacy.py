"""Keep private data and fixed strings out of machine translation.

``protect`` swaps card numbers, e-mail addresses and phone numbers for tokens like
``[#1]`` before a text leaves for a provider; ``restore`` puts back a masked form
(``**** **** **** 4242``, ``j***@example.com``, ``***-***-5678``) so the agent never sees
the full value. Order ids and protected terms become tokens too and come back verbatim,
so they pass untranslated.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

TOKEN = re.compile(r"[\[［]\s*[#＃]\s*(\d{1,4})\s*[\]］]")
"""A token as sent (``[#1]``) or as a provider may return it (``[# 1]``, full-width ``［＃１］``)."""

_SPLIT = re.compile(f"({TOKEN.pattern})")

_SEP = "[ .\\-\u3000\uff0d\uff0e]"  # space, dot, dash and their full-width forms (Japanese IMEs)

NUMBER_RUN = re.compile(r"(?<!\d)\d+(?:[ \-\u3000\uff0d]\d+)*(?!\d)")
"""Digit groups joined by spaces or dashes: where card numbers hide."""
CARD_SHAPES = {(4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 4), (4, 4, 4, 4, 1),
               (4, 4, 4, 4, 2), (4, 4, 4, 4, 3), (4, 6, 4), (4, 6, 5)}
"""Groupings printed on cards (13-19 digits); an ungrouped 13-19 digit run counts too."""
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(
    rf"(?<![0-9A-Za-z+＋])(?<!\d{_SEP})(?:"  # not part of a longer run of digit groups
    rf"[+＋]\d{{1,3}}{_SEP}?(?:[(（]\d{{1,4}}[)）]{_SEP}?)?\d{{1,4}}(?:{_SEP}?\d{{2,4}}){{1,4}}"  # +81 90-1234-5678
    rf"|[(（]\d{{2,4}}[)）]{_SEP}?\d{{3,4}}{_SEP}?\d{{3,4}}"  # (555) 123-4567
    rf"|\d{{2,4}}{_SEP}\d{{3,4}}{_SEP}\d{{3,4}}"  # 090-1234-5678, 555-123-4567
    r"|[0０]\d{9,10}"  # 09012345678 (a national number written without separators)
    rf")(?![0-9A-Za-z])(?!{_SEP}\d)"
)
ORDER_ID = re.compile(
    r"(?<![0-9A-Za-z#])(?:"
    r"#(?=[A-Za-z0-9-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"  # #A10234, #4501-22871
    r"|[A-Z]{1,4}-?\d{4,}(?:-\d+)*"  # A10234, AB-10234
    r"|\d{3,6}-\d{4,8}"  # 4501-22871
    r")(?![0-9A-Za-z])"
)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (as every card number does)."""
    total = 0
    for index, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if index % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def mask_card(value: str) -> str:
    """``**** **** **** 4242``: only the last four digits."""
    return "**** **** **** " + _digits(value)[-4:]


def mask_email(value: str) -> str:
    """``j***@example.com``: the first character and the domain."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    """``***-***-5678``: only the last four digits."""
    return "***-***-" + _digits(value)[-4:]


def _card_shaped(groups: list[str]) -> bool:
    sizes = tuple(len(g) for g in groups)
    digits = "".join(groups)
    if not (sizes in CARD_SHAPES or (len(groups) == 1 and 13 <= len(digits) <= 19)):
        return False
    return luhn_valid(digits)


def find_card(run: str) -> tuple[int, int] | None:
    """Character span of the first (longest) card number inside a run of digit groups."""
    spans = [m.span() for m in re.finditer(r"\d+", run)]
    for first in range(len(spans)):
        for last in range(min(len(spans), first + 5) - 1, first - 1, -1):
            groups = [run[a:b] for a, b in spans[first:last + 1]]
            if _card_shaped(groups):
                return spans[first][0], spans[last][1]
    return None


def _phone(value: str) -> bool:
    count = len(_digits(value))
    return 8 <= count <= 15 if value[0] in "+(＋（" else 10 <= count <= 15


def _term_pattern(terms: Iterable[str]) -> re.Pattern | None:
    """Terms, longest first, case-insensitive, not glued to Latin letters or digits."""
    parts = []
    for term in sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True):
        before = r"(?<![0-9A-Za-z])" if term[0].isascii() and term[0].isalnum() else ""
        after = r"(?![0-9A-Za-z])" if term[-1].isascii() and term[-1].isalnum() else ""
        parts.append(before + re.escape(term) + after)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class _Masker:
    """Swaps values for numbered tokens, one token per distinct value, outside existing tokens."""

    def __init__(self) -> None:
        self.restore_map: dict[str, str] = {}
        self._tokens: dict[str, str] = {}

    def token(self, value: str, shown: str) -> str:
        """The token for ``value``; the reader will see ``shown`` in its place."""
        key = f"{shown}\0{value}"
        if key not in self._tokens:
            self._tokens[key] = f"[#{len(self._tokens) + 1}]"
            self.restore_map[self._tokens[key]] = shown
        return self._tokens[key]

    def cards(self, run: str) -> str:
        """Tokenise every card number in a run of digit groups."""
        span = find_card(run)
        if span is None:
            return run
        start, end = span
        return run[:start] + self.token(run[start:end], mask_card(run[start:end])) + self.cards(run[end:])

    def values(self, shown: Callable[[str], str], accept: Callable[[str], bool] = lambda _: True):
        """A replacement function tokenising the accepted matches."""
        def replace(value: str) -> str:
            return self.token(value, shown(value)) if accept(value) else value
        return replace

    @staticmethod
    def outside_tokens(text: str, pattern: re.Pattern, replace: Callable[[str], str]) -> str:
        """``pattern.sub`` on the text between tokens only."""
        parts = _SPLIT.split(text)  # text, token, token's digits, text, ...
        return "".join(part if index % 3 else pattern.sub(lambda m: replace(m.group(0)), part)
                       for index, part in enumerate(parts) if index % 3 != 2)


def _verbatim(value: str) -> str:
    return value


def protect(text: str, terms: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Mask private data and tokenise fixed strings before ``text`` is translated.

    Args:
        text: the message as written.
        terms: brand or product names never translated (matched case-insensitively).

    Returns:
        (masked text, restore map): the map takes each token to what the reader sees.
    """
    masker = _Masker()
    # Token-like text the writer typed is protected too, so restore() can't misread it.
    masked = TOKEN.sub(lambda m: masker.token(m.group(0), m.group(0)), text)
    steps = [
        (NUMBER_RUN, masker.cards),
        (EMAIL, masker.values(mask_email)),
        (PHONE, masker.values(mask_phone, _phone)),
        (_term_pattern(terms), masker.values(_verbatim)),
        (ORDER_ID, masker.values(_verbatim)),
    ]
    for pattern, replace in steps:
        if pattern is not None:
            masked = masker.outside_tokens(masked, pattern, replace)
    return masked, masker.restore_map


def restore(translated: str, restore_map: dict[str, str]) -> str:
    """Put the reader's form of each token back into a translation."""
    if not restore_map:
        return translated

    def replace(match: re.Match) -> str:
        return restore_map.get(f"[#{int(match.group(1))}]", match.group(0))

    return TOKEN.sub(replace, translated)

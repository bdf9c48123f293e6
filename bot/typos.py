"""Seeded character edits ("typos"): the held-out typo test's noise and the training examples' noisy copies.

One edit is an insert, delete, substitute or transpose at a random place. In text with CJK or Hangul
the inserted or substituted character is one of the message's own; elsewhere a Latin letter.
"""

from __future__ import annotations

import random
import re

from crossdesk.words import CJK, HANGUL

LATIN_LETTERS = "abcdefghijklmnopqrstuvwxyz"
TYPO_COPY = "typo_copy"
"""Key set on a training example's noisy copy (``bot.components.TypoCopies``): no vocabulary is learnt from it."""
_CJK_CHAR = re.compile(rf"[{CJK}{HANGUL}]")


def edit(text: str, rng: random.Random) -> str:
    """One random insert, delete, substitute or transpose; CJK and Hangul take a character of the message."""
    cjk = bool(_CJK_CHAR.search(text))
    pool = [c for c in text if not c.isspace()] if cjk else list(LATIN_LETTERS)
    operation = rng.choice(("insert", "delete", "substitute", "transpose"))
    if len(text) < 2:
        operation = "insert"
    at = rng.randrange(len(text))
    if operation == "insert":
        return text[:at] + rng.choice(pool) + text[at:]
    if operation == "delete":
        return text[:at] + text[at + 1:]
    if operation == "substitute":
        others = [c for c in pool if c != text[at]] or pool
        return text[:at] + rng.choice(others) + text[at + 1:]
    at = min(at, len(text) - 2)
    return text[:at] + text[at + 1] + text[at] + text[at + 2:]


def with_typos(text: str, rng: random.Random) -> str:
    """``text`` with 1 or 2 character edits (insert, delete, substitute, transpose); never unchanged."""
    for _ in range(20):
        noisy = text
        for _ in range(rng.choice((1, 2))):
            noisy = edit(noisy, rng)
        if noisy != text:
            return noisy
    return text + rng.choice(LATIN_LETTERS)

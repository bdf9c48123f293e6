"""What the store never keeps in clear: card numbers are masked before a message is stored.

The detection is the translation path's (``handoff/translation/privacy.py``):
13-19 Luhn-valid digits, ungrouped or grouped as printed on cards, joined by
spaces or dashes (also full-width ones). Only the last four digits are kept,
in the same form the translation path shows: ``**** **** **** 4242``.
"""

from __future__ import annotations

import re

from handoff.translation.privacy import NUMBER_RUN, find_card, mask_card

MIN_CARD_DIGITS = 13
ENOUGH_DIGITS = re.compile(r"\d(?:\D*\d){%d}" % (MIN_CARD_DIGITS - 1))
"""13 digits anywhere in the text: without them there is no card number to look for."""


def mask_card_numbers(text: str) -> str:
    """``text`` with every card number masked (the same object when there is none).

    Runs on every stored message, so it first looks for 13 digits: a text
    with fewer cannot hold a card number and never reaches the card search.
    """
    if ENOUGH_DIGITS.search(text) is None:
        return text
    return NUMBER_RUN.sub(_mask_match, text)


def _mask_match(match: re.Match) -> str:
    run = match.group(0)
    return run if len(run) < MIN_CARD_DIGITS else _mask_run(run)  # dates, order ids, prices


def _mask_run(run: str) -> str:
    span = find_card(run)
    if span is None:
        return run
    start, end = span
    return run[:start] + mask_card(run[start:end]) + _mask_run(run[end:])

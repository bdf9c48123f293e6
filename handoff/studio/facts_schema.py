"""What a store fact may be (``data/store/destinations.yml``, ``policies.yml``), and setting one in place.

``validate`` turns a JSON value into the value to store or raises
``ContentError`` with a message staff can act on; nothing is written then.
"""

from __future__ import annotations

import re
from typing import Any

from crossdesk.store_facts import Gazetteer
from bot.language import AUTHORED

FILES = ("destinations", "policies")
MAX_DAYS = 365
MAX_YEN = 10_000_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_THRESHOLD = re.compile(r"^[A-Z]{3} \d+(\.\d+)?$")
_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$")
DESTINATION_FIELDS = ("days_min", "days_max", "fee_jpy", "free_over_jpy", "duties", "payment_methods", "currency")
POLICY_FIELDS = ("dispatch_days", "return_days", "refund_days", "tracking_url", "export_tax_free")
DUTY_REFUNDS = ("with_return", "claim", "none")


def _error(message: str):
    from handoff.studio.content import ContentError

    return ContentError("invalid_fact", message)


def _whole(value: Any, low: int, high: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(f"{name} must be a whole number from {low} to {high}")
    return value


def _text(value: Any, name: str, limit: int = 80) -> str:
    if (not isinstance(value, str) or not value.strip() or len(value) > limit
            or any(not c.isprintable() for c in value)):
        raise _error(f"{name} must be text of 1-{limit} printable characters")
    return value.strip()


def _field(name: str, value: Any) -> Any:
    """A destination field's value, checked."""
    if name in ("days_min", "days_max"):
        return _whole(value, 0, MAX_DAYS, name)
    if name in ("fee_jpy", "free_over_jpy"):
        return _whole(value, 0, MAX_YEN, name)
    if name == "currency":
        if not isinstance(value, str) or not _CURRENCY.match(value):
            raise _error("currency must be an ISO 4217 code like EUR")
        return value
    if name == "payment_methods":
        if not isinstance(value, list) or not 1 <= len(value) <= 20:
            raise _error("payment_methods must be a list of 1-20 methods")
        return [_text(method, "a payment method", 40) for method in value]
    if name == "duties":
        if not isinstance(value, dict):
            raise _error("duties must be an object with model, threshold and vat")
        return {key: _duty(key, v) for key, v in value.items()}
    raise _error(f"{name} is not a destination fact ({', '.join(DESTINATION_FIELDS)})")


def _duty(name: str, value: Any) -> Any:
    if name == "model":
        if value not in ("ddp", "ddu"):
            raise _error("duties.model must be ddp (taxes paid at checkout) or ddu (paid on delivery)")
        return value
    if name == "threshold":
        if not isinstance(value, str) or not _THRESHOLD.match(value):
            raise _error("duties.threshold must be a currency code and an amount, like 'USD 800'")
        return value
    if name == "vat":
        return _text(value, "duties.vat")
    if name == "refund":
        if value not in DUTY_REFUNDS:
            raise _error("duties.refund must be with_return (refunded with the item), claim (the shopper "
                         "claims it back from customs) or none")
        return value
    if name == "refund_days":
        return _whole(value, 0, MAX_DAYS, "duties.refund_days")
    if name == "vat_i18n":
        if not isinstance(value, dict) or any(lang not in AUTHORED for lang in value):
            raise _error(f"duties.vat_i18n must map languages ({', '.join(AUTHORED)}) to text")
        return {lang: _text(text, f"duties.vat_i18n.{lang}") for lang, text in value.items()}
    raise _error(f"duties.{name} is not a duty fact (model, threshold, vat, vat_i18n, refund, refund_days)")


def _code(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in Gazetteer.from_file().codes():
        raise _error(f"{value!r} is not a country code we know (ISO 3166 alpha-2, e.g. DE)")
    return value.upper()


def validate(file: Any, path: Any, value: Any) -> Any:
    """The value to store at ``path`` of ``file``, checked (ContentError otherwise)."""
    if file not in FILES:
        raise _error(f"file must be one of {', '.join(FILES)}")
    if not isinstance(path, list) or not path or not all(isinstance(p, str) and p for p in path):
        raise _error("path must be a non-empty list of names")
    if file == "policies":
        if len(path) != 1 or path[0] not in POLICY_FIELDS:
            raise _error(f"a policy is one of {', '.join(POLICY_FIELDS)}")
        if path[0] == "export_tax_free":
            if not isinstance(value, bool):
                raise _error("export_tax_free must be true or false")
            return value
        if path[0] == "tracking_url":
            if not isinstance(value, str) or not _URL.match(value):
                raise _error("tracking_url must be an http(s) address")
            return value
        return _whole(value, 0, MAX_DAYS, path[0])
    head, rest = path[0], path[1:]
    if head == "not_shipped":
        if rest or not isinstance(value, list):
            raise _error("not_shipped must be a list of country codes")
        return [_code(code) for code in value]
    if head == "destinations":
        if not rest:
            raise _error("name a destination: ['destinations', 'DE', ...]")
        _code(rest[0])
        if rest[0] != rest[0].upper():
            raise _error("country codes are written in capitals (DE)")
        rest = rest[1:]
        if not rest:
            if not isinstance(value, dict):
                raise _error("a destination is an object of facts")
            return {name: _field(name, v) for name, v in value.items()}
    elif head != "default":
        raise _error("a destinations fact is under default, destinations or not_shipped")
    if not rest:
        if not isinstance(value, dict):
            raise _error("the default is an object of facts")
        return {name: _field(name, v) for name, v in value.items()}
    if rest[0] == "duties" and len(rest) >= 2:
        if len(rest) == 3 and rest[1] == "vat_i18n":
            if rest[2] not in AUTHORED:
                raise _error(f"duties.vat_i18n has the languages {', '.join(AUTHORED)}")
            return _text(value, f"duties.vat_i18n.{rest[2]}")
        if len(rest) != 2:
            raise _error("path is too long")
        return _duty(rest[1], value)
    if len(rest) != 1:
        raise _error("path is too long")
    return _field(rest[0], value)


def check_file(file: str, data: dict) -> None:
    """Checks across facts after a change (a destination's days_min not above its days_max)."""
    if file != "destinations":
        return
    default = data.get("default") or {}
    for code, facts in [("default", default), *((data.get("destinations") or {}).items())]:
        merged = {**default, **(facts or {})}
        low, high = merged.get("days_min"), merged.get("days_max")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            raise _error(f"{code}: days_min ({low}) is more than days_max ({high})")


def assign(data: Any, path: list, value: Any) -> None:
    """Set ``value`` at ``path`` in round-trip data, keeping the style of what it replaces."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node = data
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = CommentedMap()
        node = child
    old = node.get(path[-1])
    node[path[-1]] = _styled(value, old, CommentedMap, CommentedSeq)


def _styled(value: Any, old: Any, map_type, seq_type) -> Any:
    if isinstance(value, list):
        seq = seq_type(value)
        if isinstance(old, seq_type) and old.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        if isinstance(old, map_type):  # update in place: keys' order and comments stay
            for key, item in value.items():
                old[key] = _styled(item, old.get(key), map_type, seq_type)
            return old
        return map_type({key: _styled(item, None, map_type, seq_type) for key, item in value.items()})
    if isinstance(old, str) and type(old) is not str and isinstance(value, str):
        return type(old)(value)  # keep its quotes
    return value

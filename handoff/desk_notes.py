"""The agents' desk notes (issue #19): private notes and tags, macros, verified customer identity.

Pure logic (validation, macro variables, HMAC verification) plus ``Identities``, which links a
conversation to the shop's customer as the shopper's messages arrive. Storage:
``handoff/store/desk_notes.py``; HTTP routes: ``handoff/desk_notes_api.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from typing import Any, Optional

from crossdesk.languages import AUTHORED
from crossdesk.store_facts import CountryGrammar, Gazetteer, StoreFacts
from handoff.plain_json import is_text

TAG_RE = re.compile(r"^[a-z0-9-]{1,32}\Z")
MAX_NOTE_CHARS = 4000
MAX_MACRO_TITLE_CHARS = 80
MAX_MACRO_TEXT_CHARS = 2000
VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# From the conversation; the store facts' names are those the bot's answers use (bot/responses/*.yml).
CONVERSATION_VARIABLES = ("shopper_name", "destination", "order_id")
FACT_VARIABLES = ("country", "country_to", "country_in", "country_for", "days_min", "days_max", "dispatch_days",
                  "fee", "free_over", "methods", "vat", "threshold", "return_days", "refund_days", "tracking_url")
VARIABLES = CONVERSATION_VARIABLES + FACT_VARIABLES
CACHED_IDENTITIES = 10_000


class DeskError(ValueError):
    """Bad input: ``code`` and ``message`` go to the client as-is."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalise_tag(value: Any) -> str:
    """A tag as stored: trimmed, lower-case, spaces and underscores as hyphens; ``[a-z0-9-]{1,32}``."""
    if not is_text(value):
        raise DeskError("invalid_tag", "'tag' must be a string")
    tag = re.sub(r"[\s_]+", "-", value.strip().lower())
    if not TAG_RE.match(tag):
        raise DeskError("invalid_tag", "a tag is 1-32 letters a-z, digits or hyphens")
    return tag


def note_text(value: Any) -> str:
    """A note's text: non-blank, at most ``MAX_NOTE_CHARS``."""
    if not is_text(value) or not value.strip():
        raise DeskError("invalid_note", "'text' must be a non-empty string")
    if len(value) > MAX_NOTE_CHARS:
        raise DeskError("note_too_long", f"a note is at most {MAX_NOTE_CHARS} characters")
    return value.strip()


def parse_macro(data: Any) -> tuple[str, str, dict[str, str], bool]:
    """``{title, source_language, texts: {language: text}, shared?}`` -> (title, source, texts, shared)."""
    if not isinstance(data, dict):
        raise DeskError("invalid_payload", "expected a JSON object")
    title = data.get("title")
    if not is_text(title) or not title.strip() or len(title) > MAX_MACRO_TITLE_CHARS:
        raise DeskError("invalid_title", f"'title' must be 1-{MAX_MACRO_TITLE_CHARS} characters")
    texts = data.get("texts")
    if not isinstance(texts, dict) or not texts:
        raise DeskError("invalid_texts", "'texts' must map languages to texts")
    clean = {}
    for language, text in texts.items():
        if language not in AUTHORED:
            raise DeskError("invalid_language", f"{language!r} is not one of {', '.join(AUTHORED)}")
        if not is_text(text) or not text.strip() or len(text) > MAX_MACRO_TEXT_CHARS:
            raise DeskError("invalid_texts", f"each text must be 1-{MAX_MACRO_TEXT_CHARS} characters")
        unknown = sorted(set(VARIABLE_RE.findall(text)) - set(VARIABLES))
        if unknown:
            raise DeskError("unknown_variable", f"unknown variable(s): {', '.join(unknown)}; known: "
                                                f"{', '.join(VARIABLES)}")
        clean[language] = text.strip()
    source = data.get("source_language") or next(iter(clean))
    if source not in clean:
        raise DeskError("invalid_language", "'source_language' must be one of the languages in 'texts'")
    shared = data.get("shared", False)
    if type(shared) is not bool:
        raise DeskError("invalid_payload", "'shared' must be true or false")
    return title.strip(), source, clean, shared


def macro_values(bundle: dict, facts: StoreFacts, language: str) -> dict:
    """What a macro's variables are filled with for one conversation, in ``language``.

    The destination is the conversation's ``country`` slot: its facts (delivery days, fees,
    duties, payment methods) as the bot would answer them for it, never the shop's default
    destination when the conversation has none (those variables then stay missing).
    """
    policies = facts.policies
    values: dict = {"return_days": policies.get("return_days"), "refund_days": policies.get("refund_days"),
                    "tracking_url": policies.get("tracking_url"), "dispatch_days": policies.get("dispatch_days")}
    context = bundle.get("context") or {}
    name = ((context.get("user") or {}).get("name") or (context.get("contact") or {}).get("name"))
    if name:
        values["shopper_name"] = name
    slots = bundle.get("slots") or {}
    if slots.get("order_id"):
        values["order_id"] = slots["order_id"]
    code = slots.get("country")
    if code:
        country = Gazetteer.from_file().name(code, language)
        values.update(destination=country, country=country,
                      **{f"country_{form}": text
                         for form, text in CountryGrammar.from_file().forms(code, country, language).items()})
        dest = facts.destination_or_default(code)
        if dest:
            values.update(facts.destination_values(dest, language))
    return {key: value for key, value in values.items() if value not in (None, "")}


def fill(template: str, values: dict) -> tuple[str, list[str]]:
    """The template with its variables filled, and the variables left unfilled (kept as ``{name}``)."""
    missing: list[str] = []

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return VARIABLE_RE.sub(one, template), missing


def unfilled(text: str) -> list[str]:
    """Macro variables still written as ``{name}`` in a reply (it must not reach the shopper so)."""
    return sorted({name for name in VARIABLE_RE.findall(text) if name in VARIABLES})


# -- identity -------------------------------------------------------------------------
def identity_hash(secret: str, customer_id: str) -> str:
    """The hex HMAC-SHA256 of the customer's id: what the shop's server computes for ``setUser``."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def is_verified(secret: str, customer_id: Optional[str], digest: Optional[str]) -> bool:
    """Whether ``digest`` signs ``customer_id`` with our secret (constant-time; no secret: never)."""
    if not secret or not customer_id or not digest:
        return False
    return hmac.compare_digest(identity_hash(secret, customer_id), digest.lower())


class Identities:
    """Links conversations to the shop's customers as ``metadata.user`` arrives with shopper messages.

    Args:
        store: where links are kept (``DeskNotesStore``).
        secret: ``CROSSDESK_IDENTITY_SECRET``; empty: every identity is unverified.
    """

    def __init__(self, store, secret: str):
        self.store = store
        self.secret = secret
        self._seen: OrderedDict = OrderedDict()  # conversation -> the user last linked: one write per change

    def observe(self, conversation_id: str, metadata: dict) -> dict:
        """Link the conversation to ``metadata.user`` (verified or not); returns the metadata to store,
        without the hash (it proves the id once; it is not kept)."""
        user = metadata.get("user") if isinstance(metadata, dict) else None
        if not isinstance(user, dict):
            return metadata
        if user.get("id"):
            key = (user.get("id"), user.get("email"), user.get("name"), user.get("hash"))
            if self._seen.get(conversation_id) != key:
                verified = is_verified(self.secret, user["id"], user.get("hash"))
                self.store.link_customer(conversation_id, user["id"], user.get("email"), user.get("name"), verified)
                self._seen[conversation_id] = key
                self._seen.move_to_end(conversation_id)
                while len(self._seen) > CACHED_IDENTITIES:
                    self._seen.popitem(last=False)
        if "hash" not in user:
            return metadata
        return {**metadata, "user": {k: v for k, v in user.items() if k != "hash"}}

    def forget(self, conversation_ids: list[str]) -> None:
        """Erased conversations: link again if they come back."""
        for conversation_id in conversation_ids:
            self._seen.pop(conversation_id, None)

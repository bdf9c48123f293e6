"""Socket.IO event names and payload shapes: the one place that defines them.

The shopper namespace ``/`` speaks Rasa's socket.io protocol
(``session_request`` -> ``session_confirm``, ``user_uttered`` -> ``bot_uttered``)
so existing Rasa widgets work unmodified. Everything else is additive: extra
keys in Rasa's payloads and extra ``crossdesk:*`` events, sent only to sockets
that opted in to them (``EXTENSIONS_KEY``). Documented in ``docs/protocol.md``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Optional

from handoff.business_hours import zone
from handoff.plain_json import encoded_size, is_text, problem

# -- shopper namespace "/" (Rasa protocol) -----------------------------------
SHOPPER_NAMESPACE = "/"
SESSION_REQUEST = "session_request"
SESSION_CONFIRM = "session_confirm"
USER_UTTERED = "user_uttered"
BOT_UTTERED = "bot_uttered"

# -- Crossdesk extensions ------------------------------------------------------
HISTORY = "crossdesk:history"  # transcript replay after session_confirm
ERROR = "crossdesk:error"  # a rejected event: {code, message, event}
TYPING = "crossdesk:typing"  # the agent is typing: {sender, name, typing}
SHOPPER_ECHO = "crossdesk:shopper_message"  # a message from another tab of the same session
CONTACT = "crossdesk:contact"  # shopper -> server {email, name?}: reach me later
QUEUE = "crossdesk:queue"  # server -> shopper: {position, expected_wait_seconds} while queued (null: left it)

# A socket opts in to the extensions with ``session_request {..., extensions: 1}``
# (the version it understands). Without it (rasa-webchat, Rasa's own clients, a
# ``user_uttered`` before any ``session_request``) it gets Rasa's events only, and
# ``bot_uttered`` with exactly Rasa's keys: rasa-webchat drops any other shape.
EXTENSIONS_KEY = "extensions"
EXTENSIONS_VERSION = 1  # what this server speaks; a newer client asking for more gets this

# -- agent namespace "/agent" (authenticated) ---------------------------------
AGENT_NAMESPACE = "/agent"
AGENT_HELLO = "agent:hello"  # server -> agent after connect: {agent, queue, conversations}
AGENT_QUEUE = "agent:queue"  # server -> agents: {queue: [...]}
AGENT_SHOPPER_MESSAGE = "agent:shopper_message"  # server -> assigned agent
AGENT_SHOPPER_TYPING = "agent:shopper_typing"  # server -> assigned agent: {conversation_id, typing}
AGENT_CLAIM = "claim"  # agent -> server {conversation_id}; ack {ok, conversation}
AGENT_SEND = "send"  # agent -> server {conversation_id, text, message_id?}; ack {ok, id}
AGENT_TYPING = "typing"  # agent -> server {conversation_id, typing}
AGENT_HANDBACK = "handback"  # agent -> server {conversation_id}
AGENT_RESOLVE = "resolve"  # agent -> server {conversation_id, outcome?}
AGENT_TRANSFER = "transfer"  # agent -> server {conversation_id, agent_id}
AGENT_PRESENCE = "presence"  # agent -> server {status: "online" | "away"}
AGENT_AGENTS = "agent:agents"  # server -> agents: {agents: [{id, display_name, languages, status, load}]}
AGENT_ASSIGNED = "agent:assigned"  # server -> agent: {conversation: Bundle} (a transfer to them)
AGENT_TRANSLATION = "agent:translation"  # server -> agent: {conversation_id, message_id, translation}
AGENT_TRANSLATE = "translate"  # agent -> server {conversation_id, text}; ack {ok, translation}
AGENT_TICKET = "agent:ticket"  # server -> agents: {ticket, change, mail?}: a ticket opened or changed
AGENT_TICKET_ESCALATION = "agent:ticket_escalation"  # server -> agents/admins: {ticket, level, escalated_to?}
PRESENCE_STATES = ("online", "away")
UNFILLED_VARIABLE = "unfilled_variable"  # send refused: a macro variable is still written as {name}
SESSION_ENDED = "session_ended"  # crossdesk:error code: the socket's login stopped working; it is disconnected
SESSION_END_MESSAGES = {  # crossdesk:error {code: session_ended, reason, message}
    "logged_out": "you logged out",
    "expired": "your login expired: log in again",
    "deactivated": "your account was deactivated",
}

# \Z, not $: "$" also matches before a trailing newline, so "<id>\n" passed as an id.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MAX_METADATA_BYTES = 4096
MAX_LOCALE_CHARS = 35
MAX_PAGE_CHARS = 2048
MAX_USER_FIELD_CHARS = 200
USER_FIELDS = ("id", "name", "email")
# Identity verification (``Crossdesk.setUser({id, email, name, hash})``, docs/protocol.md):
# ``hash`` is the hex HMAC-SHA256 of ``id`` with CROSSDESK_IDENTITY_SECRET.
USER_HASH_RE = re.compile(r"^[0-9a-fA-F]{64}\Z")


class ProtocolError(Exception):
    """A payload we refuse; ``code`` and ``message`` go to the client as-is."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


RATE_LIMITED = "rate_limited"  # over a per-socket or per-address message limit
BUSY = "busy"  # too many messages of the conversation are waiting for the bot


class RetryLater(ProtocolError):
    """A refused event (nothing stored) the client may send again after ``retry_after`` seconds."""

    def __init__(self, code: str, message: str, retry_after: float):
        super().__init__(code, message)
        self.retry_after = retry_after


def error_payload(error: ProtocolError, event: str) -> dict:
    """The ``crossdesk:error`` payload (with ``retry_after`` when the client may try again)."""
    payload = {"code": error.code, "message": error.message, "event": event}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        payload["retry_after"] = retry_after
    return payload


def new_session_id() -> str:
    """An unguessable session id (128 bits)."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class SessionRequest:
    """A validated ``session_request``."""

    session_id: Optional[str]
    locale: Optional[str] = None
    extensions: int = 0  # the extensions version the socket understands; 0: Rasa's protocol only


@dataclass(frozen=True)
class UserUttered:
    """A validated ``user_uttered``."""

    text: str
    session_id: Optional[str]
    client_id: Optional[str]
    metadata: dict


def _optional_str(data: dict, key: str, pattern: re.Pattern, code: str) -> Optional[str]:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise ProtocolError(code, f"'{key}' must match {pattern.pattern}")
    return value


def parse_session_request(data: Any) -> SessionRequest:
    """Validate ``session_request`` (``{session_id}``; a missing id means "new")."""
    if data is None:
        return SessionRequest(None)
    if not isinstance(data, dict):
        raise ProtocolError("invalid_payload", "session_request expects an object")
    session_id = _optional_str(data, "session_id", SESSION_ID_RE, "invalid_session_id")
    locale = data.get("locale")
    if locale is not None and not (is_text(locale) and len(locale) <= 35):
        raise ProtocolError("invalid_locale", "'locale' must be a short string")
    return SessionRequest(session_id, locale, _extensions(data.get(EXTENSIONS_KEY)))


def _extensions(value: Any) -> int:
    """``extensions`` of a ``session_request``: absent/false/0 -> 0, true -> 1, a version -> ours at most."""
    if value is None or value is False:
        return 0
    if value is True:
        return EXTENSIONS_VERSION
    if isinstance(value, int) and value >= 0:
        return min(value, EXTENSIONS_VERSION)
    raise ProtocolError("invalid_extensions", f"'{EXTENSIONS_KEY}' must be a version number ({EXTENSIONS_VERSION}) or a boolean")


def _metadata(data: dict) -> dict:
    # rasa-webchat sends customData, newer clients metadata: accept either.
    metadata = data.get("metadata")
    if metadata is None:
        metadata = data.get("customData")
    if metadata is None:
        return {}
    if type(metadata) is not dict:
        raise ProtocolError("invalid_metadata", "'metadata' must be an object")
    if not metadata:
        return metadata
    why = problem(metadata)
    if why:
        raise ProtocolError("invalid_metadata", f"'metadata' {why}")
    size = encoded_size(metadata)
    if size is None:
        raise ProtocolError("invalid_metadata", "'metadata' has a lone surrogate (half a character)")
    if size > MAX_METADATA_BYTES:
        raise ProtocolError("metadata_too_large", f"'metadata' is over {MAX_METADATA_BYTES} bytes")
    _check_known_metadata(metadata)
    return metadata


def _check_known_metadata(metadata: dict) -> None:
    """The keys Crossdesk reads have fixed types (``locale`` is stored in a 35-character column)."""
    locale = metadata.get("locale")
    if locale is not None and not (is_text(locale) and len(locale) <= MAX_LOCALE_CHARS):
        raise ProtocolError("invalid_locale",
                            f"'metadata.locale' must be a string of at most {MAX_LOCALE_CHARS} characters")
    page = metadata.get("page")
    if page is not None and not (type(page) is str and len(page) <= MAX_PAGE_CHARS):
        raise ProtocolError("invalid_metadata",
                            f"'metadata.page' must be a string of at most {MAX_PAGE_CHARS} characters")
    timezone = metadata.get("timezone")
    if timezone is not None and zone(timezone) is None:
        raise ProtocolError("invalid_timezone", "'metadata.timezone' must be an IANA time zone (e.g. Asia/Tokyo)")
    user = metadata.get("user")
    if user is None:
        return
    if type(user) is not dict or any(
            user.get(key) is not None and not (type(user[key]) is str and len(user[key]) <= MAX_USER_FIELD_CHARS)
            for key in USER_FIELDS):
        raise ProtocolError("invalid_metadata", "'metadata.user' must be an object whose id, name and email are "
                                                f"strings of at most {MAX_USER_FIELD_CHARS} characters")
    _check_identity(user)


def _check_identity(user: dict) -> None:
    """The fields identity verification reads: a non-blank id, an e-mail's shape, a hex HMAC with an id."""
    if user.get("id") is not None and not user["id"].strip():
        raise ProtocolError("invalid_user", "'metadata.user.id' must not be blank")
    email = user.get("email")
    if email and not EMAIL_RE.match(email.strip()):
        raise ProtocolError("invalid_email", "'metadata.user.email' must be an e-mail address")
    digest = user.get("hash")
    if digest is None:
        return
    if type(digest) is not str or not USER_HASH_RE.match(digest):
        raise ProtocolError("invalid_user", "'metadata.user.hash' must be the hex HMAC-SHA256 of the id (64 characters)")
    if user.get("id") is None:
        raise ProtocolError("invalid_user", "'metadata.user.hash' needs the 'id' it signs")


def parse_user_uttered(data: Any, max_chars: int) -> UserUttered:
    """Validate ``user_uttered`` (``{message, session_id, message_id?, metadata?}``)."""
    if not isinstance(data, dict):
        raise ProtocolError("invalid_payload", "user_uttered expects an object")
    text = data.get("message")
    if not is_text(text):
        raise ProtocolError("invalid_message", "'message' must be a string of whole characters")
    text = text.strip()
    if not text:
        raise ProtocolError("empty_message", "'message' is empty")
    if len(text) > max_chars:
        raise ProtocolError("message_too_long", f"'message' is over {max_chars} characters")
    session_id = _optional_str(data, "session_id", SESSION_ID_RE, "invalid_session_id")
    client_id = _optional_str(data, "message_id", CLIENT_ID_RE, "invalid_message_id")
    return UserUttered(text, session_id, client_id, _metadata(data))


def parse_conversation_ref(data: Any) -> str:
    """``{conversation_id}`` of an agent event."""
    if not isinstance(data, dict):
        raise ProtocolError("invalid_payload", "expected an object")
    conversation_id = data.get("conversation_id")
    if not isinstance(conversation_id, str) or not SESSION_ID_RE.match(conversation_id):
        raise ProtocolError("invalid_conversation_id", "'conversation_id' is missing or malformed")
    return conversation_id


def parse_agent_send(data: Any, max_chars: int) -> tuple[str, str, Optional[str]]:
    """``{conversation_id, text, message_id?}`` of an agent reply."""
    conversation_id = parse_conversation_ref(data)
    text = data.get("text")
    if not is_text(text) or not text.strip():
        raise ProtocolError("invalid_message", "'text' must be a non-empty string of whole characters")
    if len(text) > max_chars:
        raise ProtocolError("message_too_long", f"'text' is over {max_chars} characters")
    client_id = _optional_str(data, "message_id", CLIENT_ID_RE, "invalid_message_id")
    return conversation_id, text.strip(), client_id


def parse_original(data: dict, max_chars: int) -> Optional[str]:
    """The agent's own wording of a translated reply (``original``), if sent."""
    original = data.get("original")
    if original is None:
        return None
    if not is_text(original) or not original.strip() or len(original) > max_chars:
        raise ProtocolError("invalid_original", f"'original' must be a non-empty string of at most {max_chars} characters")
    return original.strip()


MAX_ROW_ID = 2**63 - 1  # ids are stored in signed 64-bit columns
MAX_OUTCOME_CHARS = 64


def parse_agent_id(data: dict) -> int:
    """``agent_id`` of a transfer: a positive integer that fits a 64-bit column (not a bool)."""
    agent_id = data.get("agent_id")
    if type(agent_id) is not int or not 1 <= agent_id <= MAX_ROW_ID:
        raise ProtocolError("invalid_agent_id", "'agent_id' must be an agent's id (a positive integer)")
    return agent_id


def parse_outcome(data: Any) -> str:
    """``outcome`` of a resolve: a tag of at most 64 characters; absent or empty means ``resolved``."""
    outcome = data.get("outcome") if isinstance(data, dict) else None
    if outcome is None or outcome == "":
        return "resolved"
    if not is_text(outcome) or not outcome.strip() or len(outcome) > MAX_OUTCOME_CHARS:
        raise ProtocolError("invalid_outcome", f"'outcome' must be a tag of at most {MAX_OUTCOME_CHARS} characters")
    return outcome.strip()


def parse_typing(data: dict) -> bool:
    """``typing`` of a typing indicator: true or false."""
    typing = data.get("typing")
    if type(typing) is not bool:
        raise ProtocolError("invalid_payload", "'typing' must be true or false")
    return typing


def bot_uttered_payloads(message: dict, message_id: int, timestamp: float) -> list[dict]:
    """Rasa's ``bot_uttered`` payloads for one bot message, plus our extra keys.

    Like Rasa's socket.io channel: buttons become ``quick_replies``; images,
    attachments and custom payloads pass through.
    """
    payload: dict[str, Any] = {}
    if message.get("text"):
        payload["text"] = message["text"]
    buttons = message.get("buttons") or []
    if buttons:
        payload["quick_replies"] = [
            {"content_type": "text", "title": b.get("title", ""), "payload": b.get("payload", "")}
            for b in buttons
        ]
    if message.get("image"):
        payload["attachment"] = {"type": "image", "payload": {"src": message["image"]}}
    if message.get("attachment"):
        payload["attachment"] = message["attachment"]
    if message.get("custom"):
        payload["custom"] = message["custom"]
    if not payload:
        return []
    payload.update({"id": message_id, "sender": "bot", "language": message.get("language"), "ts": timestamp})
    translation = message.get("translation")
    if translation and not translation.get("translated"):
        payload["untranslated"] = True  # machine translation failed: this is the original text
    return [payload]


def rasa_payloads(payload: dict) -> list[dict]:
    """The ``bot_uttered`` payloads Rasa's socket.io channel would send for one of ours.

    One payload per part, in Rasa's order (text with its quick replies, custom,
    attachment), each with Rasa's keys only: rasa-webchat renders ``{text}``,
    ``{text, quick_replies}`` and ``{attachment}`` and drops any payload with
    another key.
    """
    parts = []
    if payload.get("quick_replies"):
        parts.append({"text": payload.get("text") or "", "quick_replies": payload["quick_replies"]})
    elif payload.get("text"):
        parts.append({"text": payload["text"]})
    if payload.get("custom"):
        parts.append({"custom": payload["custom"]})
    if payload.get("attachment"):
        parts.append({"attachment": payload["attachment"]})
    return parts


def stored_message_fields(m) -> dict:
    """What every view of a stored message carries: id, sender, text, language, time,
    the agent's name and the system notice's name."""
    fields = {"id": m.id, "sender": m.sender, "text": m.text, "language": m.language, "ts": m.created_at,
              "name": m.data.get("agent_name"), "event": m.data.get("event")}
    if m.data.get("file"):  # a photo or PDF (handoff/attachments.py); Rasa's shapes leave it out
        fields["file"] = m.data["file"]
    return fields


def message_payload(m) -> dict:
    """One stored message as the widget sees it (history, other tabs)."""
    return {**stored_message_fields(m), "quick_replies": m.data.get("quick_replies"), "message_id": m.client_id}


def history_payload(session_id: str, messages: list, state: Optional[str] = None) -> dict:
    """The ``crossdesk:history`` payload: the transcript so far (and the conversation's state, when known)."""
    payload = {"session_id": session_id, "messages": [message_payload(m) for m in messages]}
    if state:
        payload["state"] = state
    return payload


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$")


@dataclass(frozen=True)
class Contact:
    """Validated ``crossdesk:contact``: how to reach a shopper later."""

    email: str
    name: Optional[str] = None


def parse_contact(data: Any) -> Contact:
    """``{email, name?}`` left by a shopper when no agent is online."""
    if not isinstance(data, dict):
        raise ProtocolError("invalid_payload", "crossdesk:contact expects an object")
    email = data.get("email")
    if not is_text(email) or not EMAIL_RE.match(email.strip()):
        raise ProtocolError("invalid_email", "'email' must be an e-mail address")
    name = data.get("name")
    if name is not None and not (is_text(name) and len(name) <= 100):
        raise ProtocolError("invalid_name", "'name' must be a string of at most 100 characters")
    return Contact(email.strip(), (name or "").strip() or None)


# -- satisfaction (CSAT): handoff/csat.py -------------------------------------
RATING_REQUEST = "crossdesk:rating_request"  # server -> shopper (extensions only): {resolution_id, text, ...}
RATING = "crossdesk:rating"  # shopper -> server {resolution_id, rating, comment?}; ack {ok, id}
MAX_RATING_COMMENT_CHARS = 1000
RATING_SCALE = range(1, 6)


@dataclass(frozen=True)
class Rating:
    """Validated ``crossdesk:rating``: a 1-5 score for one resolution, with an optional comment."""

    resolution_id: int
    rating: int
    comment: Optional[str] = None


def parse_rating(data: Any) -> Rating:
    """``{resolution_id, rating, comment?}``: ``rating`` an integer 1-5 (not a bool, not 4.5)."""
    if not isinstance(data, dict):
        raise ProtocolError("invalid_payload", "crossdesk:rating expects an object")
    resolution_id = data.get("resolution_id")
    if type(resolution_id) is not int or not 1 <= resolution_id <= MAX_ROW_ID:
        raise ProtocolError("invalid_resolution", "'resolution_id' must be the id the rating request named")
    rating = data.get("rating")
    if type(rating) is not int or rating not in RATING_SCALE:
        raise ProtocolError("invalid_rating", "'rating' must be a whole number from 1 to 5")
    comment = data.get("comment")
    if comment is not None and not (is_text(comment) and len(comment) <= MAX_RATING_COMMENT_CHARS):
        raise ProtocolError("invalid_comment",
                            f"'comment' must be a string of at most {MAX_RATING_COMMENT_CHARS} characters")
    return Rating(resolution_id, rating, (comment or "").strip() or None)

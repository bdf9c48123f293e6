"""Tickets: requests that outlive the chat (``open`` → ``pending`` → ``solved``), due by the service promise.

A conversation becomes a ticket when
- a shopper leaves contact details while no agent is available (``crossdesk:contact``),
- an agent marks it for follow-up (``POST /api/tickets``),
- a queued shopper leaves (every tab closed) and is not back within
  ``CROSSDESK_TICKET_ABANDON_SECONDS`` before an agent took the conversation.
A conversation has at most one unsolved ticket: a second trigger adds to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional

from handoff import protocol
from handoff.plain_json import is_text
from handoff.store import SQLStore
from handoff.store.tickets import OPEN_STATES, Ticket, TicketFilter, TicketStore

logger = logging.getLogger(__name__)

STATUSES = ("open", "pending", "solved")
PRIORITIES = ("low", "normal", "high", "urgent")
SOURCES = ("contact", "follow_up", "left")
MAX_TAGS = 10
MAX_TAG_CHARS = 32
MAX_NOTE_CHARS = 4000
MAX_ID = 2 ** 63 - 1  # a larger number fits no database integer


class TicketError(ValueError):
    """Refused input or action: ``status`` (HTTP), ``code`` and ``message`` go to the client."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class ServicePromise:
    """Hours within which a ticket is answered: a default and per-language exceptions.

    ``ServicePromise.parse("24,ja=12")``: 24 hours, Japanese tickets 12.
    """

    default_hours: float
    by_language: tuple[tuple[str, float], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "ServicePromise":
        """Read ``CROSSDESK_TICKET_PROMISE_HOURS`` (ValueError with the bad part)."""
        default, exceptions = 24.0, []
        for part in (p.strip() for p in (text or "").split(",")):
            if not part:
                continue
            language, _, hours = part.rpartition("=")
            try:
                value = float(hours)
            except ValueError:
                raise ValueError(f"ticket promise {part!r}: hours must be a number") from None
            if not value > 0:
                raise ValueError(f"ticket promise {part!r}: hours must be positive")
            if language:
                exceptions.append((language.strip(), value))
            else:
                default = value
        return cls(default, tuple(exceptions))

    def hours(self, language: Optional[str]) -> float:
        """The promise for a language (``zh-TW`` falls back to ``zh``, then to the default)."""
        table = dict(self.by_language)
        for key in (language, (language or "").split("-")[0]):
            if key and key in table:
                return table[key]
        return self.default_hours

    def due(self, language: Optional[str], start: Optional[float] = None) -> float:
        """The due time of a ticket opened at ``start`` (now)."""
        return (start or time.time()) + self.hours(language) * 3600


def due_state(ticket: Ticket, now: float, soon_seconds: float) -> Optional[str]:
    """``overdue``, ``due_soon`` or ``on_time`` for an unsolved ticket; None once solved."""
    if ticket.status not in OPEN_STATES:
        return None
    if ticket.due_at <= now:
        return "overdue"
    return "due_soon" if ticket.due_at <= now + soon_seconds else "on_time"


class TicketService:
    """Opens tickets, applies changes with the rules of who may do what, and describes them.

    Args:
        tickets: the ticket tables.
        store: conversations (language, transcript).
        promise: the service promise.
        soon_seconds: how close to its due time a ticket counts as due soon.
        on_opened: awaited with each new ticket (the console is told).
    """

    def __init__(self, tickets: TicketStore, store: SQLStore, promise: ServicePromise, soon_seconds: float,
                 on_opened: Optional[Callable[[Ticket], Awaitable[None]]] = None):
        self.tickets = tickets
        self.store = store
        self.promise = promise
        self.soon_seconds = soon_seconds
        self.on_opened = on_opened

    async def open(self, conversation_id: str, source: str, actor: str, email: Optional[str] = None,
                   name: Optional[str] = None, note: Optional[str] = None,
                   priority: str = "normal") -> tuple[Ticket, bool]:
        """The conversation's ticket, opened now unless it has an unsolved one. Returns (ticket, created)."""
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise TicketError(404, "not_found", "no such conversation")
        if email is None:
            email, name = self._contact(conversation_id)
        language = conversation.language or (conversation.locale or "").split("-")[0] or None
        ticket, created = self.tickets.create(conversation_id, source, actor, self.promise.due(language), language,
                                              email=email, name=name, priority=priority, note=note)
        if created:
            logger.info("ticket %s opened for %s (%s)", ticket.reference, conversation_id, source)
            if self.on_opened:
                await self.on_opened(ticket)
        return ticket, created

    def _contact(self, conversation_id: str) -> tuple[Optional[str], Optional[str]]:
        """The newest contact the shopper left in the transcript, if any."""
        for message in reversed(self.store.transcript(conversation_id, limit=10_000)):
            contact = message.data.get("contact") if message.data.get("event") == "contact" else None
            if isinstance(contact, dict) and contact.get("email"):
                return contact["email"], contact.get("name")
        return None, None

    async def contact_left(self, conversation_id: str, contact: protocol.Contact, agents_available: int) -> None:
        """Trigger (a): contact details left while nobody can answer; an unsolved ticket gets the address."""
        if agents_available and not self.tickets.open_for(conversation_id):
            return
        await self.open(conversation_id, "contact", "shopper", email=contact.email, name=contact.name)

    def view(self, ticket: Ticket, now: Optional[float] = None) -> dict:
        """A ticket as the console lists it."""
        return {**ticket.as_dict(), "due_state": due_state(ticket, now or time.time(), self.soon_seconds)}

    def search(self, wanted: TicketFilter) -> list[dict]:
        now = time.time()
        return [self.view(t, now) for t in self.tickets.search(wanted)]

    def detail(self, ticket: Ticket) -> dict:
        """A ticket with its transcript, history (notes included: agents only) and outgoing mail."""
        transcript = self.store.transcript(ticket.conversation_id, limit=10_000)
        return {"ticket": self.view(ticket), "history": self.tickets.history(ticket.id),
                "transcript": [protocol.stored_message_fields(m) for m in transcript],
                "mail": [m.summary() for m in self.tickets.mails_of(ticket.id)]}


def parse_changes(data: dict) -> dict:
    """Validated ``PATCH`` fields: status, assignee_id (None to unassign), priority, tags (TicketError)."""
    if not isinstance(data, dict):
        raise TicketError(400, "invalid_payload", "expected a JSON object")
    changes = {}
    if "status" in data:
        if data["status"] not in STATUSES:
            raise TicketError(400, "invalid_status", f"status must be one of {', '.join(STATUSES)}")
        changes["status"] = data["status"]
    if "priority" in data:
        if data["priority"] not in PRIORITIES:
            raise TicketError(400, "invalid_priority", f"priority must be one of {', '.join(PRIORITIES)}")
        changes["priority"] = data["priority"]
    if "assignee_id" in data:
        value = data["assignee_id"]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID):
            raise TicketError(400, "invalid_assignee", "assignee_id must be an agent id or null")
        changes["assignee_id"] = value
    if "tags" in data:
        changes["tags"] = parse_tags(data["tags"])
    unknown = set(data) - {"status", "priority", "assignee_id", "tags"}
    if unknown:
        raise TicketError(400, "invalid_field", f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    if not changes:
        raise TicketError(400, "invalid_payload", "nothing to change")
    return changes


def parse_tags(value) -> list[str]:
    """A list of short tags (trimmed, lower-cased, duplicates dropped, order kept)."""
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise TicketError(400, "invalid_tags", f"tags must be a list of at most {MAX_TAGS} strings")
    tags: list[str] = []
    for tag in value:
        if not is_text(tag) or not tag.strip() or len(tag.strip()) > MAX_TAG_CHARS:
            raise TicketError(400, "invalid_tags", f"each tag must be 1-{MAX_TAG_CHARS} characters")
        tag = tag.strip().lower()
        if tag not in tags:
            tags.append(tag)
    return tags


def parse_text(data, key: str, max_chars: int) -> str:
    """A required non-empty text field of a JSON body (TicketError)."""
    value = data.get(key) if isinstance(data, dict) else None
    if not is_text(value) or not value.strip():
        raise TicketError(400, "invalid_text", f"'{key}' must be a non-empty string (no NUL, no half characters)")
    if len(value) > max_chars:
        raise TicketError(400, "too_long", f"'{key}' may be at most {max_chars} characters")
    return value.strip()


class AbandonWatch:
    """Trigger (c): a queued shopper whose tabs all closed and who is not back within the grace.

    Args:
        grace: seconds to wait after the last tab closed (``back`` within it: no ticket).
        state_of: ``(conversation_id) -> state``; only ``waiting`` (no agent answered yet) becomes a ticket.
        open_ticket: awaited to open the ticket.
    """

    def __init__(self, grace: float, state_of: Callable[[str], Optional[str]],
                 open_ticket: Callable[[str], Awaitable[object]]):
        self.grace = grace
        self.state_of = state_of
        self.open_ticket = open_ticket
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()

    def gone(self, conversation_id: str) -> None:
        """The session's last tab closed: check again after the grace."""
        if self.state_of(conversation_id) != "waiting":
            return
        pending = self._timers.pop(conversation_id, None)
        if pending:
            pending.cancel()
        loop = asyncio.get_running_loop()
        self._timers[conversation_id] = loop.call_later(self.grace, self._check, conversation_id)

    def back(self, conversation_id: str) -> None:
        """A tab of the session connected again: no ticket for it."""
        pending = self._timers.pop(conversation_id, None)
        if pending:
            pending.cancel()

    def _check(self, conversation_id: str) -> None:
        self._timers.pop(conversation_id, None)
        if self.state_of(conversation_id) == "waiting":
            task = asyncio.ensure_future(self.open_ticket(conversation_id))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception():
            logger.error("could not open a ticket for a shopper who left", exc_info=task.exception())

    def close(self) -> None:
        """Stop watching (at shutdown): pending checks are dropped."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

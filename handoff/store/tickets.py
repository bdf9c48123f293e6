"""SQL for tickets: the tickets, their history (changes, private notes, escalations) and outgoing mail.

Every change is one transaction that writes the ticket and its history row
together, so the history is complete. Escalations and mail claims are
compare-and-set updates: of several checks (ticks, processes) exactly one wins.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from handoff.store.sql import messages, outgoing_mail, ticket_events, tickets

OPEN_STATES = ("open", "pending")  # not solved: a conversation has at most one such ticket
ESCALATION_LEVELS = ("", "due_soon", "overdue")


@dataclass
class Ticket:
    """One ticket row (``tags`` decoded)."""

    id: int
    conversation_id: str
    status: str
    source: str
    priority: str
    assignee_id: Optional[int]
    tags: list[str]
    language: Optional[str]
    email: Optional[str]
    name: Optional[str]
    due_at: float
    escalated: str
    created_at: float
    updated_at: float
    solved_at: Optional[float] = None

    @property
    def reference(self) -> str:
        """What the shopper and the agents call it (``CD-12``): in mail subjects and the console."""
        return f"CD-{self.id}"

    def as_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "reference": self.reference}


@dataclass(frozen=True)
class TicketFilter:
    """What ``TicketStore.search`` selects; None means any."""

    status: Optional[tuple[str, ...]] = None
    assignee_id: Optional[int] = None
    unassigned: bool = False
    due_before: Optional[float] = None
    language: Optional[str] = None
    tag: Optional[str] = None
    text: Optional[str] = None
    visible_to: Optional[int] = None  # an agent (not an admin): theirs and unassigned ones only
    limit: int = 100


@dataclass
class Mail:
    """One outgoing e-mail."""

    id: int
    ticket_id: Optional[int]
    conversation_id: str
    message_id: Optional[int]
    to_addr: str
    subject: str
    body: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: Optional[str]
    created_at: float
    sent_at: Optional[float] = None

    def summary(self) -> dict:
        """What the console shows (no body: it is in the transcript already)."""
        return {k: getattr(self, k) for k in ("id", "to_addr", "subject", "status", "attempts", "last_error",
                                              "created_at", "sent_at", "next_attempt_at")}


def _ticket(row) -> Ticket:
    values = dict(row._mapping)
    values["tags"] = json.loads(values["tags"] or "[]")
    return Ticket(**values)


def _mail(row) -> Mail:
    return Mail(**dict(row._mapping))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class TicketStore:
    """Tickets over the conversation store's engine.

    Args:
        engine: the SQLAlchemy engine of ``SQLStore`` (same database, same migrations).
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- tickets ---------------------------------------------------------------
    def open_for(self, conversation_id: str) -> Optional[Ticket]:
        """The conversation's ticket that is not solved, if any."""
        query = (select(tickets).where(tickets.c.conversation_id == conversation_id,
                                       tickets.c.status.in_(OPEN_STATES)).order_by(tickets.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _ticket(row) if row else None

    def create(self, conversation_id: str, source: str, actor: str, due_at: float, language: Optional[str],
               email: Optional[str] = None, name: Optional[str] = None, priority: str = "normal",
               note: Optional[str] = None) -> tuple[Ticket, bool]:
        """A new open ticket, or the conversation's open one (given the contact when it had none).

        Returns (ticket, created).
        """
        existing = self.open_for(conversation_id)
        now = time.time()
        if existing:
            if email and not existing.email:
                self.update(existing.id, actor, email=email, name=name or existing.name)
                existing = self.get(existing.id)
            if note:
                self.add_event(existing, actor, "note", {"text": note})
            return existing, False
        with self.engine.begin() as conn:
            ticket_id = conn.execute(tickets.insert().values(
                conversation_id=conversation_id, status="open", source=source, priority=priority, tags="[]",
                language=language, email=email, name=name, due_at=due_at, escalated="", created_at=now,
                updated_at=now)).inserted_primary_key[0]
            self._event(conn, ticket_id, conversation_id, actor, "created",
                        {"source": source, "due_at": due_at, "priority": priority}, now)
            if note:
                self._event(conn, ticket_id, conversation_id, actor, "note", {"text": note}, now)
        return self.get(ticket_id), True

    def get(self, ticket_id: int) -> Optional[Ticket]:
        """The ticket, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        return _ticket(row) if row else None

    def search(self, wanted: TicketFilter) -> list[Ticket]:
        """Tickets matching ``wanted``, the soonest due first."""
        query = select(tickets)
        if wanted.status:
            query = query.where(tickets.c.status.in_(wanted.status))
        if wanted.assignee_id is not None:
            query = query.where(tickets.c.assignee_id == wanted.assignee_id)
        if wanted.unassigned:
            query = query.where(tickets.c.assignee_id.is_(None))
        if wanted.visible_to is not None:
            query = query.where(or_(tickets.c.assignee_id.is_(None), tickets.c.assignee_id == wanted.visible_to))
        if wanted.due_before is not None:
            query = query.where(tickets.c.due_at < wanted.due_before)
        if wanted.language:
            query = query.where(tickets.c.language == wanted.language)
        if wanted.tag:  # tags are a JSON list of strings: match the quoted element
            query = query.where(tickets.c.tags.like(_like(json.dumps(wanted.tag, ensure_ascii=False)), escape="\\"))
        if wanted.text:
            pattern = _like(wanted.text)
            query = query.where(or_(
                tickets.c.email.like(pattern, escape="\\"), tickets.c.name.like(pattern, escape="\\"),
                select(messages.c.id).where(messages.c.conversation_id == tickets.c.conversation_id,
                                            messages.c.text.like(pattern, escape="\\")).exists()))
        query = query.order_by(tickets.c.due_at, tickets.c.id).limit(wanted.limit)
        with self.engine.connect() as conn:
            return [_ticket(row) for row in conn.execute(query)]

    def update(self, ticket_id: int, actor: str, **changes) -> Optional[Ticket]:
        """Change fields (status, assignee_id, priority, tags, email, name); one history row per changed field.

        Returns the ticket after the change (None when it does not exist).
        """
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
            if row is None:
                return None
            current = _ticket(row)
            values = {}
            for name, value in changes.items():
                if getattr(current, name) == value:
                    continue
                values[name] = json.dumps(value, ensure_ascii=False) if name == "tags" else value
                self._event(conn, ticket_id, current.conversation_id, actor, name,
                            {"from": getattr(current, name), "to": value}, now)
            if values.get("status") == "solved":
                values["solved_at"] = now
            elif "status" in values:
                values["solved_at"] = None
            if values:
                values["updated_at"] = now
                conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(**values))
        return self.get(ticket_id)

    def add_event(self, ticket: Ticket, actor: str, kind: str, details: dict) -> dict:
        """Append to the ticket's history (a note, a reply, a mail outcome); returns the row."""
        now = time.time()
        with self.engine.begin() as conn:
            event_id = self._event(conn, ticket.id, ticket.conversation_id, actor, kind, details, now)
            conn.execute(tickets.update().where(tickets.c.id == ticket.id).values(updated_at=now))
        return {"id": event_id, "actor": actor, "kind": kind, "details": details, "created_at": now}

    @staticmethod
    def _event(conn, ticket_id: int, conversation_id: str, actor: str, kind: str, details: dict, now: float) -> int:
        return conn.execute(ticket_events.insert().values(
            ticket_id=ticket_id, conversation_id=conversation_id, actor=actor, kind=kind,
            details=json.dumps(details, ensure_ascii=False), created_at=now)).inserted_primary_key[0]

    def history(self, ticket_id: int) -> list[dict]:
        """Every change, note and escalation of the ticket, in order."""
        query = select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        with self.engine.connect() as conn:
            return [{"id": r.id, "actor": r.actor, "kind": r.kind, "details": json.loads(r.details or "{}"),
                     "created_at": r.created_at} for r in conn.execute(query)]

    # -- escalation ------------------------------------------------------------
    def to_escalate(self, now: float, soon_seconds: float) -> list[tuple[Ticket, str]]:
        """Open tickets whose due time is within ``soon_seconds`` (``due_soon``) or past (``overdue``)
        and that were not yet announced at that level."""
        due_soon = and_(tickets.c.due_at <= now + soon_seconds, tickets.c.due_at > now, tickets.c.escalated == "")
        overdue = and_(tickets.c.due_at <= now, tickets.c.escalated != "overdue")
        query = select(tickets).where(tickets.c.status == "open", or_(due_soon, overdue)).order_by(tickets.c.due_at)
        with self.engine.connect() as conn:
            found = [_ticket(row) for row in conn.execute(query)]
        return [(t, "overdue" if t.due_at <= now else "due_soon") for t in found]

    def mark_escalated(self, ticket: Ticket, level: str, details: dict) -> bool:
        """Record the escalation once: only the call that moves ``escalated`` to ``level`` wins."""
        now = time.time()
        lower = ESCALATION_LEVELS[:ESCALATION_LEVELS.index(level)]
        with self.engine.begin() as conn:
            result = conn.execute(tickets.update().where(tickets.c.id == ticket.id, tickets.c.escalated.in_(lower))
                                  .values(escalated=level))
            if result.rowcount != 1:
                return False
            self._event(conn, ticket.id, ticket.conversation_id, "system", f"escalated_{level}", details, now)
        return True

    # -- outgoing mail -----------------------------------------------------------
    def queue_mail(self, ticket: Ticket, message_id: Optional[int], to_addr: str, subject: str, body: str) -> Mail:
        """Store an e-mail to send (sent by ``handoff.mailer``; kept until it is)."""
        now = time.time()
        with self.engine.begin() as conn:
            mail_id = conn.execute(outgoing_mail.insert().values(
                ticket_id=ticket.id, conversation_id=ticket.conversation_id, message_id=message_id, to_addr=to_addr,
                subject=subject, body=body, status="queued", attempts=0, next_attempt_at=now,
                created_at=now)).inserted_primary_key[0]
        return self.mail(mail_id)

    def mail(self, mail_id: int) -> Optional[Mail]:
        with self.engine.connect() as conn:
            row = conn.execute(select(outgoing_mail).where(outgoing_mail.c.id == mail_id)).first()
        return _mail(row) if row else None

    def mails_of(self, ticket_id: int) -> list[Mail]:
        query = select(outgoing_mail).where(outgoing_mail.c.ticket_id == ticket_id).order_by(outgoing_mail.c.id)
        with self.engine.connect() as conn:
            return [_mail(row) for row in conn.execute(query)]

    def due_mail(self, now: float, limit: int = 20) -> list[Mail]:
        """Unsent mail whose next attempt is due, oldest first."""
        query = (select(outgoing_mail).where(outgoing_mail.c.status.in_(("queued", "failed")),
                                             outgoing_mail.c.next_attempt_at <= now)
                 .order_by(outgoing_mail.c.next_attempt_at, outgoing_mail.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [_mail(row) for row in conn.execute(query)]

    def next_mail_at(self) -> Optional[float]:
        """When the next unsent mail is due (None when nothing waits)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.min(outgoing_mail.c.next_attempt_at))
                                .where(outgoing_mail.c.status.in_(("queued", "failed")))).scalar()

    def retry_waiting_mail(self, now: float) -> int:
        """Make every unsent mail due at ``now`` (leases of a crashed run included); how many."""
        with self.engine.begin() as conn:
            return conn.execute(outgoing_mail.update().where(
                outgoing_mail.c.status.in_(("queued", "failed")),
                outgoing_mail.c.next_attempt_at > now).values(next_attempt_at=now)).rowcount

    def claim_mail(self, mail: Mail, lease_until: float) -> bool:
        """Take a due mail for one attempt (pushes its next attempt to ``lease_until``); one process wins."""
        with self.engine.begin() as conn:
            result = conn.execute(outgoing_mail.update().where(
                outgoing_mail.c.id == mail.id, outgoing_mail.c.next_attempt_at == mail.next_attempt_at,
                outgoing_mail.c.status.in_(("queued", "failed"))).values(next_attempt_at=lease_until))
            return result.rowcount == 1

    def mail_sent(self, mail: Mail) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(outgoing_mail.update().where(outgoing_mail.c.id == mail.id).values(
                status="sent", attempts=mail.attempts + 1, sent_at=now, last_error=None))

    def mail_attempt_failed(self, mail: Mail, error: str, next_attempt_at: float, failed: bool) -> None:
        """Count a failed attempt; ``failed`` marks it failed for the console (it is still retried)."""
        with self.engine.begin() as conn:
            conn.execute(outgoing_mail.update().where(outgoing_mail.c.id == mail.id).values(
                status="failed" if failed else "queued", attempts=mail.attempts + 1, last_error=error[:500],
                next_attempt_at=next_attempt_at))

"""Tickets in the console: the HTTP API (``/api/tickets...``) and the wiring of tickets, escalation and mail.

Who may do what: agents and admins log in; an agent sees the tickets assigned
to them and the unassigned ones, takes an unassigned ticket, and changes or
answers the ones they hold (handing one to a colleague included); admins see
and change every ticket. Content staff have no tickets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Optional

from sanic import Sanic, response

from handoff import audit, metrics, protocol
from handoff.api import error_response
from handoff.plain_json import is_text
from handoff.console_api import roles_required
from handoff.escalation import EscalationCheck
from handoff.mailer import Outbox, SmtpServer, compose
from handoff.agent_notifier import AgentNotifier
from handoff.handoffs import HandoffService
from handoff.interpreting import Interpreter
from handoff.settings import Settings
from handoff.store import SQLStore
from handoff.store.agents import AgentStore
from handoff.store.records import Agent
from handoff.store.tickets import OPEN_STATES, Mail, Ticket, TicketFilter, TicketStore
from handoff.tickets import (
    MAX_ID, MAX_NOTE_CHARS, MAX_TAG_CHARS, PRIORITIES, STATUSES, AbandonWatch, ServicePromise, TicketError,
    TicketService, parse_changes, parse_text,
)

logger = logging.getLogger(__name__)
VIEWS = ("all", "mine", "unassigned", "due_soon", "overdue")
MAX_LIMIT = 500

ticket_required = roles_required("agent", "admin", who="agents and admins")


def parse_filter(args, agent: Agent, soon_seconds: float, now: Optional[float] = None) -> TicketFilter:
    """The list's query string as a filter (TicketError on bad input).

    ``view``: all, mine, unassigned, due_soon, overdue; ``status``: open, pending,
    solved or ``all`` (default: open and pending); ``language``, ``tag``, ``q``, ``limit``.
    """
    now = now or time.time()
    view = args.get("view") or "all"
    if view not in VIEWS:
        raise TicketError(400, "invalid_view", f"view must be one of {', '.join(VIEWS)}")
    status = args.get("status") or "unsolved"
    if status not in (*STATUSES, "all", "unsolved"):
        raise TicketError(400, "invalid_status", f"status must be one of {', '.join(STATUSES)}, all")
    statuses = {"all": None, "unsolved": OPEN_STATES}.get(status, (status,))
    text = _query_text(args, "q", 200)
    try:
        limit = int(args.get("limit") or 100)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise TicketError(400, "invalid_search", f"'limit' must be 1-{MAX_LIMIT}")
    values = {"status": statuses, "language": _query_text(args, "language", 35),
              "tag": _query_text(args, "tag", MAX_TAG_CHARS), "text": text, "limit": limit}
    if view == "mine":
        values["assignee_id"] = agent.id
    elif view == "unassigned":
        values["unassigned"] = True
    elif view in ("due_soon", "overdue"):
        values["status"] = OPEN_STATES if statuses is None else tuple(s for s in statuses if s in OPEN_STATES)
        values["due_before"] = now + soon_seconds if view == "due_soon" else now
    return TicketFilter(**values)


def _query_text(args, name: str, max_chars: int) -> Optional[str]:
    """An optional query parameter that can be stored and searched (no NUL, no lone surrogate)."""
    value = args.get(name) or None
    if value is not None and (not is_text(value) or len(value) > max_chars):
        raise TicketError(400, "invalid_search", f"'{name}' must be text of at most {max_chars} characters")
    return value


def may_see(agent: Agent, ticket: Ticket) -> bool:
    """Admins see every ticket; agents theirs and unassigned ones."""
    return agent.role == "admin" or ticket.assignee_id in (None, agent.id)


def check_change(agent: Agent, ticket: Ticket, changes: dict, agent_exists) -> None:
    """TicketError unless ``agent`` may make ``changes`` to ``ticket``."""
    if agent.role == "admin":
        pass
    elif ticket.assignee_id is None:
        if changes.get("assignee_id", ticket.assignee_id) != agent.id:
            raise TicketError(403, "forbidden", "take the ticket first (assign it to yourself)")
    elif ticket.assignee_id != agent.id:
        raise TicketError(403, "forbidden", "this ticket is assigned to someone else")
    target = changes.get("assignee_id")
    if target is not None and not agent_exists(target):
        raise TicketError(400, "invalid_assignee", "no such agent")


class TicketDesk:
    """Tickets, escalation, the outbox and the console's notifications, wired to the app."""

    def __init__(self, settings: Settings, store: SQLStore, notifier: AgentNotifier, handoffs: HandoffService,
                 presence, agents: AgentStore, interpreter: Optional[Interpreter] = None):
        self.settings = settings
        self.conversations = store
        self.notifier = notifier
        self.handoffs = handoffs
        self.presence = presence
        self.agents = agents
        self.interpreter = interpreter
        self.store = TicketStore(store.engine)
        self.soon_seconds = settings.ticket_due_soon_hours * 3600
        self.service = TicketService(self.store, store, ServicePromise.parse(settings.ticket_promise_hours),
                                     self.soon_seconds, on_opened=self._opened)
        self.outbox = Outbox(self.store, SmtpServer.parse(settings.smtp_url), settings.mail_from,
                             settings.mail_reply_to, settings.mail_max_attempts, settings.mail_retry_seconds,
                             on_change=self._mail_changed)
        self.escalation = EscalationCheck(self.store, settings.ticket_check_seconds, self.soon_seconds,
                                          self._announce)
        # Trigger (c): the shopper namespace says when a session's last tab closed and when one is back.
        self.abandon = AbandonWatch(settings.ticket_abandon_seconds, self._state,
                                    lambda cid: self.service.open(cid, "left", "system"))

    # -- notifications to the console ------------------------------------------
    async def _opened(self, ticket: Ticket) -> None:
        await self.notifier.to_all(protocol.AGENT_TICKET, {"ticket": self.service.view(ticket), "change": "opened"})

    def _mail_changed(self, mail: Mail) -> None:
        ticket = self.store.get(mail.ticket_id) if mail.ticket_id else None
        if ticket:
            kind = "mail_sent" if mail.status == "sent" else "mail_failed"
            self.store.add_event(ticket, "system", kind, {"mail_id": mail.id, "attempts": mail.attempts + 1,
                                                          "error": mail.last_error})
            asyncio.ensure_future(self.notifier.to_all(protocol.AGENT_TICKET, {
                "ticket": self.service.view(ticket), "change": kind, "mail": mail.summary()}))

    async def _announce(self, ticket: Ticket, level: str) -> None:
        payload = {"ticket": self.service.view(ticket), "level": level}
        if level == "due_soon":
            await self.notifier.to_all(protocol.AGENT_TICKET_ESCALATION, payload)
            return
        payload["escalated_to"] = "admins"
        for agent_id in sorted(self.presence.online_agents()):  # every process's agents (presence)
            agent = self.agents.get(agent_id)
            if agent and (agent.role == "admin" or agent.id == ticket.assignee_id):
                await self.notifier.to_agent(agent.id, protocol.AGENT_TICKET_ESCALATION, payload)

    # -- triggers ----------------------------------------------------------------
    async def contact_left(self, conversation_id: str, contact: protocol.Contact) -> None:
        """Trigger (a), from the shopper namespace."""
        await self.service.contact_left(conversation_id, contact, self.presence.available_count())

    def shopper_gone(self, conversation_id: str) -> None:
        """Trigger (c): the session's last tab closed."""
        self.abandon.gone(conversation_id)

    def shopper_back(self, conversation_id: str) -> None:
        """A tab of the session connected: a shopper who left is back."""
        self.abandon.back(conversation_id)

    # -- answering ---------------------------------------------------------------
    async def reply(self, agent: Agent, ticket: Ticket, text: str, original: Optional[str]) -> dict:
        """Store the answer as an agent message (the widget shows it), e-mail it, set the ticket pending."""
        conversation = self.conversations.get_conversation(ticket.conversation_id)
        language = ticket.language or conversation.language
        extra = {"translation": {"text": original, "language": agent.languages[0] if agent.languages else None,
                                 "translated": True, "error": None}} if original else {}
        stored, _ = self.conversations.add_message(
            ticket.conversation_id, "agent", text, language=language,
            data={"agent_id": agent.id, "agent_name": agent.display_name, "ticket_id": ticket.id, **extra})
        metrics.message("out", "agent", language)
        await self.handoffs.to_shopper(ticket.conversation_id, stored)
        mail = None
        if ticket.email:
            transcript = self.conversations.transcript(ticket.conversation_id, limit=10_000)

            def text_in(name: str, **values) -> str:
                return self.handoffs.lifecycle.system_text(name, language, conversation.locale, **values)

            subject, body = compose(ticket, text, transcript, text_in)
            mail = self.store.queue_mail(ticket, stored.id, ticket.email, subject, body)
            self.outbox.wake()
        self.store.add_event(ticket, f"agent:{agent.id}", "reply",
                             {"message_id": stored.id, "mail_id": mail.id if mail else None,
                              "to": ticket.email})
        changes = {"status": "pending"}
        if ticket.assignee_id is None:
            changes["assignee_id"] = agent.id
        ticket = self.store.update(ticket.id, f"agent:{agent.id}", **changes)
        return {"ok": True, "message_id": stored.id, "mail": mail.summary() if mail else None,
                "ticket": self.service.view(ticket)}

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self.outbox.start(alone=not self.settings.redis_url and self.settings.workers <= 1)
        self.escalation.start()

    def _state(self, conversation_id: str) -> Optional[str]:
        conversation = self.conversations.get_conversation(conversation_id)
        return conversation.state if conversation else None

    async def stop(self) -> None:
        self.abandon.close()
        await self.escalation.stop()
        await self.outbox.stop()


def setup_tickets(app: Sanic, desk: TicketDesk) -> None:
    """Register the ticket routes and start/stop the escalation check and the outbox with the server."""
    app.ctx.tickets = desk

    @app.listener("after_server_start")
    async def start_tickets(app, loop):
        desk.start()

    @app.listener("before_server_stop")
    async def stop_tickets(app, loop):
        await desk.stop()

    def visible(request, ticket_id: int) -> Ticket:
        ticket = desk.store.get(ticket_id) if 0 < ticket_id <= MAX_ID else None
        if ticket is None or not may_see(request.ctx.agent, ticket):
            raise TicketError(404, "not_found", "no such ticket")
        return ticket

    def refused(error: TicketError):
        return error_response(error.status, error.code, error.message)

    @app.get("/api/tickets")
    @ticket_required
    async def list_tickets(request):
        agent = request.ctx.agent
        try:
            wanted = parse_filter(request.args, agent, desk.soon_seconds)
        except TicketError as error:
            return refused(error)
        if agent.role != "admin":
            wanted = dataclasses.replace(wanted, visible_to=agent.id)
        found = desk.service.search(wanted)
        return response.json({"tickets": found, "now": time.time(), "due_soon_seconds": desk.soon_seconds,
                              "statuses": STATUSES, "priorities": PRIORITIES})

    @app.post("/api/tickets")
    @ticket_required
    async def follow_up(request):
        """Trigger (b): an agent marks a conversation for follow-up."""
        data = request.json if isinstance(request.json, dict) else None
        agent = request.ctx.agent
        try:
            if data is None:
                raise TicketError(400, "invalid_payload", "expected a JSON object")
            conversation_id = data.get("conversation_id")
            if not isinstance(conversation_id, str) or not protocol.SESSION_ID_RE.match(conversation_id):
                raise TicketError(400, "invalid_conversation_id", "'conversation_id' is malformed")
            conversation = app.ctx.store.get_conversation(conversation_id)
            if conversation is None:
                raise TicketError(404, "not_found", "no such conversation")
            if not app.ctx.read_policy.may_read(agent, conversation):
                raise TicketError(403, "forbidden", "your role may not read this conversation")
            note = parse_text(data, "note", MAX_NOTE_CHARS) if data.get("note") else None
            priority = data.get("priority", "normal")
            if priority not in PRIORITIES:
                raise TicketError(400, "invalid_priority", f"priority must be one of {', '.join(PRIORITIES)}")
            ticket, created = await desk.service.open(conversation_id, "follow_up", f"agent:{agent.id}",
                                                      note=note, priority=priority)
        except TicketError as error:
            return refused(error)
        if created and ticket.assignee_id is None:
            ticket = desk.store.update(ticket.id, f"agent:{agent.id}", assignee_id=agent.id)
        return response.json({"ok": True, "created": created, "ticket": desk.service.view(ticket)},
                             status=201 if created else 200)

    @app.get("/api/tickets/<ticket_id:int>")
    @ticket_required
    async def get_ticket(request, ticket_id: int):
        try:
            ticket = visible(request, ticket_id)
        except TicketError as error:
            return refused(error)
        app.ctx.audit.record(request.ctx.agent.id, audit.READ_TRANSCRIPT, ticket.conversation_id,
                             {"via": "ticket", "ticket": ticket.id})
        return response.json(desk.service.detail(ticket))

    @app.patch("/api/tickets/<ticket_id:int>")
    @ticket_required
    async def update_ticket(request, ticket_id: int):
        agent = request.ctx.agent
        try:
            ticket = visible(request, ticket_id)
            changes = parse_changes(request.json)
            check_change(agent, ticket, changes, lambda agent_id: app.ctx.agents.get(agent_id) is not None)
        except TicketError as error:
            return refused(error)
        ticket = desk.store.update(ticket.id, f"agent:{agent.id}", **changes)
        await desk.notifier.to_all(protocol.AGENT_TICKET, {"ticket": desk.service.view(ticket), "change": "updated"})
        return response.json({"ok": True, "ticket": desk.service.view(ticket)})

    @app.post("/api/tickets/<ticket_id:int>/notes")
    @ticket_required
    async def add_note(request, ticket_id: int):
        agent = request.ctx.agent
        try:
            ticket = visible(request, ticket_id)
            text = parse_text(request.json, "text", MAX_NOTE_CHARS)
        except TicketError as error:
            return refused(error)
        event = desk.store.add_event(ticket, f"agent:{agent.id}", "note", {"text": text, "agent": agent.display_name})
        return response.json({"ok": True, "note": event}, status=201)

    @app.post("/api/tickets/<ticket_id:int>/preview")
    @ticket_required
    async def preview(request, ticket_id: int):
        """The answer in the shopper's language (the same path as the chat's ``translate``)."""
        agent = request.ctx.agent
        try:
            ticket = visible(request, ticket_id)
            text = parse_text(request.json, "text", app.ctx.settings.max_message_chars)
        except TicketError as error:
            return refused(error)
        interpreter = desk.interpreter
        if not interpreter:
            return response.json({"ok": True, "translation": {"text": text, "translated": False, "error": "disabled"}})
        source = agent.languages[0] if agent.languages else "en"
        return response.json({"ok": True, "language": ticket.language,
                              "translation": await interpreter.agent_reply(text, source, ticket.language)})

    @app.post("/api/tickets/<ticket_id:int>/reply")
    @ticket_required
    async def reply(request, ticket_id: int):
        agent = request.ctx.agent
        limit = app.ctx.settings.max_message_chars
        try:
            ticket = visible(request, ticket_id)
            text = parse_text(request.json, "text", limit)
            original = parse_text(request.json, "original", limit) if request.json.get("original") else None
            check_change(agent, ticket, {"assignee_id": ticket.assignee_id or agent.id}, lambda _id: True)
        except TicketError as error:
            return refused(error)
        return response.json(await desk.reply(agent, ticket, text, original), status=201)

    @app.get("/api/tickets/agents")
    @ticket_required
    async def assignable(request):
        """Who a ticket can be given to (active agents and admins)."""
        people = [{"id": a.id, "display_name": a.display_name, "role": a.role} for a in app.ctx.agents.all()
                  if a.role in ("agent", "admin") and not getattr(a, "deactivated_at", None)]
        return response.json({"agents": people})

    return desk

"""Escalation: a periodic check announces tickets close to or past their due time.

Every ``CROSSDESK_TICKET_CHECK_SECONDS`` open tickets due within
``CROSSDESK_TICKET_DUE_SOON_HOURS`` are announced to every online agent
(``agent:ticket_escalation {level: "due_soon"}``); overdue ones to the admins
and the ticket's assignee (``level: "overdue"``). Each level is stored in the
ticket's history once: the store's compare-and-set on ``tickets.escalated``
lets one check (one tick, one process) win.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Optional

from handoff.store.tickets import Ticket, TicketStore

logger = logging.getLogger(__name__)

Announce = Callable[[Ticket, str], Awaitable[None]]


class EscalationCheck:
    """Finds tickets to escalate, records each escalation once and announces it.

    Args:
        tickets: the ticket tables.
        interval: seconds between checks.
        soon_seconds: how close to its due time a ticket is announced.
        announce: awaited with (ticket, level) after the escalation was stored.
    """

    def __init__(self, tickets: TicketStore, interval: float, soon_seconds: float, announce: Announce):
        self.tickets = tickets
        self.interval = interval
        self.soon_seconds = soon_seconds
        self.announce = announce
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the database or a bug: logged, tried again next tick
                logger.exception("ticket escalation check failed")
            await asyncio.sleep(self.interval)

    async def check(self, now: Optional[float] = None) -> list[tuple[int, str]]:
        """One round; returns the (ticket id, level) escalations this call stored."""
        now = now or time.time()
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self.tickets.to_escalate, now, self.soon_seconds)
        stored = []
        for ticket, level in found:
            details = {"due_at": ticket.due_at, "notified": "admins" if level == "overdue" else "agents"}
            if await loop.run_in_executor(None, self.tickets.mark_escalated, ticket, level, details):
                ticket.escalated = level
                stored.append((ticket.id, level))
                logger.info("ticket %s escalated: %s", ticket.reference, level)
                await self.announce(ticket, level)
        return stored

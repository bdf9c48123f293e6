"""E-mailed ticket answers: composed in the shopper's language, queued in the database, sent over SMTP.

Sending happens off the event loop (``smtplib`` in a thread). A mail that
cannot be sent is retried with a doubling delay (``CROSSDESK_MAIL_RETRY_SECONDS``,
capped at an hour); after ``CROSSDESK_MAIL_MAX_ATTEMPTS`` failed attempts it
shows as ``failed`` in the console and is still retried, so it is sent once
the server answers again. The queue is a table: a restart keeps it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from handoff.store import StoredMessage
from handoff.store.tickets import Mail, Ticket, TicketStore

logger = logging.getLogger(__name__)

RECENT_MESSAGES = 10  # transcript lines in a mail
MAX_RETRY_SECONDS = 3600.0
SMTP_TIMEOUT = 20.0
LEASE_SECONDS = 120.0  # a claimed mail is not picked again (by any process) before this


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: ``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://...``."""

    host: str
    port: int
    ssl: bool = False
    starttls: bool = False
    username: Optional[str] = None
    password: Optional[str] = None

    @classmethod
    def parse(cls, url: str) -> Optional["SmtpServer"]:
        """None for an empty URL; ValueError for a malformed one."""
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("CROSSDESK_SMTP_URL must look like smtp://host:port or smtps://user:pass@host")
        secure = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        return cls(parts.hostname, parts.port or (465 if secure else 25), secure, starttls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def send(self, message: EmailMessage) -> None:
        """Deliver one message (blocking: run it in a thread)."""
        context = ssl.create_default_context()
        if self.ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        with client:
            if self.starttls:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def compose(ticket: Ticket, answer: str, transcript: list[StoredMessage],
            text: Callable[..., str]) -> tuple[str, str]:
    """Subject and body of an e-mailed answer, in the ticket's language.

    Args:
        text: ``(response name, **values) -> str`` in the shopper's language (``Lifecycle.system_text``).
    """
    reference = ticket.reference
    subject = f"[{reference}] {text('utter_ticket_mail_subject', reference=reference)}"
    lines = [text("utter_ticket_mail_greeting", reference=reference), "", answer, "", "—",
             text("utter_ticket_mail_transcript")]
    you, us = text("utter_ticket_mail_you"), text("utter_ticket_mail_us")
    recent = [m for m in transcript if m.sender in ("shopper", "bot", "agent")][-RECENT_MESSAGES:]
    for message in recent:
        when = dt.datetime.fromtimestamp(message.created_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        who = you if message.sender == "shopper" else (message.data.get("agent_name") or us)
        lines.append(f"[{when}] {who}: {message.text}")
    lines += ["", text("utter_ticket_mail_footer", reference=reference)]
    return subject, "\n".join(lines) + "\n"


def email_message(mail: Mail, sender: str, reply_to: str) -> EmailMessage:
    """The MIME message of a queued mail (UTF-8 subject and body)."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = mail.to_addr
    if reply_to:
        message["Reply-To"] = reply_to
    domain = parseaddr(sender)[1].rpartition("@")[2] or "crossdesk.local"
    message["Message-ID"] = make_msgid(f"crossdesk.mail{mail.id}", domain=domain)
    message.set_content(mail.body, charset="utf-8")
    return message


def retry_delay(base: float, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (doubling, capped)."""
    return min(MAX_RETRY_SECONDS, base * 2 ** max(0, attempts - 1))


class Outbox:
    """Sends the queued mail in the background.

    Args:
        tickets: the outgoing mail table.
        server: the SMTP server (None: nothing can be sent; mail waits, shown as failed).
        sender, reply_to: ``From`` and ``Reply-To``.
        max_attempts: failed attempts before a mail shows as failed.
        retry_seconds: the first retry's delay.
        on_change: called with each mail whose status changed (the console is told).
    """

    def __init__(self, tickets: TicketStore, server: Optional[SmtpServer], sender: str, reply_to: str,
                 max_attempts: int, retry_seconds: float, on_change: Optional[Callable[[Mail], object]] = None):
        self.tickets = tickets
        self.server = server
        self.sender = sender
        self.reply_to = reply_to
        self.max_attempts = max(1, max_attempts)
        self.retry_seconds = retry_seconds
        self.on_change = on_change
        self._wake = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        _check_address(sender)

    def start(self, alone: bool = False) -> None:
        """Start sending; ``alone`` (no other process shares the table) first retries all waiting mail.

        A process killed during an attempt leaves its mail leased for ``LEASE_SECONDS``; with no
        other process that could hold the lease, the restarted server need not wait it out.
        """
        if alone:
            self.tickets.retry_waiting_mail(time.time())
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        """A mail was queued: look now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:  # the database or a bug: logged, retried on the next round
                logger.exception("sending queued mail failed")
            next_at = await asyncio.get_running_loop().run_in_executor(None, self.tickets.next_mail_at)
            wait = 30.0 if next_at is None else min(30.0, max(0.05, next_at - time.time()))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def send_due(self) -> int:
        """Try every due mail once; how many were sent."""
        loop = asyncio.get_running_loop()
        sent = 0
        for mail in await loop.run_in_executor(None, self.tickets.due_mail, time.time()):
            if not await loop.run_in_executor(None, self.tickets.claim_mail, mail, time.time() + LEASE_SECONDS):
                continue  # another process has it
            sent += await self._attempt(mail)
        return sent

    async def _attempt(self, mail: Mail) -> int:
        loop = asyncio.get_running_loop()
        try:
            if self.server is None:
                raise RuntimeError("no SMTP server is configured (CROSSDESK_SMTP_URL)")
            message = email_message(mail, self.sender, self.reply_to)
            await loop.run_in_executor(None, self.server.send, message)
        except Exception as error:  # any failure: counted, retried later, never dropped
            attempts = mail.attempts + 1
            failed = attempts >= self.max_attempts
            reason = f"{type(error).__name__}: {error}"
            logger.warning("mail %s to the shopper of ticket %s: attempt %d failed (%s)", mail.id, mail.ticket_id,
                           attempts, reason)
            await loop.run_in_executor(None, self.tickets.mail_attempt_failed, mail, reason,
                                       time.time() + retry_delay(self.retry_seconds, attempts), failed)
            if failed and mail.status != "failed":
                self._changed(mail.id)
            return 0
        await loop.run_in_executor(None, self.tickets.mail_sent, mail)
        self._changed(mail.id)
        return 1

    def _changed(self, mail_id: int) -> None:
        if self.on_change:
            mail = self.tickets.mail(mail_id)
            if mail:
                self.on_change(mail)


def _check_address(sender: str) -> None:
    """Refuse a malformed ``CROSSDESK_MAIL_FROM`` at start, not at the first mail."""
    name, address = parseaddr(sender)
    if "@" not in address:
        raise ValueError(f"CROSSDESK_MAIL_FROM {sender!r} is not an e-mail address")
    Address(display_name=name, addr_spec=address)

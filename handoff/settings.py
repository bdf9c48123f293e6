"""All configuration, from environment variables with the ``CROSSDESK_`` prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping, Optional

from crossdesk.paths import ROOT, VAR_DIR


def _var_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("CROSSDESK_VAR_DIR", str(VAR_DIR)))


def _convert(name: str, kind: str, raw: str):
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return Path(raw) if name == "var_dir" else raw


@dataclass(frozen=True)
class Settings:
    """Server settings. ``Settings.from_env()`` reads them; tests pass their own.

    Attributes:
        host, port: where the server listens (127.0.0.1:5005).
        var_dir: runtime data (SQLite files, models); ``CROSSDESK_VAR_DIR``.
        database_url: conversations store (SQLAlchemy URL), SQLite under var/ by default.
        tracker_db_url: Rasa's tracker store (SQLAlchemy URL), SQLite under var/ by default.
        model_path: a trained model; empty means "the newest in var/models".
        responses_dir: the bot's answers per language (default ``bot/responses``).
        allowed_origins: storefront origins allowed to connect ("*" = any).
        max_message_chars: longest shopper message accepted.
        max_payload_bytes: largest socket payload accepted.
        agent_grace_seconds: how long a disconnected agent keeps its conversations.
        agent_max_conversations: how many conversations one agent may hold at once.
        agent_token_ttl_seconds: how long an agent's login lasts.
        agent_session_sweep_seconds: how often live agent sockets are checked against their
            tokens (logout, expiry or deactivation from another process cuts them within this).
        routing_widen_seconds: how long a waiting conversation is offered only to the online agents with
            its skill, then its language, before the next wider group (then everyone) sees it
            (``handoff/routing.py``); a group with nobody online is skipped at once.
        auto_assign: give each waiting conversation to the least-loaded online agent it is offered to.
        login_ip_max_failures, login_ip_window_seconds: failed logins one client IP may make in
            the window before it gets 429.
        login_account_free_failures, login_account_max_delay_seconds: failed logins of one
            username before each further try must wait (doubling, capped at the max delay).
        log_level: Python logging level name.
        translator: machine translation provider (``google``, ``libre``, ``deepl``,
            ``microsoft`` or ``none``).
        translator_url: provider endpoint override (e.g. a LibreTranslate server).
        translator_key: provider API key.
        translator_region: Azure region of a Microsoft Translator resource, when it needs one.
        translator_timeout: seconds a translation may take before the original is used.
        translator_workers: threads for the (blocking) provider calls.
        protected_terms: comma-separated brand/product names never translated.
        retention_days: conversations idle longer than this are deleted with all their
            rows and Rasa trackers (0 keeps them forever); see docs/privacy.md.
        socket_message_rate, socket_message_burst: shopper messages one socket may send
            (per second, sustained; and at once); 0 turns the limit off.
        ip_message_rate, ip_message_burst: the same for every socket of one client address.
        socket_typing_rate, socket_typing_burst: typing events one socket may send.
        max_pending_per_conversation: a conversation's messages waiting for the bot at most.
        trusted_proxies: comma-separated proxy addresses whose ``X-Forwarded-For`` is believed.
        shutdown_drain_seconds: how long a stopping server lets bot answers in flight finish.
        metrics_token: when set, ``/metrics`` needs ``Authorization: Bearer <token>``.
        redis_url: Redis shared by several server processes (presence, emits between
            processes, Rasa's conversation locks); empty = one process, all in memory.
        workers: server processes ``python -m handoff serve`` starts (on ``port``, ``port``+1, ...).
        content_dir: the folder holding ``data/nlu``, ``bot/responses`` and ``data/store`` that the
            studio edits and training reads (default: the repository root).
        studio_low_confidence: shopper messages the bot understood with less confidence than this
            go to the studio's review inbox.
        business_hours: when the team answers, e.g. ``Mon-Fri 09:00-18:00 Asia/Tokyo``; several
            ranges separated by ``;`` or ``,`` (``handoff/business_hours.py``); empty: always open.
        holidays: comma-separated ``YYYY-MM-DD`` dates (in the business-hours zone) the team is closed.
        max_upload_bytes: largest photo or PDF a shopper or an agent may attach.
        ticket_promise_hours: the service promise a ticket is due by, in hours: a default and
            per-language exceptions (``"24,ja=12"``).
        ticket_due_soon_hours: a ticket this close to its due time is announced as due soon.
        ticket_check_seconds: how often tickets are checked for escalation.
        ticket_abandon_seconds: a queued shopper gone (every tab closed) this long gets a ticket.
        smtp_url: where ticket answers are e-mailed (``smtp://host:port``, ``smtps://user:pass@host``,
            ``smtp://...?starttls=1``); empty keeps mail queued (shown as failed) until one is set.
        mail_from, mail_reply_to: the sender and Reply-To of those e-mails.
        mail_max_attempts: failed sending attempts after which a mail shows as failed (it is still retried).
        mail_retry_seconds: the first retry's delay; it doubles per attempt, capped at an hour.
        gate_margin: how far a language's score may fall against the live model before the
            quality gate rejects a newly trained model.
        models_keep: trained models kept in ``var/models`` for rollback (the live one always is).
        identity_secret: the key the shop signs its customers' ids with (``Crossdesk.setUser``'s
            ``hash``, HMAC-SHA256); empty: every customer identity is unverified.
    """

    host: str = "127.0.0.1"
    port: int = 5005
    var_dir: Path = field(default_factory=lambda: VAR_DIR)
    database_url: str = ""
    tracker_db_url: str = ""
    model_path: str = ""
    responses_dir: str = ""
    allowed_origins: str = "*"
    max_message_chars: int = 2000
    max_payload_bytes: int = 64 * 1024
    agent_grace_seconds: int = 60
    agent_max_conversations: int = 5
    agent_token_ttl_seconds: float = 12 * 3600
    agent_session_sweep_seconds: float = 2.0
    routing_widen_seconds: float = 60.0
    auto_assign: bool = False
    login_ip_max_failures: int = 30
    login_ip_window_seconds: float = 300.0
    login_account_free_failures: int = 5
    login_account_max_delay_seconds: float = 60.0
    log_level: str = "INFO"
    translator: str = "none"
    translator_url: str = ""
    translator_key: str = ""
    translator_region: str = ""
    translator_timeout: float = 0.8
    translator_workers: int = 8
    protected_terms: str = ""
    retention_days: int = 365
    socket_message_rate: float = 2.0
    socket_message_burst: int = 20
    ip_message_rate: float = 20.0
    ip_message_burst: int = 1000
    socket_typing_rate: float = 2.0
    socket_typing_burst: int = 10
    max_pending_per_conversation: int = 10
    trusted_proxies: str = ""
    shutdown_drain_seconds: float = 3.0
    metrics_token: str = ""
    redis_url: str = ""
    workers: int = 1
    content_dir: str = ""
    studio_low_confidence: float = 0.5
    business_hours: str = ""
    holidays: str = ""
    max_upload_bytes: int = 10 * 1024 * 1024
    ticket_promise_hours: str = "24"
    ticket_due_soon_hours: float = 2.0
    ticket_check_seconds: float = 60.0
    ticket_abandon_seconds: float = 120.0
    smtp_url: str = ""
    mail_from: str = "Crossdesk <support@localhost>"
    mail_reply_to: str = ""
    mail_max_attempts: int = 5
    mail_retry_seconds: float = 30.0
    gate_margin: float = 0.02
    models_keep: int = 5
    identity_secret: str = ""

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides) -> "Settings":
        """Build settings from ``CROSSDESK_*`` variables (then ``overrides``)."""
        env = os.environ if env is None else env
        var_dir = _var_dir(env)
        values = {}
        for f in fields(cls):
            raw = env.get(f"CROSSDESK_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        values.update(overrides)
        values.setdefault("var_dir", var_dir)
        settings = cls(**values)
        return settings.with_defaults()

    def with_defaults(self) -> "Settings":
        """Fill the URLs that default to files under ``var_dir``."""
        var_dir = Path(self.var_dir)
        return Settings(**{
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "var_dir": var_dir,
            "database_url": self.database_url or f"sqlite:///{var_dir / 'crossdesk.db'}",
            "tracker_db_url": self.tracker_db_url or f"sqlite:///{var_dir / 'tracker.db'}",
        })

    @property
    def models_dir(self) -> Path:
        """Where trained models are kept."""
        return Path(self.var_dir) / "models"

    @property
    def content_path(self) -> Path:
        """The content folder (``content_dir``, else the repository root)."""
        return Path(self.content_dir) if self.content_dir else ROOT

    @property
    def responses_path(self) -> Path:
        """The bot's answers per language: ``responses_dir``, else ``bot/responses`` under the content folder."""
        return Path(self.responses_dir) if self.responses_dir else self.content_path / "bot" / "responses"

    @property
    def protected_term_list(self) -> list[str]:
        """Protected terms as a list."""
        return [t.strip() for t in self.protected_terms.split(",") if t.strip()]

    @property
    def trusted_proxy_list(self) -> frozenset[str]:
        """Trusted proxy addresses as a set."""
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def origins(self) -> list[str] | str:
        """Allowed origins as python-socketio expects them."""
        if self.allowed_origins.strip() == "*":
            return "*"
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

"""All configuration, from environment variables with the ``CROSSDESK_`` prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent


def _var_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("CROSSDESK_VAR_DIR", str(ROOT / "var")))


def _convert(name: str, kind: str, raw: str):
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
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
        log_level: Python logging level name.
        translator: machine translation provider (``google``, ``libre``, ``deepl``,
            ``microsoft`` or ``none``).
        translator_url: provider endpoint override (e.g. a LibreTranslate server).
        translator_key: provider API key.
        translator_region: Azure region of a Microsoft Translator resource, when it needs one.
        translator_timeout: seconds a translation may take before the original is used.
        translator_workers: threads for the (blocking) provider calls.
        protected_terms: comma-separated brand/product names never translated.
        metrics_token: when set, ``/metrics`` needs ``Authorization: Bearer <token>``.
    """

    host: str = "127.0.0.1"
    port: int = 5005
    var_dir: Path = field(default_factory=lambda: ROOT / "var")
    database_url: str = ""
    tracker_db_url: str = ""
    model_path: str = ""
    responses_dir: str = ""
    allowed_origins: str = "*"
    max_message_chars: int = 2000
    max_payload_bytes: int = 64 * 1024
    agent_grace_seconds: int = 60
    agent_max_conversations: int = 5
    log_level: str = "INFO"
    translator: str = "none"
    translator_url: str = ""
    translator_key: str = ""
    translator_region: str = ""
    translator_timeout: float = 0.8
    translator_workers: int = 8
    protected_terms: str = ""
    metrics_token: str = ""

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
    def protected_term_list(self) -> list[str]:
        """Protected terms as a list."""
        return [t.strip() for t in self.protected_terms.split(",") if t.strip()]

    @property
    def origins(self) -> list[str] | str:
        """Allowed origins as python-socketio expects them."""
        if self.allowed_origins.strip() == "*":
            return "*"
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

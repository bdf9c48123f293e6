"""Plain records the store hands out (no ORM objects leave the store)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

SENDERS = ("shopper", "bot", "agent", "system")
STATES = ("bot", "waiting", "with_agent", "resolved")


@dataclass
class Conversation:
    """One shopper session."""

    id: str
    state: str = "bot"
    language: Optional[str] = None
    locale: Optional[str] = None
    context: dict = field(default_factory=dict)
    agent_id: Optional[int] = None
    handoff_reason: Optional[str] = None
    waiting_since: Optional[float] = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class Agent:
    """A human agent account (the password hash never leaves the store)."""

    id: int
    username: str
    display_name: str
    languages: list[str]
    role: str = "agent"
    active: bool = True  # False once deactivated (``python -m handoff agents deactivate``)
    skills: list[str] = field(default_factory=list)  # teams conversations are routed by (handoff/routing.py)


@dataclass
class NewMessage:
    """A message to store (the store assigns its id and time)."""

    conversation_id: str
    sender: str
    text: str
    language: Optional[str] = None
    client_id: Optional[str] = None
    data: Optional[dict] = None


@dataclass
class StoredMessage:
    """One message of a transcript, in order (``id`` grows)."""

    id: int
    conversation_id: str
    sender: str
    text: str
    language: Optional[str] = None
    client_id: Optional[str] = None
    data: dict = field(default_factory=dict)
    created_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

"""Agent accounts and login tokens.

Passwords are stored as salted scrypt hashes; tokens are random and only
their SHA-256 is stored, so a copy of the database lets nobody log in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff.store.records import Agent
from handoff.store.sql import SQLStore, agent_tokens, agents

ROLES = ("agent", "admin")
TOKEN_TTL_SECONDS = 12 * 3600
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AgentError(ValueError):
    """An invalid agent account request (message is shown to the user)."""


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    """``scrypt$<salt hex>$<hash hex>``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a password against its stored hash."""
    try:
        scheme, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(hash_password(password, bytes.fromhex(salt_hex)), stored)


def password_matches(password: str, stored: Optional[str]) -> bool:
    """``verify_password``; an unknown account (``stored`` None) costs the same hashing and fails."""
    return verify_password(password, stored or hash_password("not a real password")) and stored is not None


def _agent(row) -> Agent:
    return Agent(row.id, row.username, row.display_name, json.loads(row.languages or "[]"), row.role)


class AgentStore:
    """Agents and their tokens, in the conversation store's database."""

    def __init__(self, store: SQLStore):
        self.engine = store.engine

    def add(self, username: str, password: str, languages: list[str], display_name: Optional[str] = None,
            role: str = "agent") -> Agent:
        """Create an agent; raises AgentError on bad input or a taken username."""
        username = username.strip()
        if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise AgentError("username: 1-64 letters, digits, '.', '-' or '_'")
        if len(password) < 8:
            raise AgentError("password: at least 8 characters")
        if role not in ROLES:
            raise AgentError(f"role: one of {', '.join(ROLES)}")
        try:
            with self.engine.begin() as conn:
                result = conn.execute(agents.insert().values(
                    username=username, password_hash=hash_password(password),
                    display_name=(display_name or username).strip()[:128], languages=json.dumps(languages),
                    role=role, created_at=time.time()))
        except IntegrityError:
            raise AgentError(f"username {username!r} is taken") from None
        return Agent(result.inserted_primary_key[0], username, (display_name or username).strip()[:128],
                     languages, role)

    def all(self) -> list[Agent]:
        """Every agent, by username."""
        with self.engine.connect() as conn:
            return [_agent(row) for row in conn.execute(select(agents).order_by(agents.c.username))]

    def get(self, agent_id: int) -> Optional[Agent]:
        """One agent by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(agents).where(agents.c.id == agent_id)).first()
        return _agent(row) if row else None

    def authenticate(self, username: str, password: str) -> Optional[Agent]:
        """The agent if the password is right, else None (same work either way)."""
        agent, stored = self.credentials(username)
        return agent if password_matches(password, stored) and agent else None

    def credentials(self, username: str) -> tuple[Optional[Agent], Optional[str]]:
        """The agent and its password hash (None, None for an unknown name): the fast, database half of a login.

        Only ``password_matches`` (scrypt, ~50 ms) belongs in a worker thread: on SQLite the store keeps one
        connection per thread (SingletonThreadPool, 5 kept), and logins spread over the executor's threads
        had it close other threads' connections, an ERROR with a traceback per concurrent login.
        """
        with self.engine.connect() as conn:
            row = conn.execute(select(agents).where(agents.c.username == username)).first()
        return (_agent(row), row.password_hash) if row else (None, None)

    def issue_token(self, agent: Agent, ttl: float = TOKEN_TTL_SECONDS) -> str:
        """A new bearer token for the agent."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(agent_tokens.insert().values(
                token_hash=hashlib.sha256(token.encode()).hexdigest(), agent_id=agent.id,
                expires_at=time.time() + ttl))
        return token

    def revoke_token(self, token: str) -> None:
        """Log out: the token stops working at once."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.engine.begin() as conn:
            conn.execute(agent_tokens.delete().where(agent_tokens.c.token_hash == digest))

    def agent_for_token(self, token: object) -> Optional[Agent]:
        """The agent a valid, unexpired token belongs to."""
        if not isinstance(token, str) or not 16 <= len(token) <= 128 or not token.isascii():
            return None  # tokens are URL-safe base64; a header's non-ASCII bytes can't encode back
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.engine.connect() as conn:
            row = conn.execute(select(agent_tokens).where(agent_tokens.c.token_hash == digest)).first()
        if row is None or row.expires_at < time.time():
            return None
        return self.get(row.agent_id)

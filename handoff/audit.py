"""Who read which transcript, and who may: the audit log and the read policy.

Every read of a transcript (console API, the claim bundle), every export and
search, and every shopper export or deletion is recorded with who, what and
when. Admins see the log (``GET /api/admin/audit``). The policy is written
down in ``docs/privacy.md``; this module enforces it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Optional

from sqlalchemy import select

from handoff.store import Conversation, SQLStore
from handoff.store.records import Agent
from handoff.store.sql import agent_took_part, agents, audit_log, transitions

READ_TRANSCRIPT = "read_transcript"
EXPORT = "export"
SEARCH = "search"
SHOPPER_EXPORT = "shopper_export"
SHOPPER_DELETE = "shopper_delete"
RETENTION_PURGE = "retention_purge"
AGENT_CHANGED = "agent_changed"  # an admin changed an account on the console's team screen (handoff/team_api.py)
NOTE_CHANGED = "note_changed"  # a private note edited or deleted (handoff/desk_notes_api.py)
ACTIONS = (READ_TRANSCRIPT, EXPORT, SEARCH, SHOPPER_EXPORT, SHOPPER_DELETE, RETENTION_PURGE, AGENT_CHANGED,
           NOTE_CHANGED)
MAX_LIMIT = 1000


def email_digest(email: str) -> str:
    """How an e-mail address appears in the audit log: its SHA-256, never the address.

    An erased shopper's address must not survive in the log, yet an admin can
    still check whether a given address was exported or deleted by hashing it.
    """
    return "email-sha256:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


class AuditLog:
    """Appends and lists audit rows in the conversation store's database."""

    def __init__(self, store: SQLStore):
        self.engine = store.engine

    def record(self, agent_id: Optional[int], action: str, target: Optional[str] = None,
               details: Optional[dict] = None) -> None:
        """Append one row (``agent_id`` None: the command line or the server itself)."""
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert().values(
                agent_id=agent_id, action=action, target=(target or "")[:255] or None,
                details=json.dumps(details or {}, ensure_ascii=False), created_at=time.time()))

    def entries(self, agent_id: Optional[int] = None, since: Optional[float] = None, until: Optional[float] = None,
                limit: int = 100, after_id: int = 0, action: Optional[str] = None) -> list[dict]:
        """Rows newest first (oldest first with ``after_id``), with the agent's username."""
        query = (select(audit_log, agents.c.username, agents.c.display_name)
                 .select_from(audit_log.outerjoin(agents, agents.c.id == audit_log.c.agent_id)))
        if agent_id is not None:
            query = query.where(audit_log.c.agent_id == agent_id)
        if since is not None:
            query = query.where(audit_log.c.created_at >= since)
        if until is not None:
            query = query.where(audit_log.c.created_at < until)
        if action:
            query = query.where(audit_log.c.action == action)
        if after_id:
            query = query.where(audit_log.c.id > after_id).order_by(audit_log.c.id)
        else:
            query = query.order_by(audit_log.c.id.desc())
        with self.engine.connect() as conn:
            return [{"id": row.id, "agent_id": row.agent_id, "agent": row.username, "agent_name": row.display_name,
                     "action": row.action, "target": row.target, "details": json.loads(row.details or "{}"),
                     "created_at": row.created_at}
                    for row in conn.execute(query.limit(min(limit, MAX_LIMIT)))]

    def last_id(self) -> int:
        """The newest row's id (0 when empty)."""
        with self.engine.connect() as conn:
            return conn.execute(select(audit_log.c.id).order_by(audit_log.c.id.desc()).limit(1)).scalar() or 0


class ReadPolicy:
    """Which transcripts an agent may read.

    - ``admin``: every conversation.
    - ``agent``: conversations waiting in the queue (they may claim them), the
      ones they hold, and the ones they held before (claimed, took over or
      were transferred). Search shows only the ones they held.
    - any other role (``content`` staff): none.
    """

    def __init__(self, store: SQLStore):
        self.engine = store.engine

    @staticmethod
    def sees_everything(agent: Agent) -> bool:
        """Admins read and search every conversation."""
        return agent.role == "admin"

    def may_read(self, agent: Agent, conversation: Conversation) -> bool:
        """Whether ``agent`` may read this conversation's transcript."""
        if self.sees_everything(agent):
            return True
        if agent.role != "agent":
            return False
        holds = conversation.state == "with_agent" and conversation.agent_id == agent.id
        if conversation.state == "waiting" or holds:
            return True
        query = select(transitions.c.id).where(transitions.c.conversation_id == conversation.id,
                                               agent_took_part(agent.id)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def search_scope(self, agent: Agent) -> Optional[int]:
        """The agent id to restrict a search to (None: everything); raises PermissionError if none allowed."""
        if self.sees_everything(agent):
            return None
        if agent.role != "agent":
            raise PermissionError("your role may not search transcripts")
        return agent.id

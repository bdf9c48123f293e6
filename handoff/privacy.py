"""Shoppers' data rights: export, erasure and retention.

``Privacy`` serves the ``python -m handoff shopper ...`` commands, the admin
console and the server's retention job alike. Card numbers are masked before
anything is stored (``handoff/store/masking.py``). What is stored where, and
why, is in ``docs/privacy.md``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from handoff import audit
from handoff.attachments import AttachmentStore
from handoff.audit import AuditLog
from handoff.store import SQLStore
from handoff.store.privacy import BATCH, PrivacyStore

DAY = 86400
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""This process in the audit rows it writes (other processes act on erasures they did not make)."""


class ShopperNotFound(LookupError):
    """No stored conversation matches the session id or e-mail."""


class Privacy:
    """Export, erasure and retention of shoppers' data.

    Args:
        store: the conversation store.
        tracker_db_url: Rasa's tracker store (its rows go with the conversation).
        retention_days: conversations idle longer than this are deleted (0: kept forever).
        on_erased: told the ids of deleted conversations (the server drops its caches and sockets).
    """

    def __init__(self, store: SQLStore, tracker_db_url: Optional[str], retention_days: int = 365,
                 on_erased: Callable[[list[str]], None] = lambda ids: None, uploads: Optional[Path] = None):
        self.sql = PrivacyStore(store, tracker_db_url)
        self.files = AttachmentStore(store, uploads) if uploads else None  # photos and PDFs go with their rows
        self.audit = AuditLog(store)
        self.retention_days = retention_days
        self.on_erased = on_erased

    def find(self, session: Optional[str] = None, email: Optional[str] = None) -> list[str]:
        """Conversation ids of one session, or of every conversation that names the e-mail."""
        if bool(session) == bool(email):
            raise ValueError("give exactly one of session or email")
        return [session] if session else self.sql.conversation_ids_for_email(email)

    @staticmethod
    def target(session: Optional[str], email: Optional[str]) -> str:
        """How the request is named in the audit log (an e-mail only as its hash)."""
        return f"session:{session}" if session else audit.email_digest(email)

    def export(self, session: Optional[str] = None, email: Optional[str] = None,
               agent_id: Optional[int] = None, via: str = "cli") -> dict:
        """Everything stored about the shopper, as JSON-ready data (ShopperNotFound if nothing)."""
        exported = self.sql.export(self.find(session, email))
        if not exported:
            raise ShopperNotFound("no conversation found")
        for entry in exported:
            entry["tracker_events"] = self.sql.tracker_event_count(entry["id"])
        self.audit.record(agent_id, audit.SHOPPER_EXPORT, self.target(session, email),
                          {"via": via, "process": PROCESS, "conversations": [e["id"] for e in exported]})
        return {"exported_at": time.time(), "query": {"session": session, "email": email},
                "conversations": exported}

    def delete(self, session: Optional[str] = None, email: Optional[str] = None,
               agent_id: Optional[int] = None, via: str = "cli") -> dict:
        """Erase the shopper's conversations, every row that belongs to them and their Rasa trackers."""
        ids = self.find(session, email)
        counts = self._erase(ids)
        if not counts["conversations"] and not counts["tracker_events"] and not counts.get("messages"):
            raise ShopperNotFound("no conversation found")
        self.audit.record(agent_id, audit.SHOPPER_DELETE, self.target(session, email),
                          {"via": via, "process": PROCESS, "conversations": ids, "counts": counts})
        return {"conversations": ids, "deleted": counts}

    def _erase(self, ids: list[str]) -> dict:
        files = self.files.ids_of(ids) if self.files else []
        counts = self.sql.delete(ids)
        if self.files:
            counts["files"] = self.files.remove(files)
        counts["tracker_events"] = self.sql.delete_tracker(ids)
        if ids:
            self.on_erased(ids)
        return counts

    def purge(self, now: Optional[float] = None, batch: int = BATCH) -> dict:
        """Delete what is older than the retention period, in batches of ``batch`` conversations."""
        if self.retention_days <= 0:
            return {"conversations": 0, "retention_days": 0}
        now = now or time.time()
        cutoff = now - self.retention_days * DAY
        totals: dict[str, int] = {}
        for finder in (self.sql.expired, self.sql.orphaned):
            while True:
                ids = finder(cutoff, batch)
                if not ids:
                    break
                counts = self._erase(ids)
                self.audit.record(None, audit.RETENTION_PURGE, None,
                                  {"via": "retention", "process": PROCESS, "conversations": ids, "counts": counts,
                                   "retention_days": self.retention_days})
                for key, value in counts.items():
                    totals[key] = totals.get(key, 0) + value
                if len(ids) < batch:
                    break
        totals["audit_log"] = self.sql.delete_old_audit(cutoff)
        totals["agent_tokens"] = self.sql.delete_expired_tokens(now)
        totals.setdefault("conversations", 0)
        totals["retention_days"] = self.retention_days
        return totals

    def close(self) -> None:
        """Release the tracker database's connections."""
        self.sql.close()

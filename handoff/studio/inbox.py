"""The review inbox: shopper messages the bot missed, and what staff did about them.

What the bot understood of each shopper message is stored with it (the
message's ``data``: ``intent``, ``confidence``, ``entities`` and, when the turn
set off a handoff, ``handoff`` with its trigger). The inbox copies the messages
that need a look into ``review_items`` as it is read, so their state (open,
added, out of scope, dismissed) survives restarts and the shopper-side hot
path does no extra work.
"""

from __future__ import annotations

import json
import time
from typing import Optional

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from handoff.store.sql import messages, review_items

REASONS = ("handoff", "fallback", "out_of_scope", "low_confidence")
STATES = ("open", "added", "out_of_scope", "dismissed")
FALLBACK_INTENT = "nlu_fallback"
# A message is understood (its turn recorded) within a second or two of arriving; one still without
# an understanding this long after arriving never gets one (an agent had the conversation).
UNDERSTANDING_GRACE_SECONDS = 120
MAX_LIMIT = 200
SYNC_BATCH = 5000


def reason_for(data: dict, low_confidence: float) -> Optional[tuple[str, Optional[str]]]:
    """``(reason, handoff trigger)`` when a message's understanding needs review, else None."""
    if "intent" not in data:
        return None
    if data.get("handoff"):
        return "handoff", data["handoff"]
    intent, confidence = data.get("intent"), data.get("confidence")
    if intent == FALLBACK_INTENT:
        return "fallback", None
    if intent == "out_of_scope":
        return "out_of_scope", None
    if confidence is not None and confidence < low_confidence:
        return "low_confidence", None
    return None


class ReviewInbox:
    """Review items in the store.

    Args:
        engine: the store's SQLAlchemy engine.
        low_confidence: messages understood with less confidence than this need review.
    """

    def __init__(self, engine, low_confidence: float):
        self.engine = engine
        self.low_confidence = low_confidence
        self._scanned: Optional[int] = None  # messages up to this id are in the inbox if they need to be

    def sync(self, now: Optional[float] = None) -> int:
        """Copy the shopper messages that need review and are not in the inbox yet; how many were added.

        Reads in batches of ``SYNC_BATCH`` messages (the first read of a long history stays bounded in memory).
        """
        now = now or time.time()
        if self._scanned is None:
            with self.engine.connect() as conn:
                self._scanned = conn.execute(select(func.max(review_items.c.message_id))).scalar() or 0
        added, pending, position = 0, None, self._scanned
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(select(messages).where(messages.c.id > position, messages.c.sender == "shopper")
                                    .order_by(messages.c.id).limit(SYNC_BATCH)).fetchall()
            found = []
            for row in rows:
                data = json.loads(row.data or "{}")
                why = reason_for(data, self.low_confidence)
                if why is None:
                    if "intent" not in data and now - row.created_at < UNDERSTANDING_GRACE_SECONDS and pending is None:
                        pending = row.id  # look at it again next time
                    continue
                found.append(_new_item(row, data, *why))
            added += self._insert(found)
            if rows:
                position = rows[-1].id
            if len(rows) < SYNC_BATCH:
                break
        self._scanned = (pending - 1) if pending is not None else position
        return added

    def _insert(self, found: list[dict]) -> int:
        """Insert new items in one transaction; one by one when some are there already (another process,
        or a rescan after a message that was still waiting for its understanding)."""
        if not found:
            return 0
        try:
            with self.engine.begin() as conn:
                conn.execute(review_items.insert(), found)
            return len(found)
        except IntegrityError:
            pass
        added = 0
        for item in found:
            try:
                with self.engine.begin() as conn:
                    conn.execute(review_items.insert().values(**item))
                added += 1
            except IntegrityError:
                pass
        return added

    def items(self, language: Optional[str] = None, reason: Optional[str] = None, text: Optional[str] = None,
              state: str = "open", limit: int = 50, before: Optional[int] = None) -> dict:
        """Items newest first, and the counts per language and reason of every item in ``state``."""
        self.sync()
        conditions = [review_items.c.state == state]
        counts_query = (select(review_items.c.language, review_items.c.reason, func.count())
                        .where(*conditions).group_by(review_items.c.language, review_items.c.reason))
        if language:
            conditions.append(review_items.c.language == language)
        if reason:
            conditions.append(review_items.c.reason == reason)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(review_items.c.text.like(pattern, escape="\\"))
        if before:
            conditions.append(review_items.c.id < before)
        query = select(review_items).where(and_(*conditions)).order_by(review_items.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            found = [_item(row) for row in conn.execute(query)]
            groups = [{"language": lang, "reason": why, "count": count} for lang, why, count in conn.execute(counts_query)]
        groups.sort(key=lambda g: (-g["count"], g["language"] or "", g["reason"]))
        return {"items": found, "groups": groups, "total": sum(g["count"] for g in groups),
                "next_before": found[-1]["id"] if len(found) == limit else None}

    def get(self, ids: list[int]) -> list[dict]:
        """Items by id (in the order asked; unknown ids left out)."""
        with self.engine.connect() as conn:
            rows = {row.id: _item(row) for row in conn.execute(select(review_items).where(review_items.c.id.in_(ids)))}
        return [rows[i] for i in ids if i in rows]

    def conversation_has_items(self, conversation_id: str) -> bool:
        """Whether the conversation has a message in the inbox (the studio may show its transcript)."""
        query = select(review_items.c.id).where(review_items.c.conversation_id == conversation_id).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def mark(self, item_id: int, state: str, agent_id: Optional[int], resolution: Optional[str] = None) -> None:
        """Record what was done with an item."""
        with self.engine.begin() as conn:
            conn.execute(review_items.update().where(review_items.c.id == item_id).values(
                state=state, resolution=resolution, acted_by=agent_id, acted_at=time.time()))


def _new_item(row, data: dict, reason: str, trigger: Optional[str]) -> dict:
    return {"message_id": row.id, "conversation_id": row.conversation_id, "text": row.text, "language": row.language,
            "intent": data.get("intent"), "confidence": data.get("confidence"), "reason": reason, "trigger": trigger,
            "state": "open", "created_at": row.created_at}


def _item(row) -> dict:
    return {"id": row.id, "message_id": row.message_id, "conversation_id": row.conversation_id, "text": row.text,
            "language": row.language, "intent": row.intent, "confidence": row.confidence, "reason": row.reason,
            "trigger": row.trigger, "state": row.state, "resolution": row.resolution, "acted_by": row.acted_by,
            "acted_at": row.acted_at, "created_at": row.created_at,
            "transcript": f"/api/studio/conversations/{row.conversation_id}"}

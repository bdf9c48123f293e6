"""SQL behind the agents' desk notes (issue #19): private notes and tags, macros, customer links.

Tables in ``handoff/store/sql.py`` (migration ``0010_notes_macros_customers``). Nothing here is
ever read by the shopper side: notes and tags reach agents only, through the console API.
"""

from __future__ import annotations

import json
import time
from typing import Optional

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from handoff.store.sql import (
    SQLStore, conversation_customers, conversation_notes, conversation_tags, conversations, macros, messages,
    transitions,
)


def _macro(row) -> dict:
    return {"id": row.id, "owner_id": row.owner_id, "shared": row.owner_id is None, "title": row.title,
            "source_language": row.source_language, "texts": json.loads(row.texts or "{}"),
            "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at}


class DeskNotesStore:
    """Notes, tags, macros and customer links.

    Args:
        store: the conversation store (its engine is shared).
    """

    def __init__(self, store: SQLStore):
        self.engine = store.engine

    # -- notes -----------------------------------------------------------------
    def add_note(self, conversation_id: str, agent_id: Optional[int], author: str, text: str) -> dict:
        """Store a private note; returns it."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(conversation_notes.insert().values(
                conversation_id=conversation_id, agent_id=agent_id, author=author, text=text, created_at=now))
        return {"id": result.inserted_primary_key[0], "agent_id": agent_id, "author": author, "text": text,
                "created_at": now}

    def notes(self, conversation_id: str) -> list[dict]:
        """A conversation's notes, oldest first."""
        query = (select(conversation_notes).where(conversation_notes.c.conversation_id == conversation_id)
                 .order_by(conversation_notes.c.id))
        with self.engine.connect() as conn:
            return [{"id": r.id, "agent_id": r.agent_id, "author": r.author, "text": r.text,
                     "created_at": r.created_at} for r in conn.execute(query)]

    def note(self, conversation_id: str, note_id: int) -> Optional[dict]:
        """One note of a conversation, or None."""
        query = select(conversation_notes).where(conversation_notes.c.id == note_id,
                                                 conversation_notes.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            r = conn.execute(query).first()
        return None if r is None else {"id": r.id, "agent_id": r.agent_id, "author": r.author, "text": r.text,
                                       "created_at": r.created_at}

    def update_note(self, conversation_id: str, note_id: int, text: str) -> Optional[dict]:
        """Replace a note's text (who and when: the audit log); returns it, None if it is gone."""
        with self.engine.begin() as conn:
            conn.execute(conversation_notes.update().where(
                conversation_notes.c.id == note_id, conversation_notes.c.conversation_id == conversation_id)
                .values(text=text))
        return self.note(conversation_id, note_id)

    def delete_note(self, conversation_id: str, note_id: int) -> bool:
        """Delete a note; False if it was not there."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(conversation_notes).where(
                conversation_notes.c.id == note_id, conversation_notes.c.conversation_id == conversation_id))
        return result.rowcount > 0

    # -- tags ------------------------------------------------------------------
    def add_tag(self, conversation_id: str, tag: str, agent_id: Optional[int]) -> bool:
        """Tag a conversation; False if it already had the tag."""
        try:
            with self.engine.begin() as conn:
                conn.execute(conversation_tags.insert().values(
                    conversation_id=conversation_id, tag=tag, agent_id=agent_id, created_at=time.time()))
        except IntegrityError:
            return False
        return True

    def remove_tag(self, conversation_id: str, tag: str) -> bool:
        """Untag; False if it did not have the tag."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(conversation_tags).where(
                conversation_tags.c.conversation_id == conversation_id, conversation_tags.c.tag == tag))
        return result.rowcount > 0

    def tags(self, conversation_id: str) -> list[str]:
        """A conversation's tags, sorted."""
        query = (select(conversation_tags.c.tag).where(conversation_tags.c.conversation_id == conversation_id)
                 .order_by(conversation_tags.c.tag))
        with self.engine.connect() as conn:
            return [row.tag for row in conn.execute(query)]

    # -- macros ----------------------------------------------------------------
    def macros_for(self, agent_id: int) -> list[dict]:
        """The shared macros and this agent's own, shared first, then by title."""
        query = (select(macros).where(or_(macros.c.owner_id.is_(None), macros.c.owner_id == agent_id))
                 .order_by(macros.c.owner_id.isnot(None), macros.c.title, macros.c.id))
        with self.engine.connect() as conn:
            return [_macro(row) for row in conn.execute(query)]

    def macro(self, macro_id: int) -> Optional[dict]:
        """One macro, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(macros).where(macros.c.id == macro_id)).first()
        return _macro(row) if row else None

    def add_macro(self, owner_id: Optional[int], title: str, source_language: str, texts: dict,
                  created_by: Optional[int]) -> dict:
        """Store a macro (``owner_id`` None: shared); returns it."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(macros.insert().values(
                owner_id=owner_id, title=title, source_language=source_language,
                texts=json.dumps(texts, ensure_ascii=False), created_by=created_by, created_at=now, updated_at=now))
        return self.macro(result.inserted_primary_key[0])

    def update_macro(self, macro_id: int, title: str, source_language: str, texts: dict) -> Optional[dict]:
        """Replace a macro's title and texts; returns it."""
        with self.engine.begin() as conn:
            conn.execute(macros.update().where(macros.c.id == macro_id).values(
                title=title, source_language=source_language, texts=json.dumps(texts, ensure_ascii=False),
                updated_at=time.time()))
        return self.macro(macro_id)

    def delete_macro(self, macro_id: int) -> None:
        """Delete a macro."""
        with self.engine.begin() as conn:
            conn.execute(delete(macros).where(macros.c.id == macro_id))

    # -- customers -------------------------------------------------------------
    def link_customer(self, conversation_id: str, customer_id: str, email: Optional[str], name: Optional[str],
                      verified: bool) -> None:
        """Record who the shop says the shopper is (the latest word wins)."""
        now = time.time()
        values = {"customer_id": customer_id, "email": email, "name": name, "verified": int(verified),
                  "updated_at": now}
        with self.engine.begin() as conn:
            updated = conn.execute(conversation_customers.update().where(
                conversation_customers.c.conversation_id == conversation_id).values(**values))
            if updated.rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(conversation_customers.insert().values(
                        conversation_id=conversation_id, created_at=now, **values))
            except IntegrityError:  # another tab linked it meanwhile
                conn.execute(conversation_customers.update().where(
                    conversation_customers.c.conversation_id == conversation_id).values(**values))

    def customer_of(self, conversation_id: str) -> Optional[dict]:
        """The customer linked to a conversation, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(conversation_customers).where(
                conversation_customers.c.conversation_id == conversation_id)).first()
        if row is None:
            return None
        return {"id": row.customer_id, "email": row.email, "name": row.name, "verified": bool(row.verified)}

    def same_verified_customer(self, conversation_id: str, other_id: str) -> bool:
        """Whether both conversations are linked to one customer by a verified identity."""
        links = conversation_customers
        query = select(links.c.customer_id).where(links.c.conversation_id.in_((conversation_id, other_id)),
                                                  links.c.verified == 1)
        with self.engine.connect() as conn:
            customers = [row.customer_id for row in conn.execute(query)]
        return conversation_id != other_id and len(customers) == 2 and customers[0] == customers[1]

    def earlier_conversations(self, conversation_id: str, customer_id: str, limit: int = 20) -> list[dict]:
        """The verified customer's other conversations, newest first, with date, state and outcome.

        Only rows linked by a verified identity match: an unverified claim to the same id never does.
        """
        linked = (select(conversation_customers.c.conversation_id)
                  .where(conversation_customers.c.customer_id == customer_id, conversation_customers.c.verified == 1,
                         conversation_customers.c.conversation_id != conversation_id))
        query = (select(conversations).where(conversations.c.id.in_(linked.scalar_subquery()))
                 .order_by(conversations.c.created_at.desc()).limit(limit))
        found = []
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                outcome = conn.execute(select(transitions.c.reason).where(
                    transitions.c.conversation_id == row.id, transitions.c.to_state == "resolved")
                    .order_by(transitions.c.id.desc()).limit(1)).scalar()
                first = conn.execute(select(messages.c.text).where(
                    messages.c.conversation_id == row.id, messages.c.sender == "shopper")
                    .order_by(messages.c.id).limit(1)).scalar()
                count = conn.execute(select(func.count(messages.c.id)).where(
                    messages.c.conversation_id == row.id)).scalar()
                found.append({"conversation_id": row.id, "created_at": row.created_at, "updated_at": row.updated_at,
                              "state": row.state, "language": row.language, "outcome": outcome,
                              "first_message": first, "messages": count})
        return found

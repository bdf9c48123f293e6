"""Satisfaction (CSAT): after an agent resolves a conversation, the shopper rates it 1-5.

A rating belongs to one resolution (the ``resolved`` transition's row id, the
``resolution_id`` of ``crossdesk:rating_request``) and to the agent who
resolved it. One rating per resolution: a second one is refused with
``already_rated`` (the first answer stands; a shopper who clicks twice or
replays a tab cannot tilt the average). A conversation resolved again later
(reopened, handed off, resolved) is a new resolution and asks again.

The request goes only to the session's sockets that opted in to the
extensions (the session id room, see ``handoff.delivery``): plain Rasa clients
never see it. Its texts are system responses in the shopper's language
(``bot/responses/system/<lang>.yml``: ``utter_csat_*``).
"""

from __future__ import annotations

import time
from typing import Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.nlg import MultilingualNLG, render
from handoff import protocol
from handoff.store import SQLStore
from handoff.store.sql import conversations, ratings, transitions

TEXTS = {"text": "utter_csat_request", "comment": "utter_csat_comment", "submit": "utter_csat_submit",
         "thanks": "utter_csat_thanks", "scale": "utter_csat_scale"}


def _agent_id(actor: str) -> Optional[int]:
    """``agent:<id>`` -> id."""
    prefix, _, rest = actor.partition(":")
    return int(rest) if prefix == "agent" and rest.isdigit() else None


class Satisfaction:
    """Rating requests and ratings.

    Args:
        store: the conversation store (``ratings`` lives beside ``transitions``).
        texts: the bot's responses, for the request's texts in the shopper's language.
    """

    def __init__(self, store: SQLStore, texts: MultilingualNLG):
        self.store = store
        self.texts = texts

    def pending(self, conversation_id: str) -> Optional[dict]:
        """The resolution to ask about: the latest one, while the conversation is still resolved and unrated."""
        query = (select(transitions.c.id, transitions.c.actor, conversations.c.language, conversations.c.locale)
                 .select_from(transitions.join(conversations, conversations.c.id == transitions.c.conversation_id))
                 .where(transitions.c.conversation_id == conversation_id, conversations.c.state == "resolved",
                        transitions.c.to_state == "resolved")
                 .order_by(transitions.c.id.desc()).limit(1))
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None or conn.execute(select(ratings.c.id).where(ratings.c.resolution_id == row.id)).first():
                return None
        return {"resolution_id": row.id, "agent_id": _agent_id(row.actor), "language": row.language,
                "locale": row.locale}

    def request_payload(self, conversation_id: str, agent_name: str = "") -> Optional[dict]:
        """The ``crossdesk:rating_request`` payload, or None when there is nothing to rate."""
        pending = self.pending(conversation_id)
        if pending is None:
            return None
        language = self.texts.reply_language(TEXTS["text"], pending["language"], pending["locale"])
        payload = {"resolution_id": pending["resolution_id"], "language": language}
        for key, name in TEXTS.items():
            variations = self.texts.variations(name, language)
            payload[key] = render(variations[0], {"agent": agent_name}).get("text", "") if variations else ""
        return payload

    def rate(self, conversation_id: str, rating: protocol.Rating) -> int:
        """Store a rating; returns its id.

        Raises:
            protocol.ProtocolError: ``invalid_resolution`` (not a resolution of this
                conversation), ``already_rated`` (this resolution has its rating).
        """
        with self.store.engine.connect() as conn:
            row = conn.execute(select(transitions.c.actor, conversations.c.language)
                               .select_from(transitions.join(conversations,
                                                             conversations.c.id == transitions.c.conversation_id))
                               .where(transitions.c.id == rating.resolution_id,
                                      transitions.c.conversation_id == conversation_id,
                                      transitions.c.to_state == "resolved")).first()
        if row is None:
            raise protocol.ProtocolError("invalid_resolution", "no such resolution in this conversation")
        try:
            with self.store.engine.begin() as conn:
                result = conn.execute(ratings.insert().values(
                    conversation_id=conversation_id, resolution_id=rating.resolution_id,
                    agent_id=_agent_id(row.actor), rating=rating.rating, comment=rating.comment,
                    language=row.language, created_at=time.time()))
        except IntegrityError:  # the unique resolution_id: one rating per resolution
            raise protocol.ProtocolError("already_rated", "this conversation was already rated") from None
        return result.inserted_primary_key[0]

    def of(self, conversation_id: str) -> list[dict]:
        """The conversation's ratings, oldest first (for the agent's bundle)."""
        query = (select(ratings.c.resolution_id, ratings.c.agent_id, ratings.c.rating, ratings.c.comment,
                        ratings.c.created_at)
                 .where(ratings.c.conversation_id == conversation_id).order_by(ratings.c.id))
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


async def request_rating(sio, satisfaction: Satisfaction, session_id: str, room: Optional[str] = None) -> None:
    """Send ``crossdesk:rating_request`` for the session's latest unrated resolution, if any.

    ``room`` defaults to the session id room: the sockets that opted in to the extensions only
    (plain Rasa clients never get it).
    """
    payload = satisfaction.request_payload(session_id)
    if payload:
        await sio.emit(protocol.RATING_REQUEST, payload, room=room or session_id, namespace=protocol.SHOPPER_NAMESPACE)

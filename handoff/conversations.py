"""Conversation flow on the shopper side: store, ask the bot, store the answer.

Independent of Socket.IO: the namespace turns events into calls here and
emits what comes back. Messages of one conversation are processed in order;
different conversations run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Optional

from bot.engine import BotEngine, BotReply
from handoff import protocol
from handoff.store import Conversation, SQLStore, StoredMessage

logger = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """A bot message ready to emit (stored first)."""

    stored: StoredMessage
    payloads: list[dict]


class ConversationService:
    """Shopper-side conversation logic.

    Args:
        store: where conversations and messages are kept.
        bot: the Rasa engine.
    """

    def __init__(self, store: SQLStore, bot: BotEngine):
        self.store = store
        self.bot = bot
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def _conversation_lock(self, conversation_id: str):
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(conversation_id, None)

    def open_session(self, session_id: str, locale: Optional[str]) -> tuple[Conversation, list[StoredMessage]]:
        """Create or resume a conversation; return it with its transcript."""
        conversation = self.store.ensure_conversation(session_id, locale=locale)
        if locale and locale != conversation.locale:
            self.store.update_conversation(session_id, locale=locale)
        return conversation, self.store.transcript(session_id)

    def receive(self, session_id: str, utterance: protocol.UserUttered) -> tuple[StoredMessage, bool]:
        """Store a shopper message (idempotent per client message id)."""
        self.store.ensure_conversation(session_id, locale=utterance.metadata.get("locale"))
        return self.store.add_message(
            session_id, "shopper", utterance.text, client_id=utterance.client_id,
            data={"metadata": utterance.metadata} if utterance.metadata else None,
        )

    async def answer(self, session_id: str, shopper_message: StoredMessage, metadata: dict) -> list[Outgoing]:
        """Run the bot on a stored shopper message; store and return its replies."""
        async with self._conversation_lock(session_id):
            conversation = self.store.get_conversation(session_id)
            bot_metadata = {
                **{k: v for k, v in metadata.items() if k not in ("language", "translated")},
                "language": conversation.language,
                "locale": metadata.get("locale") or conversation.locale,
            }
            reply = await self.bot.handle(shopper_message.text, session_id, bot_metadata)
            self._record_understanding(conversation, shopper_message, reply)
            return [self._store_bot_message(session_id, m, reply) for m in reply.messages]

    def _record_understanding(self, conversation: Conversation, message: StoredMessage, reply: BotReply) -> None:
        data = {**message.data, "intent": reply.intent, "confidence": reply.confidence,
                "entities": reply.entities}
        self.store.update_message(message.id, language=reply.language, data=data)
        if reply.language and reply.language != conversation.language:
            self.store.update_conversation(conversation.id, language=reply.language)

    def _store_bot_message(self, session_id: str, message: dict, reply: BotReply) -> Outgoing:
        language = message.get("language") or reply.language
        draft = protocol.bot_uttered_payloads({**message, "language": language}, 0, time.time())
        data = {k: v for k, v in (draft[0] if draft else {}).items()
                if k in ("quick_replies", "attachment", "custom")}
        stored, _ = self.store.add_message(session_id, "bot", message.get("text") or "", language=language,
                                           data=data)
        return Outgoing(stored, protocol.bot_uttered_payloads(
            {**message, "language": language}, stored.id, stored.created_at))

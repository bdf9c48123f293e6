"""Conversation flow on the shopper side: store, ask the bot, store the answer.

Independent of Socket.IO: the namespace turns events into calls here and
emits what comes back. Messages of one conversation are processed in order;
different conversations run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional

from bot.engine import BotEngine, BotReply
from handoff import metrics
from handoff import protocol
from handoff.interpreting import PIVOT, Interpreter, as_data
from handoff.store import Conversation, NewMessage, SQLStore, StoredMessage
from handoff.store.group_commit import GroupCommit

if TYPE_CHECKING:
    from handoff.lifecycle import Lifecycle

logger = logging.getLogger(__name__)
CACHED_CONVERSATIONS = 10_000


@dataclass
class Turn:
    """What a shopper message led to."""

    conversation: Conversation
    outgoing: list["Outgoing"]
    handoff_reason: Optional[str] = None


@dataclass
class Outgoing:
    """A stored bot message and the ``bot_uttered`` payloads to emit for it."""

    stored: StoredMessage
    payloads: list[dict]


class ConversationCache(OrderedDict):
    """Conversation rows by session id, most recently used last (bounded by the service).

    Built before the service and the lifecycle so both get it at construction:
    the lifecycle forgets a row whose state it changed, the service reads it.
    """

    def forget(self, session_id: str) -> None:
        """Drop a cached row (its state changed elsewhere)."""
        self.pop(session_id, None)


class _CountedLock:
    """An ``asyncio.Lock`` that knows how many tasks hold it or wait for it.

    The service keeps one lock per active conversation and drops it when the
    last user leaves; the count says when (``asyncio.Lock`` exposes no waiter count).
    """

    def __init__(self):
        self.lock = asyncio.Lock()
        self.users = 0


class ConversationService:
    """Shopper-side conversation logic.

    Args:
        store: where conversations and messages are kept.
        bot: the Rasa engine.
        interpreter: machine translation for languages the bot has no content in.
        lifecycle: finds the handoff a turn calls for, and reopens a resolved conversation.
        conversations: the cache of conversation rows; shared with the lifecycle, which
            drops a row whose state it changed (``ConversationCache.forget``).
        cached_conversations: conversation rows kept in memory (0: read each time, as with
            several processes, where another may change the row).
        identities: links a conversation to the shop's customer from ``metadata.user``
            (``handoff/desk_notes.py``); optional.
    """

    def __init__(self, store: SQLStore, bot: BotEngine, interpreter: Optional[Interpreter] = None,
                 lifecycle: Optional["Lifecycle"] = None, conversations: Optional["ConversationCache"] = None,
                 cached_conversations: int = CACHED_CONVERSATIONS, identities=None):
        self.store = store
        self._writer = GroupCommit(store)  # shopper messages arriving together share one commit
        self.bot = bot
        self.interpreter = interpreter
        self._locks: dict[str, _CountedLock] = {}
        self._conversations = conversations if conversations is not None else ConversationCache()
        self._cache_size = cached_conversations
        self._last_intent: dict[str, Optional[str]] = {}
        self._renewed: set[str] = set()  # erased elsewhere, noticed on use, already started afresh
        self.lifecycle = lifecycle
        self.identities = identities

    @asynccontextmanager
    async def _conversation_lock(self, conversation_id: str):
        counted = self._locks.get(conversation_id)
        if counted is None:
            counted = self._locks[conversation_id] = _CountedLock()
        counted.users += 1
        try:
            async with counted.lock:
                yield
        finally:
            counted.users -= 1
            if counted.users == 0:
                del self._locks[conversation_id]

    def _conversation(self, session_id: str, locale: Optional[str] = None) -> Conversation:
        """The conversation (created if new), from a bounded in-memory cache."""
        conversation = self._conversations.get(session_id)
        if conversation is None:
            conversation = self.store.ensure_conversation(session_id, locale=locale)
            if not self._cache_size:
                return conversation
            self._conversations[session_id] = conversation
            while len(self._conversations) > self._cache_size:
                self._conversations.popitem(last=False)
        self._conversations.move_to_end(session_id)
        return conversation

    def _update(self, conversation: Conversation, **values) -> None:
        self.store.update_conversation(conversation.id, **values)
        for key, value in values.items():
            setattr(conversation, key, value)

    def _drop_if_erased(self, session_id: str) -> None:
        """Forget a cached conversation that was erased meanwhile (by the command line or another process).

        Without this the cache would keep serving the erased conversation and
        new messages would be stored against a row that is gone. One primary-key
        lookup per shopper message (measured in docs/privacy.md).
        """
        if session_id in self._conversations and not self.store.conversation_exists(session_id):
            self.erased([session_id])
            self._renewed.add(session_id)

    def renewed(self, session_id: str) -> bool:
        """Whether this session already started afresh after an erasure made elsewhere (asked once)."""
        if session_id in self._renewed:
            self._renewed.discard(session_id)
            return True
        return False

    def erased(self, session_ids: list[str]) -> None:
        """Drop everything cached about erased conversations (here and in the bot's tracker cache)."""
        for session_id in session_ids:
            self._conversations.pop(session_id, None)
            self._last_intent.pop(session_id, None)
            if self.identities is not None:
                self.identities.forget([session_id])
            if hasattr(self.bot, "forget_tracker"):  # (test doubles of the bot have no tracker cache)
                self.bot.forget_tracker(session_id)

    def open_session(self, session_id: str, locale: Optional[str]) -> tuple[Conversation, list[StoredMessage]]:
        """Create or resume a conversation; return it with its transcript."""
        self._drop_if_erased(session_id)
        conversation = self._conversation(session_id, locale)
        if locale and locale != conversation.locale:
            self._update(conversation, locale=locale)
        return conversation, self.store.transcript(session_id)

    async def receive(self, session_id: str, utterance: protocol.UserUttered) -> tuple[StoredMessage, bool]:
        """Store a shopper message (idempotent per client message id).

        While a human has the conversation the bot is paused, so the message's
        language is detected here (sticky, like the bot does) and stored with it.
        """
        self._drop_if_erased(session_id)
        conversation = self._conversation(session_id, locale=utterance.metadata.get("locale"))
        language = None
        if conversation.state != "bot":
            from bot.language import choose_language

            language, _ = choose_language(utterance.text, conversation.language, conversation.locale)
        metadata = utterance.metadata
        if self.identities is not None and metadata.get("user"):
            metadata = self.identities.observe(session_id, metadata)  # (the hash is not stored)
        stored, created = await self._writer.add(NewMessage(
            session_id, "shopper", utterance.text, language=language, client_id=utterance.client_id,
            data={"metadata": metadata} if metadata else None,
        ))
        if created and language:  # with the bot, counted once the bot has read its language (_record_turn)
            metrics.message("in", "shopper", language)
        return stored, created

    def leave_contact(self, session_id: str, contact: protocol.Contact) -> StoredMessage:
        """Store the shopper's contact details in the transcript (agents see them in the bundle)."""
        self._drop_if_erased(session_id)
        self._conversation(session_id)  # (re)created if it was erased meanwhile
        details = {"email": contact.email, "name": contact.name}
        text = f"{contact.name} <{contact.email}>" if contact.name else contact.email
        stored, _ = self.store.add_message(session_id, "system", text, data={"event": "contact", "contact": details})
        return stored

    def state(self, session_id: str) -> str:
        """The conversation's current state (the cache is dropped on every transition)."""
        return self._conversation(session_id).state

    def current(self, session_id: str) -> Conversation:
        """The conversation's current row (read again unless this process alone keeps it up to date)."""
        return self._conversation(session_id)

    def forget(self, session_id: str) -> None:
        """Drop the cached conversation row (its state changed elsewhere)."""
        self._conversations.pop(session_id, None)

    async def answer(self, session_id: str, shopper_message: StoredMessage, metadata: dict,
                     read: Optional[Conversation] = None) -> Turn:
        """Run the bot on a stored shopper message; store its replies; find handoff triggers.

        ``read``: the row as read just after the message was stored; used when no other turn of the
        conversation runs here first (else read again after it), which saves a read per message
        when several processes keep no rows.
        """
        read = read if session_id not in self._locks else None
        async with self._conversation_lock(session_id):
            conversation = read or self._conversation(session_id)
            if conversation.state == "resolved" and self.lifecycle:  # written after resolve: the bot again
                await self.lifecycle.reopen(conversation)
                self._last_intent.pop(session_id, None)  # a fresh start: no "twice in a row" across the handoff
            if isinstance(metadata.get("user"), dict) and "hash" in metadata["user"]:  # not kept in Rasa's tracker either
                metadata = {**metadata, "user": {k: v for k, v in metadata["user"].items() if k != "hash"}}
            bot_metadata = {
                **{k: v for k, v in metadata.items() if k not in ("language", "translated")},
                "language": conversation.language,
                "locale": metadata.get("locale") or conversation.locale,
            }
            long_tail = self.interpreter and self.interpreter.long_tail_language(
                shopper_message.text, conversation.language, bot_metadata["locale"])
            started = asyncio.get_running_loop().time()
            if long_tail:
                reply = await self._translated_reply(session_id, shopper_message, bot_metadata, long_tail)
            else:
                reply = await self.bot.handle(shopper_message.text, session_id, bot_metadata)
            metrics.bot_reply(asyncio.get_running_loop().time() - started)
            previous, self._last_intent[session_id] = self._last_intent.get(session_id), reply.intent
            reason = self.lifecycle.trigger_for(conversation, reply.intent, previous) if self.lifecycle else None
            outgoing = self._record_turn(conversation, shopper_message, without_handoff_promise(reply, reason), reason)
            if reply.language and reply.language != conversation.language:
                self._update(conversation, language=reply.language)
            return Turn(conversation, outgoing, reason)

    async def _translated_reply(self, session_id: str, message: StoredMessage, metadata: dict,
                                language: str) -> BotReply:
        """The bot reads the message in the pivot language and answers in the shopper's."""
        started = asyncio.get_running_loop().time()
        incoming = await self.interpreter.bot_input(message.text, language)
        message.data["translation"] = as_data(incoming)
        if not incoming.translated:  # the bot answers politely that it can't read this language
            return await self.bot.handle(message.text, session_id, metadata)
        reply = await self.bot.handle(incoming.text, session_id, {**metadata, "language": PIVOT, "translated": True})
        remaining = self.interpreter.budget - (asyncio.get_running_loop().time() - started)
        messages = await self.interpreter.bot_output(reply.messages, language, remaining)
        return replace(reply, language=language, messages=messages)

    def _record_turn(self, conversation: Conversation, message: StoredMessage, reply: BotReply,
                     handoff: Optional[str] = None) -> list[Outgoing]:
        understanding = {**message.data, "intent": reply.intent, "confidence": reply.confidence,
                         "entities": reply.entities}
        if handoff:  # the trigger this message set off (the studio's review inbox lists it)
            understanding["handoff"] = handoff
        drafts = []
        for bot_message in reply.messages:
            bot_message = {**bot_message, "language": bot_message.get("language") or reply.language}
            [payload] = protocol.bot_uttered_payloads(bot_message, 0, 0.0) or [{}]
            data = {k: v for k, v in payload.items() if k in ("quick_replies", "attachment", "custom")}
            if bot_message.get("translation"):
                data["translation"] = bot_message["translation"]
            drafts.append((bot_message, data))
        stored = self.store.record_turn(
            conversation.id, message.id, understanding, reply.language,
            [(m.get("text") or "", m["language"], data) for m, data in drafts],
        )
        metrics.message("in", "shopper", reply.language or conversation.language)
        for row in stored:
            metrics.message("out", "bot", row.language)
        return [
            Outgoing(row, protocol.bot_uttered_payloads(m, row.id, row.created_at))
            for row, (m, _) in zip(stored, drafts)
        ]


def without_handoff_promise(reply: BotReply, reason: Optional[str]) -> BotReply:
    """The reply without ``utter_request_human`` when this turn queues the conversation.

    The queue notice that follows says what really happens (someone will join, or
    the team is offline); the bot's "I'll connect you, please stay" before
    "our team is offline" told the shopper two different things.
    """
    if reason != "request_human":
        return reply
    return replace(reply, messages=[m for m in reply.messages if m.get("utter_action") != "utter_request_human"])

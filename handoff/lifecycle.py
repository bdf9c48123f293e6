"""Conversation lifecycle: ``bot`` → ``waiting`` → ``with_agent`` → ``resolved`` (or back to ``bot``).

Every transition is a compare-and-set in the store (one winner per race) and
is recorded with who, why and when. While a human has the conversation the
bot is paused the Rasa-native way (``ConversationPaused``): NLU still runs and
every message is still logged, but no bot action is predicted.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable, Optional

from bot.engine import BotEngine
from bot.nlg import MultilingualNLG, render
from handoff import metrics
from handoff import protocol
from handoff.business_hours import BusinessHours, local_when, zone
from handoff.store import Conversation, SQLStore, StoredMessage
from handoff.store.records import Agent

logger = logging.getLogger(__name__)

NEEDS_PERSON = ("request_human", "delivery_problem", "product_question")
REPEAT_TRIGGERS = {"nlu_fallback": "fallback", "out_of_scope": "out_of_scope"}
RECENT_INTENTS = 5


class LifecycleError(protocol.ProtocolError):
    """A refused lifecycle action; ``code`` and ``message`` go to the client."""


class Lifecycle:
    """State changes, the bot pause, system messages and the agent's bundle.

    Args:
        store: conversations and messages.
        bot: the Rasa engine (to pause/resume the tracker).
        texts: the bot's responses (system messages in the shopper's language).
        agents_online: returns how many agents can take a conversation now (connected, not away).
    """

    def __init__(self, store: SQLStore, bot: BotEngine, texts: MultilingualNLG,
                 agents_online: Callable[[], int], on_change: Callable[[str], None] = lambda _id: None,
                 hours: Optional[BusinessHours] = None):
        self.store = store
        self.bot = bot
        self.texts = texts
        self.agents_online = agents_online
        self.on_change = on_change  # told the id of every conversation whose state changed
        self.hours = hours  # the team's business hours (None: always open)

    def _transition(self, conversation_id: str, to_state: str, actor: str, reason: str,
                    from_states: tuple[str, ...], agent_id: Optional[int] = None,
                    max_load: Optional[int] = None, held_by: Optional[int] = None) -> bool:
        changed = self.store.transition(conversation_id, to_state, actor, reason, from_states, agent_id, max_load,
                                        held_by)
        if changed:
            self.on_change(conversation_id)
        return changed

    def system_text(self, name: str, language: Optional[str], locale: Optional[str] = None, **values) -> str:
        """A response in the conversation's language, else the widget's (``locale``), else English."""
        variations = self.texts.variations(name, self.texts.reply_language(name, language, locale))
        return render(variations[0], values).get("text", "") if variations else ""

    def trigger_for(self, conversation: Conversation, intent: Optional[str], previous_intent: Optional[str]) -> Optional[str]:
        """The handoff reason this turn calls for, if any."""
        if conversation.state != "bot" or not intent:
            return None
        if intent in NEEDS_PERSON:
            return intent
        if intent in REPEAT_TRIGGERS and previous_intent == intent:
            return REPEAT_TRIGGERS[intent]
        return None

    async def _pause(self, conversation_id: str, paused: bool) -> None:
        from rasa.shared.core.events import ConversationPaused, ConversationResumed

        await self.bot.run_on_tracker(conversation_id, [ConversationPaused() if paused else ConversationResumed()])

    def _system_message(self, conversation: Conversation, name: str, **values) -> Optional[StoredMessage]:
        text = self.system_text(name, conversation.language, conversation.locale, **values)
        if not text:
            return None
        language = self.texts.reply_language(name, conversation.language, conversation.locale)
        stored, _ = self.store.add_message(conversation.id, "system", text, language=language,
                                           data={"event": name})
        metrics.message("out", "system", conversation.language)
        return stored

    async def request(self, conversation: Conversation, reason: str, actor: str = "bot") -> list[StoredMessage]:
        """Queue the conversation for an agent; returns system messages for the shopper."""
        if not self._transition(conversation.id, "waiting", actor, reason, ("bot",)):
            return []
        conversation.state = "waiting"
        metrics.handoff(reason)
        await self._pause(conversation.id, True)
        name = "utter_handoff_waiting" if self.agents_online() else "utter_handoff_offline"
        message = self._closed_notice(conversation) or self._system_message(conversation, name)
        return [message] if message else []

    def _closed_notice(self, conversation: Conversation) -> Optional[StoredMessage]:
        """Outside business hours: when the team is back, in the shopper's language and local time.

        None while the team works (or has no hours set, or never opens again within a year:
        then the offline notice says the rest).
        """
        if self.hours is None or self.hours.always_open:
            return None
        closed, back = self.hours.closed_until(dt.datetime.now(dt.timezone.utc))
        if not closed or back is None:
            return None
        name = "utter_handoff_closed"
        language = self.texts.reply_language(name, conversation.language, conversation.locale)
        tz = zone(self.shopper_context(conversation.id).get("timezone"))
        when = local_when(back, language, tz)
        text = self.system_text(name, conversation.language, conversation.locale, when=when)
        stored, _ = self.store.add_message(conversation.id, "system", text, language=language,
                                           data={"event": name, "reopens_at": back.timestamp()})
        metrics.message("out", "system", conversation.language)
        return stored

    def shopper_context(self, conversation_id: str) -> dict:
        """The metadata of the shopper's latest message that had any (page, locale, time zone, user)."""
        shopper = [m for m in self.store.transcript(conversation_id, limit=10_000) if m.sender == "shopper"]
        return next((m.data.get("metadata") for m in reversed(shopper) if m.data.get("metadata")), {}) or {}

    async def claim(self, agent: Agent, conversation_id: str, max_load: Optional[int] = None,
                    auto: Optional[bool] = None) -> StoredMessage:
        """Give a waiting (or, proactively, a bot) conversation to ``agent``.

        With ``max_load`` only while the agent holds fewer conversations than that: checked in the
        same UPDATE (``limit_reached`` otherwise), so a race of claims never goes over the limit.
        An auto-assignment (``auto``; by default: whenever ``max_load`` is given) takes only a waiting one.
        """
        auto = max_load is not None if auto is None else auto
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise LifecycleError("not_found", "no such conversation")
        was_bot = conversation.state == "bot"
        reason = "takeover" if was_bot else "auto_assign" if auto else "claim"
        states = ("waiting",) if auto else ("waiting", "bot")
        if not self._transition(conversation_id, "with_agent", f"agent:{agent.id}", reason, states,
                                agent_id=agent.id, max_load=max_load):
            if max_load is not None and self.load(agent.id) >= max_load:
                raise LifecycleError("limit_reached", "that agent has no room for another conversation")
            raise LifecycleError("already_claimed", "another agent has this conversation")
        if was_bot:
            metrics.handoff("takeover")
        elif conversation.waiting_since:
            metrics.queue_wait(time.time() - conversation.waiting_since)
        if was_bot:
            await self._pause(conversation_id, True)
        return self._system_message(conversation, "utter_agent_joined", agent=agent.display_name)

    def assigned(self, agent: Agent, conversation_id: str) -> Conversation:
        """The conversation if ``agent`` has it, else LifecycleError."""
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None or conversation.state != "with_agent" or conversation.agent_id != agent.id:
            raise LifecycleError("not_assigned", "this conversation is not yours")
        return conversation

    async def hand_back(self, agent: Agent, conversation_id: str) -> StoredMessage:
        """Give the conversation back to the bot."""
        conversation = self.assigned(agent, conversation_id)
        if not self._transition(conversation_id, "bot", f"agent:{agent.id}", "handback", ("with_agent",),
                                held_by=agent.id):
            raise LifecycleError("not_assigned", "this conversation is not yours")
        await self._pause(conversation_id, False)
        return self._system_message(conversation, "utter_agent_left", agent=agent.display_name)

    async def resolve(self, agent: Agent, conversation_id: str, outcome: str) -> StoredMessage:
        """Close the conversation with an outcome tag."""
        conversation = self.assigned(agent, conversation_id)
        if not self._transition(conversation_id, "resolved", f"agent:{agent.id}", outcome or "resolved",
                                ("with_agent",), held_by=agent.id):
            raise LifecycleError("not_assigned", "this conversation is not yours")
        return self._system_message(conversation, "utter_agent_left", agent=agent.display_name)

    async def transfer(self, agent: Agent, conversation_id: str, target: Agent,
                       max_load: Optional[int] = None) -> StoredMessage:
        """Hand a conversation this agent holds to another agent (with ``max_load``: only while the
        target holds fewer than that, checked in the same UPDATE; ``limit_reached`` otherwise)."""
        self.assigned(agent, conversation_id)
        if target.id == agent.id:
            raise LifecycleError("invalid_target", "that is you")
        if not self._transition(conversation_id, "with_agent", f"agent:{agent.id}", f"transfer:{target.id}",
                                ("with_agent",), agent_id=target.id, max_load=max_load, held_by=agent.id):
            if max_load is not None and self.load(target.id) >= max_load:
                raise LifecycleError("limit_reached", "that agent has no room for another conversation")
            raise LifecycleError("not_assigned", "this conversation is not yours")
        return self._system_message(self.store.get_conversation(conversation_id), "utter_agent_joined",
                                    agent=target.display_name)

    async def reopen(self, conversation: Conversation) -> bool:
        """A shopper wrote after ``resolved``: the bot answers again (same session and history).

        Recorded as its own transition ``resolved -> bot`` (the resolved one keeps
        its outcome), and the Rasa tracker paused at ``request``/``claim`` resumes.
        """
        if not self._transition(conversation.id, "bot", "shopper", "reopened", ("resolved",)):
            return False
        conversation.state = "bot"
        await self._pause(conversation.id, False)
        return True

    def requeued_notice(self, conversation_id: str, agent_name: str) -> Optional[StoredMessage]:
        """Tell the shopper their agent stayed away too long and they are back in the queue."""
        conversation = self.store.get_conversation(conversation_id)
        return self._system_message(conversation, "utter_agent_requeued", agent=agent_name) if conversation else None

    def load(self, agent_id: int) -> int:
        """How many conversations an agent holds."""
        return len(self.store.conversations_in(("with_agent",), agent_id=agent_id))

    def requeue_agent(self, agent_id: int) -> list[str]:
        """Put an absent agent's conversations back in the queue (``waiting``)."""
        requeued = []
        for conversation in self.store.conversations_in(("with_agent",), agent_id=agent_id):
            if self._transition(conversation.id, "waiting", "system", "agent_disconnected", ("with_agent",),
                                held_by=agent_id):
                requeued.append(conversation.id)
        return requeued

    def queue(self) -> list[dict]:
        """Waiting conversations, longest wait first."""
        now = time.time()
        entries = []
        waiting = self.store.conversations_in(("waiting",))
        last_said = self.store.last_messages(("waiting",), "shopper")
        for conversation in waiting:
            last = last_said.get(conversation.id)
            entries.append({
                "conversation_id": conversation.id, "language": conversation.language,
                "reason": conversation.handoff_reason, "skill": conversation.context.get("skill"),
                "waiting_seconds": round(now - (conversation.waiting_since or now), 1),
                "last_message": last.text if last else None,
            })
        metrics.queue(len(entries))
        return sorted(entries, key=lambda e: -e["waiting_seconds"])

    def bundle(self, conversation_id: str) -> dict:
        """Everything an agent needs at claim time."""
        conversation = self.store.get_conversation(conversation_id)
        transcript = self.store.transcript(conversation_id, limit=10_000)
        shopper = [m for m in transcript if m.sender == "shopper"]
        intents = [{"intent": m.data.get("intent"), "confidence": m.data.get("confidence"), "text": m.text}
                   for m in shopper if m.data.get("intent")][-RECENT_INTENTS:]
        slots: dict = {}
        for message in shopper:
            for entity in message.data.get("entities") or []:
                if entity.get("entity") in ("country", "order_id"):
                    slots[entity["entity"]] = entity.get("value")
        metadata = next((m.data.get("metadata") for m in reversed(shopper) if m.data.get("metadata")), {}) or {}
        contact = next((m.data["contact"] for m in reversed(transcript) if m.data.get("event") == "contact"), None)
        waited = (time.time() - conversation.waiting_since) if conversation.waiting_since else 0.0
        return {
            "conversation_id": conversation_id, "state": conversation.state, "language": conversation.language,
            "reason": conversation.handoff_reason, "waiting_seconds": round(waited, 1),
            "transcript": [_transcript_entry(m) for m in transcript],
            "recent_intents": intents, "slots": slots,
            "context": {"locale": conversation.locale, "page": metadata.get("page"), "contact": contact,
                        "user": metadata.get("user"), "timezone": metadata.get("timezone")},
            "transitions": [{k: t[k] for k in ("from_state", "to_state", "actor", "reason", "created_at")}
                            for t in self.store.transitions(conversation_id)],
        }


def _transcript_entry(message: StoredMessage) -> dict:
    return {**protocol.stored_message_fields(message), "intent": message.data.get("intent"),
            "confidence": message.data.get("confidence"), "translation": message.data.get("translation")}


def shopper_payload(message: StoredMessage) -> dict:
    """A non-bot message (agent or system) as the shopper receives it: Rasa's ``bot_uttered`` shape."""
    return protocol.stored_message_fields(message)


__all__ = ["Lifecycle", "LifecycleError", "shopper_payload", "protocol"]

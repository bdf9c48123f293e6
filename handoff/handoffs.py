"""The handoff service: queueing a conversation for a person and telling the agents, claims, hand-backs,
resolutions, transfers, the queue snapshot and the notices the shopper gets along the way.

The path of a shopper message reads from the file names: ``namespaces/shopper.py``
→ ``conversations.py`` → the bot, or, once a person is involved, → ``handoffs.py``
(this module) → the agents (``agent_notifier.py``). ``lifecycle.py`` is the state
machine underneath (compare-and-set transitions, the bot pause, system texts);
this service is the one place that decides who hears about a change.

Collaborators come in through the constructor: the store, the lifecycle, an
``AgentNotifier`` (how agent consoles are reached), a function that delivers a
message to a shopper's sockets, the agent directory, the audit log and the
interpreter. A second process is different collaborators, not flags in here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional

from handoff import metrics, protocol
from handoff.agent_notifier import AgentNotifier
from handoff.audit import READ_TRANSCRIPT
from handoff.coalesce import Coalescer
from handoff.interpreting import Interpreter
from handoff.lifecycle import Lifecycle, LifecycleError, shopper_payload
from handoff.queue_position import QueueAnnouncer
from handoff.routing import Routing, skill_for
from handoff.store import Conversation, SQLStore, StoredMessage
from handoff.store.agents import AgentStore
from handoff.store.records import Agent

logger = logging.getLogger(__name__)
BACKLOG = 30  # messages translated for an agent when they take a conversation
# Every message of a waiting conversation changes the queue (its last message):
# a flooding shopper had the whole queue pushed to every agent once per message
# (issue #14). At most one push per 0.1 s, the first at once, the last up to date.
QUEUE_PUSH_INTERVAL = 0.1

ShopperDelivery = Callable[[str, dict], Awaitable[None]]  # (session id, bot_uttered payload) -> sent


class HandoffService:
    """Owns everything between "a person should take this" and "the person is done".

    Args:
        store: conversations and messages (read here for the queue, bundles and searches).
        lifecycle: the state machine (transitions, bot pause, system messages).
        notifier: reaches agent consoles (``SocketAgentNotifier`` in one process).
        to_shopper: delivers one message payload to every socket of a shopper's session.
        agents: the agent directory (names and languages, for notices and translations).
        audit: records that an agent received a transcript (claims, transfers); optional.
        interpreter: translates shopper messages for the agent holding them; optional.
        routing: offers each waiting conversation to the agents it is routed to, and auto-assigns
            (``handoff/routing.py``); None: every agent sees the whole queue.
        positions: tells queued shoppers their place and expected wait; optional.
    """

    def __init__(self, store: SQLStore, lifecycle: Lifecycle, notifier: AgentNotifier, to_shopper: ShopperDelivery,
                 agents: AgentStore, audit=None, interpreter: Optional[Interpreter] = None,
                 ask_rating: Optional[Callable[[str], Awaitable[None]]] = None, routing: Optional[Routing] = None,
                 positions: Optional[QueueAnnouncer] = None):
        self.store = store
        self.routing = routing  # who each waiting conversation is offered to (None: every agent sees all)
        self.positions = positions  # tells waiting shoppers their place (handoff/queue_position.py)
        self._assigned_listeners: list[Callable[[], Awaitable[None]]] = []  # told after auto-assignments
        self._widening: Optional[asyncio.TimerHandle] = None  # the next push when a stage widens
        self._ask_rating = ask_rating  # after a resolve the shopper is asked to rate the help (handoff/csat.py)
        self.lifecycle = lifecycle
        self.notifier = notifier
        self._to_shopper = to_shopper
        self.agents = agents
        self.audit = audit
        self.interpreter = interpreter
        self.queue_pushes = Coalescer(self._send_queue, QUEUE_PUSH_INTERVAL)
        self._tasks: set[asyncio.Task] = set()  # translations for agents, referenced until they end

    # -- read model ------------------------------------------------------------
    def conversation(self, conversation_id: str) -> Optional[Conversation]:
        """One conversation, or None."""
        return self.store.get_conversation(conversation_id)

    def held_by(self, agent_id: int) -> list[Conversation]:
        """The conversations an agent holds now."""
        return self.store.conversations_in(("with_agent",), agent_id=agent_id)

    def load(self, agent_id: int) -> int:
        """How many conversations an agent holds."""
        return self.lifecycle.load(agent_id)

    def search(self, **filters) -> list[dict]:
        """Past and current conversations matching the console's search filters."""
        return self.store.search(**filters)

    def queue(self) -> list[dict]:
        """Waiting conversations, longest wait first."""
        return self.lifecycle.queue()

    def bundle(self, conversation_id: str) -> dict:
        """Everything an agent needs about a conversation (transcript, intents, slots, context)."""
        return self.lifecycle.bundle(conversation_id)

    def assigned(self, agent: Agent, conversation_id: str) -> Conversation:
        """The conversation if ``agent`` holds it, else ``LifecycleError(not_assigned)``."""
        return self.lifecycle.assigned(agent, conversation_id)

    # -- notices -----------------------------------------------------------------
    async def to_shopper(self, conversation_id: str, message: Optional[StoredMessage]) -> None:
        """Deliver an agent or system message to every tab of the shopper."""
        if message is not None:
            await self._to_shopper(conversation_id, shopper_payload(message))

    async def push_queue(self) -> None:
        """Send the current queue to every agent (coalesced: see ``QUEUE_PUSH_INTERVAL``)."""
        await self.queue_pushes.request()

    async def _send_queue(self) -> None:
        if self.routing is None:
            queue = self.queue()
            await self.notifier.to_all(protocol.AGENT_QUEUE, {"queue": queue})
        else:
            queue = await self._send_routed_queue()
        if self.positions is not None:
            await self.positions.announce(queue)

    def subscribe_assigned(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call ``listener`` after auto-assignments (the agents' list shows their loads)."""
        self._assigned_listeners.append(listener)

    async def _send_routed_queue(self) -> list[dict]:
        """Auto-assign (when on), then send each online agent the entries offered to them; returns the queue."""
        if self.routing.auto_assign and await self._auto_assign():
            for listener in self._assigned_listeners:
                await listener()
        queue, desk = self.queue(), self.routing.desk()
        for agent_id, offered in self.routing.views(queue, desk).items():
            await self.notifier.to_agent(agent_id, protocol.AGENT_QUEUE, {"queue": offered})
        self._widen_later(self.routing.router.widens_in(queue, desk))
        return queue

    def queue_for(self, agent_id: int) -> list[dict]:
        """The waiting conversations offered to one agent now (all of them without routing)."""
        if self.routing is None:
            return self.queue()
        return self.routing.visible(self.queue(), agent_id, self.routing.desk())

    def _widen_later(self, delay: Optional[float]) -> None:
        """Push the queue again when the next conversation reaches a wider group of agents."""
        if self._widening is not None:
            self._widening.cancel()
            self._widening = None
        if delay is not None:
            self._widening = asyncio.get_running_loop().call_later(delay, lambda: self._spawn(self.push_queue()))

    async def _auto_assign(self) -> int:
        """Give waiting conversations, longest wait first, to the least-loaded agent each is offered to.

        Returns how many were assigned. The claim re-checks the agent's load in its UPDATE, so another
        process assigning at the same time can make one fail: that agent's load is read again and the
        conversation waits for the next push.
        """
        desk, assigned = self.routing.desk(), 0
        for entry in self.queue():
            agent_id = self.routing.router.pick(entry, desk)
            if agent_id is None:
                continue
            try:
                await self.claim(desk.agents[agent_id], entry["conversation_id"],
                                 max_load=self.routing.router.max_conversations)
            except LifecycleError as error:
                logger.info("auto-assign of %s to agent %s: %s", entry["conversation_id"], agent_id, error.code)
                desk.loads[agent_id] = self.load(agent_id)
                continue
            desk.loads[agent_id] = desk.loads.get(agent_id, 0) + 1
            assigned += 1
        return assigned

    def close(self) -> None:
        """Drop a scheduled queue push (at shutdown)."""
        self.queue_pushes.close()
        if self._widening is not None:
            self._widening.cancel()

    # -- the shopper side ----------------------------------------------------------
    async def request(self, conversation: Conversation, reason: str, actor: str = "bot") -> list[StoredMessage]:
        """Queue a conversation for an agent: tell the shopper what happens next, then the agents."""
        notices = await self.lifecycle.request(conversation, reason, actor)
        if notices and self.routing is not None:  # queued: the team it is routed to
            self._remember_skill(conversation.id, reason)
        for notice in notices:
            await self.to_shopper(conversation.id, notice)
        await self.push_queue()
        return notices

    def _remember_skill(self, conversation_id: str, reason: str) -> None:
        """Store the skill a queued conversation needs (its reason's, else its latest topic's) in its context."""
        intents = [m.data.get("intent") for m in self.store.transcript(conversation_id, limit=10_000)
                   if m.sender == "shopper"]
        self.store.update_conversation(conversation_id, context={"skill": skill_for(reason, intents)})

    async def repeat_position(self, conversation_id: str) -> None:
        """A shopper's tab (re)connected while queued: send their place again."""
        if self.positions is not None:
            self.positions.forget(conversation_id)
            await self.push_queue()

    async def shopper_said(self, conversation_id: str, state: str, message: StoredMessage) -> None:
        """A shopper message in a handed-off conversation reaches the agent side."""
        if state == "with_agent":
            payload = {"conversation_id": conversation_id, "message": shopper_payload(message)}
            await self.notifier.to_conversation(conversation_id, protocol.AGENT_SHOPPER_MESSAGE, payload)
            if self.interpreter and self.interpreter.enabled:
                self._spawn(self._translate_for_agent(conversation_id, [message]))
        elif state == "waiting":
            await self.push_queue()

    async def shopper_typing(self, conversation_id: str, typing: bool) -> None:
        """The shopper's typing indicator reaches the agent holding the conversation."""
        await self.notifier.to_conversation(conversation_id, protocol.AGENT_SHOPPER_TYPING,
                                            {"conversation_id": conversation_id, "typing": typing})

    # -- the agent side ------------------------------------------------------------
    async def claim(self, agent: Agent, conversation_id: str, max_load: Optional[int] = None,
                    auto: Optional[bool] = None) -> dict:
        """Give a waiting (or, proactively, a bot) conversation to ``agent``; returns its bundle.

        With ``max_load`` the agent holds fewer than that or it fails (``limit_reached``), checked in
        the claim's UPDATE. An auto-assignment (``auto``; by default whenever ``max_load`` is given)
        reaches their consoles in ``agent:assigned``.
        """
        auto = max_load is not None if auto is None else auto
        joined = await self.lifecycle.claim(agent, conversation_id, max_load=max_load, auto=auto)
        if self.audit:  # the agent receives the transcript in the claim's answer
            self.audit.record(agent.id, READ_TRANSCRIPT, conversation_id,
                              {"via": "auto_assign" if auto else "claim"})
        await self.notifier.seat(agent.id, conversation_id, join=True)
        await self.to_shopper(conversation_id, joined)
        await self.push_queue()
        self.translate_backlog(conversation_id)
        bundle = self.bundle(conversation_id)
        if auto:  # (to the agent's own room: their tabs on any process)
            await self.notifier.to_agent(agent.id, protocol.AGENT_ASSIGNED, {"conversation": bundle, "from": None,
                                                                            "auto": True})
        return bundle

    async def agent_said(self, agent: Agent, conversation: Conversation, text: str, client_id: Optional[str],
                         original: Optional[str]) -> tuple[StoredMessage, bool]:
        """Store an agent reply (idempotent per client id) and deliver it; returns (message, created)."""
        extra = {"translation": {"text": original, "language": agent.languages[0] if agent.languages else None,
                                 "translated": True, "error": None}} if original else {}
        stored, created = self.store.add_message(
            conversation.id, "agent", text, language=conversation.language, client_id=client_id,
            data={"agent_id": agent.id, "agent_name": agent.display_name, **extra})
        if created:
            metrics.message("out", "agent", conversation.language)
            await self.to_shopper(conversation.id, stored)
        return stored, created

    async def hand_back(self, agent: Agent, conversation_id: str) -> None:
        """Give the conversation back to the bot."""
        await self._release(agent, conversation_id, await self.lifecycle.hand_back(agent, conversation_id))

    async def resolve(self, agent: Agent, conversation_id: str, outcome: str) -> None:
        """Close the conversation with an outcome tag."""
        await self._release(agent, conversation_id, await self.lifecycle.resolve(agent, conversation_id, outcome))
        if self._ask_rating:
            await self._ask_rating(conversation_id)

    async def _release(self, agent: Agent, conversation_id: str, notice: Optional[StoredMessage]) -> None:
        await self.notifier.seat(agent.id, conversation_id, join=False)
        await self.to_shopper(conversation_id, notice)

    async def transfer(self, agent: Agent, conversation_id: str, target: Agent, max_load: Optional[int] = None) -> None:
        """Hand a conversation ``agent`` holds to ``target`` (checked online by the caller; with ``max_load``
        only while the target holds fewer, checked in the transfer's UPDATE)."""
        joined = await self.lifecycle.transfer(agent, conversation_id, target, max_load=max_load)
        if self.audit:  # the target receives the transcript in agent:assigned
            self.audit.record(target.id, READ_TRANSCRIPT, conversation_id, {"via": "transfer", "from": agent.id})
        await self.notifier.seat(agent.id, conversation_id, join=False)
        await self.notifier.seat(target.id, conversation_id, join=True)
        await self.to_shopper(conversation_id, joined)
        self.translate_backlog(conversation_id)
        # To the target's own room: on another process their tabs may not have joined the conversation's yet.
        await self.notifier.to_agent(target.id, protocol.AGENT_ASSIGNED, {
            "conversation": self.bundle(conversation_id), "from": agent.display_name})

    async def requeue_agent(self, agent_id: int) -> list[str]:
        """An agent stayed away too long: their conversations go back to the queue, each shopper is told."""
        requeued = self.lifecycle.requeue_agent(agent_id)
        if requeued:
            agent = self.agents.get(agent_id)
            for conversation_id in requeued:  # the shopper is told, in their language
                await self.to_shopper(conversation_id, self.lifecycle.requeued_notice(
                    conversation_id, agent.display_name if agent else ""))
            await self.push_queue()
        return requeued

    # -- translations for the agent -------------------------------------------------
    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def translate_backlog(self, conversation_id: str) -> None:
        """In the background: the last messages of a conversation in its agent's language."""
        if self.interpreter and self.interpreter.enabled:
            backlog = self.store.transcript(conversation_id, limit=10_000)[-BACKLOG:]
            self._spawn(self._translate_for_agent(conversation_id, backlog))

    async def _translate_for_agent(self, conversation_id: str, messages: list) -> None:
        """After the originals went out: each message in the agent's language, stored and pushed."""
        conversation = self.store.get_conversation(conversation_id)
        agent = self.agents.get(conversation.agent_id) if conversation and conversation.agent_id else None
        if agent is None:
            return
        for message in messages:
            if message.data.get("translation") or message.sender == "agent":
                continue
            translation = await self.interpreter.for_agent(message.text, message.language or conversation.language,
                                                           agent.languages)
            if translation is None:
                continue
            self.store.update_message_data(message.id, translation=translation)
            await self.notifier.to_conversation(conversation_id, protocol.AGENT_TRANSLATION, {
                "conversation_id": conversation_id, "message_id": message.id, "translation": translation})

"""Agent namespace ``/agent``: authenticated at connect, then queue, claim, relay, hand back, resolve."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import socketio

from compat import room_call
from handoff import metrics
from handoff import protocol
from handoff.delivery import deliver
from handoff.audit import READ_TRANSCRIPT
from handoff.coalesce import Coalescer
from handoff.interpreting import Interpreter
from handoff.lifecycle import Lifecycle, LifecycleError, shopper_payload
from handoff.namespaces import BackgroundNamespace
from handoff.presence import MemoryPresence
from handoff.session_cookie import cookie_token
from handoff.sessions import SessionGuard
from handoff.settings import Settings
from handoff.store.agents import AgentStore
from handoff.store.records import Agent

logger = logging.getLogger(__name__)
AGENTS_ROOM = "agents"
BACKLOG = 30  # messages translated for an agent when they take a conversation
# Every message of a waiting conversation changes the queue (its last message):
# a flooding shopper had the whole queue pushed to every agent once per message
# (issue #14). At most one push per 0.1 s, the first at once, the last up to date.
QUEUE_PUSH_INTERVAL = 0.1


def conversation_room(conversation_id: str) -> str:
    """The agent-side room of one conversation."""
    return f"conversation:{conversation_id}"


def agent_room(agent_id: int) -> str:
    """Every socket (console tab) of one agent, in any process."""
    return f"agent:{agent_id}"


class AgentNamespace(BackgroundNamespace):
    """Every event needs the socket's authenticated agent; shoppers can't connect here."""

    def __init__(self, lifecycle: Lifecycle, agents: AgentStore, settings: Settings,
                 interpreter: Optional[Interpreter] = None, presence: Optional[MemoryPresence] = None):
        super().__init__(protocol.AGENT_NAMESPACE)
        self.lifecycle = lifecycle
        self.agents = agents
        self.settings = settings
        self.interpreter = interpreter
        self._grace: dict[int, asyncio.TimerHandle] = {}  # agent id -> pending requeue
        self.audit = None  # the AuditLog, set by the app: a claim hands over the transcript
        self.presence = presence or MemoryPresence()  # who is online where, and away (handoff.presence)
        self.presence.follow_rooms(self._join_here)
        self.sessions = SessionGuard(agents, self._cut, settings.agent_session_sweep_seconds)
        self.queue_pushes = Coalescer(self._send_queue, QUEUE_PUSH_INTERVAL)

    # -- helpers ---------------------------------------------------------------
    def online_count(self) -> int:
        """How many agent sockets are connected."""
        return self.presence.local_count()

    def available_count(self) -> int:
        """How many agents are connected and not away: those a queued shopper can expect."""
        return self.presence.available_count()

    async def _agent(self, sid: str) -> Agent:
        session = self.sessions.current(sid) if self.presence.agent_of(sid) is not None else None
        if session is None:
            self.sessions.end_later(sid)  # after this refusal: session_ended with the reason, then disconnect
            raise LifecycleError(protocol.SESSION_ENDED, "your session has ended: log in again")
        return session.agent

    async def _cut(self, sid: str, reason: str, notify: bool = True) -> None:
        """End a socket whose token stopped working: say why, then disconnect it.

        A deactivated agent is not coming back: their conversations return to
        the queue at once instead of after the grace period.
        """
        agent_id = self.presence.agent_of(sid)
        if notify:
            await self.emit(protocol.ERROR, {"code": protocol.SESSION_ENDED, "reason": reason,
                                             "message": protocol.SESSION_END_MESSAGES.get(reason, reason),
                                             "event": "session"}, room=sid)
        await self.disconnect(sid)
        pending = self._grace.pop(agent_id, None) if reason == "deactivated" else None
        if pending:
            pending.cancel()
            await self._requeue(agent_id)

    async def end_sessions(self, token_digest: str, reason: str) -> int:
        """Cut every socket that connected with this token (a logout in this process)."""
        return await self.sessions.end_token(token_digest, reason)

    async def _fail(self, sid: str, event: str, error: protocol.ProtocolError) -> dict:
        return await self.refuse(sid, event, error)

    async def to_shopper(self, conversation_id: str, message) -> None:
        """Deliver an agent or system message to every tab of the shopper."""
        if message is not None:
            await deliver(self.server, conversation_id, shopper_payload(message))

    def sids_of(self, agent_id: int) -> list[str]:
        """The sockets (console tabs) of one agent."""
        return self.presence.local_sids(agent_id)

    async def _set_rooms(self, agent_id: int, conversation_id: str, join: bool) -> None:
        """Put every socket (console tab) of an agent into, or out of, a conversation's room."""
        room = conversation_room(conversation_id)
        await self._join_here(agent_id, room, join)
        await self.presence.share_rooms(agent_id, room, join)  # the agent's tabs on other processes

    async def _join_here(self, agent_id: int, room: str, join: bool) -> None:
        for sid in self.sids_of(agent_id):
            await room_call(self.enter_room if join else self.leave_room, sid, room)

    def _is_full(self, agent_id: int) -> bool:
        """Whether the agent already holds as many conversations as allowed."""
        return self.lifecycle.load(agent_id) >= self.settings.agent_max_conversations

    def agents_payload(self) -> dict:
        """Online agents with presence and load, for transfers and supervisors."""
        listed = []
        for agent_id in sorted(self.presence.online_agents()):
            agent = self.agents.get(agent_id)
            if agent:
                listed.append({"id": agent.id, "display_name": agent.display_name, "languages": agent.languages,
                               "status": self.presence.status(agent.id), "load": self.lifecycle.load(agent.id)})
        return {"agents": listed, "max_conversations": self.settings.agent_max_conversations}

    async def push_agents(self) -> None:
        """Send the online agents to every agent."""
        await self.emit(protocol.AGENT_AGENTS, self.agents_payload(), room=AGENTS_ROOM)

    async def push_queue(self) -> None:
        """Send the current queue to every agent (coalesced: see ``QUEUE_PUSH_INTERVAL``)."""
        await self.queue_pushes.request()

    async def _send_queue(self) -> None:
        await self.emit(protocol.AGENT_QUEUE, {"queue": self.lifecycle.queue()}, room=AGENTS_ROOM)

    async def shopper_said(self, conversation_id: str, state: str, message) -> None:
        """A shopper message in a handed-off conversation reaches the agent side."""
        if state == "with_agent":
            payload = {"conversation_id": conversation_id, "message": shopper_payload(message)}
            await self.emit(protocol.AGENT_SHOPPER_MESSAGE, payload, room=conversation_room(conversation_id))
            if self.interpreter and self.interpreter.enabled:
                self._spawn(self._translate_for_agent(conversation_id, [message]))
        elif state == "waiting":
            await self.push_queue()

    async def shopper_typing(self, conversation_id: str, typing: bool) -> None:
        """The shopper's typing indicator reaches the agent holding the conversation."""
        await self.emit(protocol.AGENT_SHOPPER_TYPING, {"conversation_id": conversation_id, "typing": typing},
                        room=conversation_room(conversation_id))

    async def _translate_for_agent(self, conversation_id: str, messages: list) -> None:
        """After the originals went out: each message in the agent's language, stored and pushed."""
        conversation = self.lifecycle.store.get_conversation(conversation_id)
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
            self.lifecycle.store.update_message_data(message.id, translation=translation)
            await self.emit(protocol.AGENT_TRANSLATION, {"conversation_id": conversation_id, "message_id": message.id,
                                                         "translation": translation},
                            room=conversation_room(conversation_id))

    def _translate_backlog(self, conversation_id: str) -> None:
        if self.interpreter and self.interpreter.enabled:
            backlog = self.lifecycle.store.transcript(conversation_id, limit=10_000)[-BACKLOG:]
            self._spawn(self._translate_for_agent(conversation_id, backlog))

    # -- events ----------------------------------------------------------------
    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Accept only a valid agent token (``auth: {"token": ...}``, else the console's session cookie)."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is None:
            token = cookie_token(environ.get("HTTP_COOKIE"), environ.get("HTTP_ORIGIN"), environ.get("HTTP_HOST"))
        session = self.agents.session_for_token(token)
        if session is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: a valid agent token is required")
        agent = session.agent
        self.presence.connected(sid, agent.id)
        self.sessions.opened(sid, session)
        metrics.socket(protocol.AGENT_NAMESPACE, 1)
        metrics.agents_online(self.presence.local_agent_count())
        pending = self._grace.pop(agent.id, None)
        if pending:
            pending.cancel()  # back within the grace period: keeps its conversations
        await room_call(self.enter_room, sid, AGENTS_ROOM)
        await room_call(self.enter_room, sid, agent_room(agent.id))  # reachable from any process
        mine = self.lifecycle.store.conversations_in(("with_agent",), agent_id=agent.id)
        for conversation in mine:  # a reconnecting agent gets its conversations back
            await room_call(self.enter_room, sid, conversation_room(conversation.id))
        await self.emit(protocol.AGENT_HELLO, {
            "agent": {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                      "languages": agent.languages, "role": agent.role},
            "queue": self.lifecycle.queue(),
            "conversations": [self.lifecycle.bundle(c.id) for c in mine],
            "status": self.presence.status(agent.id),
            "translator": bool(self.interpreter and self.interpreter.enabled),
        }, room=sid)
        await self.push_agents()

    async def on_disconnect(self, sid: str) -> None:
        """Forget the socket; after a grace period its agent's conversations return to the queue."""
        self.sessions.closed(sid)
        agent_id = self.presence.disconnected(sid)
        if agent_id is not None:
            metrics.socket(protocol.AGENT_NAMESPACE, -1)
            metrics.agents_online(self.presence.local_agent_count())
        if agent_id is None or self.presence.is_online(agent_id):
            return
        await self.push_agents()
        loop = asyncio.get_running_loop()
        self._grace[agent_id] = loop.call_later(
            self.settings.agent_grace_seconds, lambda: asyncio.ensure_future(self._requeue(agent_id)))

    async def _requeue(self, agent_id: int) -> None:
        self._grace.pop(agent_id, None)
        if self.presence.is_online(agent_id):  # back, maybe on another process
            return
        requeued = self.lifecycle.requeue_agent(agent_id)
        if requeued:
            agent = self.agents.get(agent_id)
            for conversation_id in requeued:  # the shopper is told, in their language
                await self.to_shopper(conversation_id, self.lifecycle.requeued_notice(
                    conversation_id, agent.display_name if agent else ""))
            await self.push_queue()

    async def on_claim(self, sid: str, data: Any = None) -> dict:
        """Take a waiting conversation (or take over a bot conversation)."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            if self._is_full(agent.id):
                raise LifecycleError("limit_reached",
                                     f"you already hold {self.settings.agent_max_conversations} conversations")
            joined = await self.lifecycle.claim(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_CLAIM, error)
        if self.audit:
            self.audit.record(agent.id, READ_TRANSCRIPT, conversation_id, {"via": "claim"})
        await self._set_rooms(agent.id, conversation_id, join=True)
        await self.to_shopper(conversation_id, joined)
        await self.push_queue()
        await self.push_agents()
        self._translate_backlog(conversation_id)
        return {"ok": True, "conversation": self.lifecycle.bundle(conversation_id)}

    async def on_send(self, sid: str, data: Any = None) -> dict:
        """An agent reply: stored, then delivered to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id, text, client_id = protocol.parse_agent_send(data, self.settings.max_message_chars)
            original = protocol.parse_original(data, self.settings.max_message_chars)
            conversation = self.lifecycle.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_SEND, error)
        extra = {"translation": {"text": original, "language": agent.languages[0] if agent.languages else None,
                                 "translated": True, "error": None}} if original else {}
        stored, created = self.lifecycle.store.add_message(
            conversation_id, "agent", text, language=conversation.language, client_id=client_id,
            data={"agent_id": agent.id, "agent_name": agent.display_name, **extra})
        if created:
            metrics.message("out", "agent", conversation.language)
            await self.to_shopper(conversation_id, stored)
        return {"ok": True, "id": stored.id, "duplicate": not created}

    async def on_typing(self, sid: str, data: Any = None) -> dict:
        """Forward the agent's typing indicator to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            typing = protocol.parse_typing(data)
            self.lifecycle.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TYPING, error)
        await self.server.emit(protocol.TYPING, {"sender": "agent", "name": agent.display_name, "typing": typing},
                               room=conversation_id, namespace=protocol.SHOPPER_NAMESPACE)
        return {"ok": True}

    async def _finish(self, sid: str, event: str, data: Any, action) -> dict:
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            message = await action(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, event, error)
        await self._set_rooms(agent.id, conversation_id, join=False)
        await self.to_shopper(conversation_id, message)
        await self.push_agents()
        return {"ok": True}

    async def on_handback(self, sid: str, data: Any = None) -> dict:
        """Give the conversation back to the bot."""
        return await self._finish(sid, protocol.AGENT_HANDBACK, data, self.lifecycle.hand_back)

    async def on_resolve(self, sid: str, data: Any = None) -> dict:
        """Close the conversation (``outcome`` tag optional)."""
        try:
            outcome = protocol.parse_outcome(data)
        except protocol.ProtocolError as error:
            return await self._fail(sid, protocol.AGENT_RESOLVE, error)

        async def resolve(agent, conversation_id):
            return await self.lifecycle.resolve(agent, conversation_id, outcome)

        return await self._finish(sid, protocol.AGENT_RESOLVE, data, resolve)

    async def on_presence(self, sid: str, data: Any = None) -> dict:
        """``presence {status}``: online or away (shown to other agents)."""
        status = data.get("status") if isinstance(data, dict) else None
        try:
            agent = await self._agent(sid)
            if status not in protocol.PRESENCE_STATES:
                raise protocol.ProtocolError("invalid_status", "status must be 'online' or 'away'")
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_PRESENCE, error)
        self.presence.set_status(agent.id, status)
        await self.push_agents()
        return {"ok": True, "status": status}

    async def on_transfer(self, sid: str, data: Any = None) -> dict:
        """``transfer {conversation_id, agent_id}``: give a conversation to another online agent."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            target = self.agents.get(protocol.parse_agent_id(data))
            if target is None or not await self.presence.confirm_online(target.id):
                raise LifecycleError("agent_offline", "that agent is not online")
            if self._is_full(target.id):
                raise LifecycleError("limit_reached", "that agent has no room for another conversation")
            joined = await self.lifecycle.transfer(agent, conversation_id, target)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TRANSFER, error)
        if self.audit:  # the target receives the transcript in agent:assigned
            self.audit.record(target.id, READ_TRANSCRIPT, conversation_id, {"via": "transfer", "from": agent.id})
        await self._set_rooms(agent.id, conversation_id, join=False)
        await self._set_rooms(target.id, conversation_id, join=True)
        await self.to_shopper(conversation_id, joined)
        self._translate_backlog(conversation_id)
        await self.emit(protocol.AGENT_ASSIGNED, {"conversation": self.lifecycle.bundle(conversation_id),
                                                  "from": agent.display_name}, room=agent_room(target.id))
        await self.push_agents()
        return {"ok": True}

    async def on_translate(self, sid: str, data: Any = None) -> dict:
        """``translate {conversation_id, text}``: the agent's draft in the shopper's language (a preview)."""
        try:
            agent = await self._agent(sid)
            conversation_id, text, _ = protocol.parse_agent_send(data, self.settings.max_message_chars)
            conversation = self.lifecycle.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TRANSLATE, error)
        if not self.interpreter:
            return {"ok": True, "translation": {"text": text, "translated": False, "error": "disabled"}}
        source = agent.languages[0] if agent.languages else "en"
        return {"ok": True, "translation": await self.interpreter.agent_reply(text, source, conversation.language)}

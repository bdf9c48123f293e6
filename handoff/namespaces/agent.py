"""Agent namespace ``/agent``: authenticated at connect, then queue, claim, relay, hand back, resolve."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

import socketio

from crossdesk.compat import room_call
from handoff import metrics
from handoff import protocol
from handoff.agent_notifier import AGENTS_ROOM, agent_room, conversation_room
from handoff.desk_notes import unfilled
from handoff.handoffs import HandoffService
from handoff.interpreting import Interpreter
from handoff.lifecycle import LifecycleError
from handoff.namespaces import BackgroundNamespace
from handoff.presence import MemoryPresence
from handoff.session_cookie import cookie_token
from handoff.sessions import SessionGuard
from handoff.settings import Settings
from handoff.store.agents import AgentStore
from handoff.store.records import Agent

logger = logging.getLogger(__name__)
AGENT_ROLES = ("agent", "admin")  # who may connect to /agent (content staff may not)


class AgentNamespace(BackgroundNamespace):
    """Every event needs the socket's authenticated agent; shoppers can't connect here.

    What an event changes in a conversation (and who hears of it) is the handoff
    service's business (``handoff/handoffs.py``); this class authenticates,
    validates, keeps presence and answers.
    """

    def __init__(self, handoffs: HandoffService, agents: AgentStore, settings: Settings,
                 interpreter: Optional[Interpreter] = None, presence: Optional[MemoryPresence] = None,
                 stopping: Optional[Callable[[], bool]] = None):
        super().__init__(protocol.AGENT_NAMESPACE, stopping)
        self.handoffs = handoffs
        self.agents = agents
        self.settings = settings
        self.interpreter = interpreter
        self._grace: dict[int, asyncio.TimerHandle] = {}  # agent id -> pending requeue
        self.presence = presence or MemoryPresence()  # who is online where, and away (handoff.presence)
        self.presence.subscribe(self.push_agents)  # agents came or went in another process
        handoffs.subscribe_assigned(self.push_agents)  # auto-assignment changed agents' loads
        self.sessions = SessionGuard(agents, self._cut, settings.agent_session_sweep_seconds)

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

    def sids_of(self, agent_id: int) -> list[str]:
        """The sockets (console tabs) of one agent."""
        return self.presence.local_sids(agent_id)

    def agents_payload(self) -> dict:
        """Online agents with presence and load, for transfers and supervisors."""
        listed = []
        for agent_id in sorted(self.presence.online_agents()):
            agent = self.agents.get(agent_id)
            if agent:
                listed.append({"id": agent.id, "display_name": agent.display_name, "languages": agent.languages,
                               "status": self.presence.status(agent.id), "load": self.handoffs.load(agent.id)})
        return {"agents": listed, "max_conversations": self.settings.agent_max_conversations}

    async def push_agents(self) -> None:
        """Send the online agents to every agent (and the queue: who is online and their loads route it)."""
        await self.emit(protocol.AGENT_AGENTS, self.agents_payload(), room=AGENTS_ROOM)
        if self.handoffs.routing is not None:
            await self.handoffs.push_queue()

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
        if agent.role not in AGENT_ROLES:  # content staff work in the studio; conversations are not theirs
            raise socketio.exceptions.ConnectionRefusedError("forbidden: your role may not handle conversations")
        self.presence.connected(sid, agent.id)
        self.sessions.opened(sid, session)
        metrics.socket(protocol.AGENT_NAMESPACE, 1)
        metrics.agents_online(self.presence.local_agent_count())
        pending = self._grace.pop(agent.id, None)
        if pending:
            pending.cancel()  # back within the grace period: keeps its conversations
        await room_call(self.enter_room, sid, AGENTS_ROOM)
        await room_call(self.enter_room, sid, agent_room(agent.id))  # (the handoff service seats its tabs)
        mine = self.handoffs.held_by(agent.id)
        for conversation in mine:  # a reconnecting agent gets its conversations back
            await room_call(self.enter_room, sid, conversation_room(conversation.id))
        await self.emit(protocol.AGENT_HELLO, {
            "agent": {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                      "languages": agent.languages, "role": agent.role},
            "queue": self.handoffs.queue_for(agent.id),  # what is offered to this agent (handoff/routing.py)
            "conversations": [self.handoffs.bundle(c.id) for c in mine],
            "status": self.presence.status(agent.id),
            "translator": bool(self.interpreter and self.interpreter.enabled),
        }, room=sid)
        await self.push_agents()

    async def on_disconnect(self, sid: str) -> None:
        """Forget the socket; after a grace period its agent's conversations return to the queue.

        Not while the server stops: the push and the requeue would read and write the store after the stop.
        """
        self.sessions.closed(sid)
        if self.stopping():
            return
        agent_id = self.presence.disconnected(sid)
        if agent_id is not None:
            metrics.socket(protocol.AGENT_NAMESPACE, -1)
            metrics.agents_online(self.presence.local_agent_count())
        if agent_id is None or self.presence.is_online(agent_id):
            return
        await self.push_agents()
        loop = asyncio.get_running_loop()
        self._grace[agent_id] = loop.call_later(
            self.settings.agent_grace_seconds, lambda: self._spawn(self._requeue(agent_id)))

    def close(self) -> None:
        """Drop the pending requeues (at shutdown)."""
        for timer in self._grace.values():
            timer.cancel()
        self._grace.clear()

    async def _requeue(self, agent_id: int) -> None:
        self._grace.pop(agent_id, None)
        if self.presence.is_online(agent_id):  # back, maybe on another process
            return
        await self.handoffs.requeue_agent(agent_id)

    async def on_claim(self, sid: str, data: Any = None) -> dict:
        """Take a waiting conversation (or take over a bot conversation)."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            # The limit is checked in the claim's own UPDATE: a check before it let a race of claims
            # (two tabs, two processes) go over the limit.
            bundle = await self.handoffs.claim(agent, conversation_id,
                                               max_load=self.settings.agent_max_conversations, auto=False)
        except LifecycleError as error:
            if error.code == "limit_reached":
                error = LifecycleError("limit_reached",
                                       f"you already hold {self.settings.agent_max_conversations} conversations")
            return await self._fail(sid, protocol.AGENT_CLAIM, error)
        except protocol.ProtocolError as error:
            return await self._fail(sid, protocol.AGENT_CLAIM, error)
        await self.push_agents()
        return {"ok": True, "conversation": bundle}

    async def on_send(self, sid: str, data: Any = None) -> dict:
        """An agent reply: stored, then delivered to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id, text, client_id = protocol.parse_agent_send(data, self.settings.max_message_chars)
            original = protocol.parse_original(data, self.settings.max_message_chars)
            if unfilled(text):  # a macro's variable the conversation could not fill: never sent as "{x}"
                raise protocol.ProtocolError(protocol.UNFILLED_VARIABLE,
                                             f"fill in {', '.join('{' + v + '}' for v in unfilled(text))} first")
            conversation = self.handoffs.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_SEND, error)
        stored, created = await self.handoffs.agent_said(agent, conversation, text, client_id, original)
        return {"ok": True, "id": stored.id, "duplicate": not created}

    async def on_typing(self, sid: str, data: Any = None) -> dict:
        """Forward the agent's typing indicator to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            typing = protocol.parse_typing(data)
            self.handoffs.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TYPING, error)
        await self.server.emit(protocol.TYPING, {"sender": "agent", "name": agent.display_name, "typing": typing},
                               room=conversation_id, namespace=protocol.SHOPPER_NAMESPACE)
        return {"ok": True}

    async def _finish(self, sid: str, event: str, data: Any, action) -> dict:
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            await action(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, event, error)
        await self.push_agents()
        return {"ok": True}

    async def on_handback(self, sid: str, data: Any = None) -> dict:
        """Give the conversation back to the bot."""
        return await self._finish(sid, protocol.AGENT_HANDBACK, data, self.handoffs.hand_back)

    async def on_resolve(self, sid: str, data: Any = None) -> dict:
        """Close the conversation (``outcome`` tag optional)."""
        try:
            outcome = protocol.parse_outcome(data)
        except protocol.ProtocolError as error:
            return await self._fail(sid, protocol.AGENT_RESOLVE, error)

        async def resolve(agent, conversation_id):
            return await self.handoffs.resolve(agent, conversation_id, outcome)

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
            # (the target's limit is checked in the transfer's UPDATE: a check before it could be raced)
            await self.handoffs.transfer(agent, conversation_id, target, max_load=self.settings.agent_max_conversations)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TRANSFER, error)
        await self.push_agents()
        return {"ok": True}

    async def on_translate(self, sid: str, data: Any = None) -> dict:
        """``translate {conversation_id, text}``: the agent's draft in the shopper's language (a preview)."""
        try:
            agent = await self._agent(sid)
            conversation_id, text, _ = protocol.parse_agent_send(data, self.settings.max_message_chars)
            conversation = self.handoffs.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TRANSLATE, error)
        if not self.interpreter:
            return {"ok": True, "translation": {"text": text, "translated": False, "error": "disabled"}}
        source = agent.languages[0] if agent.languages else "en"
        return {"ok": True, "translation": await self.interpreter.agent_reply(text, source, conversation.language)}

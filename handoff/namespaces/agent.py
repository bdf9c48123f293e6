"""Agent namespace ``/agent``: authenticated at connect, then queue, claim, relay, hand back, resolve."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import socketio

from handoff import protocol
from handoff.lifecycle import Lifecycle, LifecycleError, shopper_payload
from handoff.settings import Settings
from handoff.store.agents import AgentStore
from handoff.store.records import Agent

logger = logging.getLogger(__name__)
AGENTS_ROOM = "agents"


def conversation_room(conversation_id: str) -> str:
    """The agent-side room of one conversation."""
    return f"conversation:{conversation_id}"


class AgentNamespace(socketio.AsyncNamespace):
    """Every event needs the socket's authenticated agent; shoppers can't connect here."""

    def __init__(self, lifecycle: Lifecycle, agents: AgentStore, settings: Settings):
        super().__init__(protocol.AGENT_NAMESPACE)
        self.lifecycle = lifecycle
        self.agents = agents
        self.settings = settings
        self.online: dict[str, int] = {}  # sid -> agent id
        self._grace: dict[int, asyncio.TimerHandle] = {}  # agent id -> pending requeue

    # -- helpers ---------------------------------------------------------------
    def online_count(self) -> int:
        """How many agent sockets are connected."""
        return len(self.online)

    async def _agent(self, sid: str) -> Agent:
        agent_id = self.online.get(sid)
        agent = self.agents.get(agent_id) if agent_id else None
        if agent is None:
            raise LifecycleError("unauthorized", "log in again")
        return agent

    async def _fail(self, sid: str, event: str, error: Exception) -> dict:
        code = getattr(error, "code", "invalid_payload")
        message = getattr(error, "message", str(error))
        await self.emit(protocol.ERROR, {"code": code, "message": message, "event": event}, room=sid)
        return {"ok": False, "error": code, "message": message}

    async def to_shopper(self, conversation_id: str, message) -> None:
        """Deliver an agent or system message to every tab of the shopper."""
        if message is not None:
            await self.server.emit(protocol.BOT_UTTERED, shopper_payload(message), room=conversation_id,
                                   namespace=protocol.SHOPPER_NAMESPACE)

    async def push_queue(self) -> None:
        """Send the current queue to every agent."""
        await self.emit(protocol.AGENT_QUEUE, {"queue": self.lifecycle.queue()}, room=AGENTS_ROOM)

    async def shopper_said(self, conversation_id: str, state: str, message) -> None:
        """A shopper message in a handed-off conversation reaches the agent side."""
        if state == "with_agent":
            payload = {"conversation_id": conversation_id, "message": shopper_payload(message)}
            await self.emit(protocol.AGENT_SHOPPER_MESSAGE, payload, room=conversation_room(conversation_id))
        elif state == "waiting":
            await self.push_queue()

    async def shopper_typing(self, conversation_id: str, typing: bool) -> None:
        """The shopper's typing indicator reaches the agent holding the conversation."""
        await self.emit(protocol.AGENT_SHOPPER_TYPING, {"conversation_id": conversation_id, "typing": typing},
                        room=conversation_room(conversation_id))

    # -- events ----------------------------------------------------------------
    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Accept only a valid agent token (``auth: {"token": ...}``)."""
        token = auth.get("token") if isinstance(auth, dict) else None
        agent = self.agents.agent_for_token(token)
        if agent is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: a valid agent token is required")
        self.online[sid] = agent.id
        pending = self._grace.pop(agent.id, None)
        if pending:
            pending.cancel()  # back within the grace period: keeps its conversations
        self.enter_room(sid, AGENTS_ROOM)
        mine = self.lifecycle.store.conversations_in(("with_agent",), agent_id=agent.id)
        for conversation in mine:  # a reconnecting agent gets its conversations back
            self.enter_room(sid, conversation_room(conversation.id))
        await self.emit(protocol.AGENT_HELLO, {
            "agent": {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                      "languages": agent.languages, "role": agent.role},
            "queue": self.lifecycle.queue(),
            "conversations": [self.lifecycle.bundle(c.id) for c in mine],
        }, room=sid)

    async def on_disconnect(self, sid: str) -> None:
        """Forget the socket; after a grace period its agent's conversations return to the queue."""
        agent_id = self.online.pop(sid, None)
        if agent_id is None or agent_id in self.online.values():
            return
        loop = asyncio.get_running_loop()
        self._grace[agent_id] = loop.call_later(
            self.settings.agent_grace_seconds, lambda: asyncio.ensure_future(self._requeue(agent_id)))

    async def _requeue(self, agent_id: int) -> None:
        self._grace.pop(agent_id, None)
        if agent_id in self.online.values():
            return
        if self.lifecycle.requeue_agent(agent_id):
            await self.push_queue()

    async def on_claim(self, sid: str, data: Any = None) -> dict:
        """Take a waiting conversation (or take over a bot conversation)."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            joined = await self.lifecycle.claim(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_CLAIM, error)
        self.enter_room(sid, conversation_room(conversation_id))
        await self.to_shopper(conversation_id, joined)
        await self.push_queue()
        return {"ok": True, "conversation": self.lifecycle.bundle(conversation_id)}

    async def on_send(self, sid: str, data: Any = None) -> dict:
        """An agent reply: stored, then delivered to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id, text, client_id = protocol.parse_agent_send(data, self.settings.max_message_chars)
            conversation = self.lifecycle.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_SEND, error)
        stored, created = self.lifecycle.store.add_message(
            conversation_id, "agent", text, language=conversation.language, client_id=client_id,
            data={"agent_id": agent.id, "agent_name": agent.display_name})
        if created:
            await self.to_shopper(conversation_id, stored)
        return {"ok": True, "id": stored.id, "duplicate": not created}

    async def on_typing(self, sid: str, data: Any = None) -> dict:
        """Forward the agent's typing indicator to the shopper."""
        try:
            agent = await self._agent(sid)
            conversation_id = protocol.parse_conversation_ref(data)
            self.lifecycle.assigned(agent, conversation_id)
        except (LifecycleError, protocol.ProtocolError) as error:
            return await self._fail(sid, protocol.AGENT_TYPING, error)
        typing = bool(data.get("typing", True))
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
        self.leave_room(sid, conversation_room(conversation_id))
        await self.to_shopper(conversation_id, message)
        return {"ok": True}

    async def on_handback(self, sid: str, data: Any = None) -> dict:
        """Give the conversation back to the bot."""
        return await self._finish(sid, protocol.AGENT_HANDBACK, data, self.lifecycle.hand_back)

    async def on_resolve(self, sid: str, data: Any = None) -> dict:
        """Close the conversation (``outcome`` tag optional)."""
        outcome: Optional[str] = data.get("outcome") if isinstance(data, dict) else None
        outcome = outcome if isinstance(outcome, str) and len(outcome) <= 64 else "resolved"

        async def resolve(agent, conversation_id):
            return await self.lifecycle.resolve(agent, conversation_id, outcome)

        return await self._finish(sid, protocol.AGENT_RESOLVE, data, resolve)

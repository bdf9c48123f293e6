"""Telling the agents: what the handoff service emits to agent consoles, behind a small interface.

The handoff service decides *what* agents must hear (the queue changed, a
shopper wrote, a conversation moved to another agent); an ``AgentNotifier``
decides *how* it reaches their sockets. ``SocketAgentNotifier`` emits through
this process's Socket.IO server; a second process (Redis-backed rooms) is a
different notifier passed to ``create_app``, not flags in the service.
"""

from __future__ import annotations

from typing import Protocol

import socketio

from crossdesk.compat import room_call
from handoff import protocol

AGENTS_ROOM = "agents"  # every connected agent socket


def conversation_room(conversation_id: str) -> str:
    """The agent-side room of one conversation (the consoles of the agent holding it)."""
    return f"conversation:{conversation_id}"


def agent_room(agent_id: int) -> str:
    """The room of one agent's sockets (its console tabs)."""
    return f"agent:{agent_id}"


class AgentNotifier(Protocol):
    """What the handoff service needs to reach agent consoles."""

    async def to_all(self, event: str, payload: dict) -> None:
        """Send to every connected agent."""

    async def to_conversation(self, conversation_id: str, event: str, payload: dict) -> None:
        """Send to the consoles showing one conversation."""

    async def to_agent(self, agent_id: int, event: str, payload: dict) -> None:
        """Send to every console (tab) of one agent."""

    async def seat(self, agent_id: int, conversation_id: str, join: bool) -> None:
        """Put every console of an agent into (or take it out of) a conversation's room."""


class SocketAgentNotifier:
    """Emits to agent rooms on ``/agent`` through a (single-process) Socket.IO server.

    Args:
        server: the Socket.IO server the agent namespace is registered on.
    """

    def __init__(self, server: socketio.AsyncServer, presence=None):
        self.server = server
        self.namespace = protocol.AGENT_NAMESPACE
        self.presence = presence  # shares room changes with the agent's tabs on other processes
        if presence is not None:
            presence.follow_rooms(self._join_here)

    async def to_all(self, event: str, payload: dict) -> None:
        """Send to every connected agent."""
        await self.server.emit(event, payload, room=AGENTS_ROOM, namespace=self.namespace)

    async def to_conversation(self, conversation_id: str, event: str, payload: dict) -> None:
        """Send to the consoles showing one conversation."""
        await self.server.emit(event, payload, room=conversation_room(conversation_id), namespace=self.namespace)

    async def to_agent(self, agent_id: int, event: str, payload: dict) -> None:
        """Send to every console (tab) of one agent."""
        await self.server.emit(event, payload, room=agent_room(agent_id), namespace=self.namespace)

    async def seat(self, agent_id: int, conversation_id: str, join: bool) -> None:
        """Put every console of an agent into (or take it out of) a conversation's room."""
        room = conversation_room(conversation_id)
        await self._join_here(agent_id, room, join)
        if self.presence is not None:
            await self.presence.share_rooms(agent_id, room, join)  # the agent's tabs on other processes

    async def _join_here(self, agent_id: int, room: str, join: bool) -> None:
        """Move this process's sockets of an agent into or out of a room."""
        method = self.server.enter_room if join else self.server.leave_room
        for sid in self._sids(agent_id):
            await room_call(method, sid, room, namespace=self.namespace)

    def _sids(self, agent_id: int) -> list[str]:
        rooms = self.server.manager.rooms.get(self.namespace)
        if not rooms:  # no agent socket ever joined a room here
            return []
        return [sid for sid, _ in self.server.manager.get_participants(self.namespace, agent_room(agent_id))]

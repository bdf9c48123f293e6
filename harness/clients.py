"""Real python-socketio clients: a shopper speaking Rasa's protocol, an agent on ``/agent``."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

import socketio


class RecordingClient:
    """A real python-socketio client that queues the events it receives."""

    def __init__(self, url: str, events: tuple[str, ...], namespace: str = "/"):
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        for name in events:
            self.client.on(name, self._recorder(name), namespace=namespace)

    def _recorder(self, name: str):
        async def record(data: Any = None) -> None:
            await self.events.put((name, data))
        return record

    async def expect(self, name: str, timeout: float = 15, where=None) -> tuple[str, Any]:
        """The next event called ``name`` (matching ``where``); other events before it are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name} within {timeout}s")
            event = await asyncio.wait_for(self.events.get(), remaining)
            if event[0] == name and (where is None or where(event[1])):
                return event

    async def close(self) -> None:
        await self.client.disconnect()


class Shopper(RecordingClient):
    """A shopper speaking Rasa's protocol (plus Crossdesk's extensions)."""

    def __init__(self, url: str):
        super().__init__(url, ("session_confirm", "bot_uttered", "crossdesk:error", "crossdesk:history",
                               "crossdesk:typing"))
        self.session_id: Optional[str] = None

    async def connect(self, session_id: Optional[str] = None, locale: Optional[str] = None,
                      extensions: Optional[int] = 1) -> str:
        """Connect and request a session; ``extensions=None`` speaks Rasa's protocol only (like rasa-webchat)."""
        await self.client.connect(self.url, transports=["websocket"])
        request = {"session_id": session_id, "locale": locale}
        if extensions is not None:
            request["extensions"] = extensions
        await self.client.emit("session_request", request)
        _, self.session_id = await self.expect("session_confirm")
        return self.session_id

    async def say(self, text: str, message_id: Optional[str] = None, **extra) -> dict:
        """Send ``user_uttered`` and return the server's acknowledgement."""
        payload = {"message": text, "session_id": self.session_id, **extra}
        if message_id:
            payload["message_id"] = message_id
        return await self.client.call("user_uttered", payload, timeout=15)

    async def ask(self, text: str, **extra) -> dict:
        """Say something and return the bot's first reply."""
        ack = await self.say(text, **extra)
        assert ack["ok"], ack
        _, reply = await self.expect("bot_uttered")
        return reply


class AgentClient(RecordingClient):
    """An agent on the ``/agent`` namespace."""

    def __init__(self, url: str, token: Optional[str]):
        super().__init__(url, ("agent:hello", "agent:queue", "agent:shopper_message", "agent:shopper_typing",
                               "crossdesk:error"), namespace="/agent")
        self.token = token

    async def connect(self) -> dict:
        await self.client.connect(self.url, namespaces=["/agent"], transports=["websocket"],
                                  auth={"token": self.token})
        _, hello = await self.expect("agent:hello")
        return hello

    async def call(self, event: str, data: Any) -> dict:
        return await self.client.call(event, data, namespace="/agent", timeout=15)

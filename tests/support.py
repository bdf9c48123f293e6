"""Test helpers: a real server process and real Socket.IO shopper clients."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

import socketio

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m handoff serve`` on a free port with its own var dir."""

    def __init__(self, var_dir: Path, model_path: Path, env: Optional[dict] = None):
        self.var_dir = Path(var_dir)
        self.model_path = Path(model_path)
        self.extra_env = env or {}
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.var_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "ServerProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ, "RASA_TELEMETRY_ENABLED": "false", "CROSSDESK_PORT": str(self.port),
            "CROSSDESK_VAR_DIR": str(self.var_dir), "CROSSDESK_MODEL_PATH": str(self.model_path),
            **self.extra_env,
        }
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env=env,
                                        stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if b'"ok"' in response.read():
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not healthy: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run (crash simulation)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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


CHROMIUM = os.environ.get("CROSSDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def add_agent(var_dir: Path, name: str, password: str, languages: str = "en,ja", role: str = "agent") -> None:
    """Create an agent account (``role`` agent or admin) with the real CLI."""
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(var_dir)}
    subprocess.run([sys.executable, "-m", "handoff", "agents", "add", name, "--languages", languages,
                    "--display-name", name.title(), "--role", role], input=password + "\n", text=True, env=env,
                   cwd=ROOT, check=True, capture_output=True)


def login(url: str, username: str, password: str) -> tuple[int, dict]:
    """POST /api/login; returns (status, JSON body)."""
    import json

    request = urllib.request.Request(url + "/api/login", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


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

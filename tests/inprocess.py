"""In-process test support: the app built by ``create_app`` around a fake bot, served in the test's event loop.

No subprocess and no Rasa model: ``FakeBot`` has the ``BotEngine`` interface
and answers from a fixed table; the Sanic server runs on a free port in the
test's own event loop and is driven with real ``socketio.AsyncClient``s
(``harness.clients``). Everything else (store, lifecycle, handoff service,
namespaces, protocol) is the real code.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Optional

from sanic import Sanic

from bot.engine import BotReply
from bot.loader_pacing import ShopperFirst
from handoff.app import create_app
from crossdesk.compat import sanic_protocol
from handoff.settings import Settings
from harness.clients import AgentClient, Shopper
from harness.processes import free_port

PASSWORD = "in-process-password"
# Several apps start in one test process: Sanic's TouchUp rewrites its classes' methods at each
# start and, outside test mode, rewrites the rewritten ones (KeyError 'handle_exception' on the second).
Sanic.test_mode = True


class FakeBot:
    """The ``BotEngine`` interface with deterministic answers; it honours Rasa's pause like the real engine.

    ``ANSWERS`` maps a message (lower-cased) to ``(intent, response name, English text)``;
    anything else is ``nlu_fallback`` (twice in a row queues the conversation).
    """

    ANSWERS = {
        "hello": ("greet", "utter_greet", "Hello from the fake bot."),
        "how long does shipping take": ("shipping_time", "utter_shipping_time_generic", "About a week."),
        "i want a human": ("request_human", "utter_request_human", "I'll connect you with a person."),
        "my parcel is damaged": ("delivery_problem", "utter_delivery_problem", "Sorry to hear that."),
        "i forgot my password": ("out_of_scope", "utter_out_of_scope", "I can't help with that."),
        "my login doesn't work either": ("out_of_scope", "utter_out_of_scope", "I can't help with that."),
    }
    FALLBACK = ("nlu_fallback", "utter_default", "Sorry, I didn't get that.")

    def __init__(self):
        self.ready, self.error, self.load_seconds = True, None, 0.0
        self.paused: set[str] = set()
        self.handled: list[tuple[str, str]] = []  # (session id, text) the bot was asked about, in order
        self.pacing = ShopperFirst()  # the real engine's: what a swap's loading would wait for
        self.marked_answering: list[bool] = []  # per ``handle``: whether the caller marked the message

    def start(self) -> None:
        """Nothing to load."""

    def stop(self) -> None:
        """Nothing to stop."""

    async def wait_ready(self, timeout: Optional[float] = None) -> None:
        """Always ready."""

    def answering(self):
        """Mark a message as being worked on (``BotEngine.answering``)."""
        return self.pacing.answering()

    async def handle(self, text: str, sender_id: str, metadata: Optional[dict] = None) -> BotReply:
        """The table's answer; no messages while the conversation is paused (a person has it)."""
        self.handled.append((sender_id, text))
        self.marked_answering.append(self.pacing.busy)
        intent, action, answer = self.ANSWERS.get(text.strip().lower(), self.FALLBACK)
        paused = sender_id in self.paused
        messages = [] if paused else [{"text": answer, "utter_action": action, "language": "en"}]
        return BotReply(language="en", intent=intent, confidence=0.99, entities=[], messages=messages, paused=paused)

    async def parse(self, text: str, metadata: Optional[dict] = None) -> dict:
        """NLU only."""
        intent = self.ANSWERS.get(text.strip().lower(), self.FALLBACK)[0]
        return {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": []}

    async def run_on_tracker(self, sender_id: str, events: list) -> None:
        """``ConversationPaused`` / ``ConversationResumed``, as Rasa's tracker would apply them."""
        for event in events:
            if type(event).__name__ == "ConversationPaused":
                self.paused.add(sender_id)
            elif type(event).__name__ == "ConversationResumed":
                self.paused.discard(sender_id)

    def forget_tracker(self, sender_id: str) -> None:
        """No tracker cache."""

    async def erase_tracker(self, sender_id: str) -> None:
        """Forget the conversation."""
        self.paused.discard(sender_id)


@dataclass
class Served:
    """A running in-process server."""

    app: Sanic
    url: str
    bot: FakeBot

    def agent_token(self, username: str, languages: tuple[str, ...] = ("en",), role: str = "agent") -> str:
        """A login token for an agent account (created on first use: hashing a password takes a while)."""
        agents = self.app.ctx.agents
        agent, _ = agents.credentials(username)
        if agent is None:
            agent = agents.add(username, PASSWORD, list(languages), display_name=username.title(), role=role)
        return agents.issue_token(agent)

    async def agent(self, username: str, **account) -> tuple[AgentClient, dict]:
        """A connected agent console (``AgentClient``) and its ``agent:hello``."""
        client = AgentClient(self.url, self.agent_token(username, **account))
        for event in ("agent:assigned", "agent:agents", "agent:translation"):
            client.client.on(event, client._recorder(event), namespace="/agent")
        hello = await client.connect()
        return client, hello

    async def shopper(self, **connect) -> Shopper:
        """A connected shopper (extensions on) with a confirmed session."""
        shopper = Shopper(self.url)
        await shopper.connect(**connect)
        return shopper


@contextlib.asynccontextmanager
async def served(var_dir: Path, bot: Optional[FakeBot] = None, **settings) -> AsyncIterator[Served]:
    """Build the app with ``create_app`` around ``bot`` and serve it on a free port in this event loop.

    Args:
        var_dir: the server's data folder (``CROSSDESK_VAR_DIR``: its SQLite database).
        bot: the bot; a new ``FakeBot`` by default.
        settings: ``Settings`` fields to override (e.g. ``agent_grace_seconds=0.2``).
    """
    bot = bot or FakeBot()
    app = create_app(Settings.from_env({"CROSSDESK_VAR_DIR": str(var_dir)}, **settings), bot=bot)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     protocol=sanic_protocol(), access_log=False)
    # (Sanic 21.12: create_server already listens; these run the app's start listeners.)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Served(app, f"http://127.0.0.1:{port}", bot)
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


async def closed(*clients) -> None:
    """Disconnect clients (before the server stops: its websockets would otherwise wait for them)."""
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()


async def until(condition, timeout: float = 5.0, every: float = 0.02):
    """Wait until ``condition()`` is truthy; return its value (AssertionError after ``timeout``)."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(every)

"""Live agent sessions: which token each ``/agent`` socket connected with, and cutting it off when that token stops working.

A token stops working when its agent logs out, when it expires, or when the
account is deactivated (``python -m handoff agents deactivate``, another
process). Logout in this process cuts the token's sockets at once; expiry has
a timer per socket; everything else (a logout handled by another server
process, a deactivation) is found by a periodic sweep of the connected
sockets, one query for all of them, every ``CROSSDESK_AGENT_SESSION_SWEEP_SECONDS``.
Every agent event also checks its socket's token (``AgentStore.session``), so
nothing a dead session sends is acted upon even between sweeps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Optional

from handoff.store.agents import AgentSession, AgentStore

logger = logging.getLogger(__name__)

ACK_GRACE_SECONDS = 0.1
Cut = Callable[[str, str, bool], Awaitable[None]]  # (sid, reason, notify)


class SessionGuard:
    """Keeps sockets and their tokens together; ends a socket's session through ``cut``.

    Args:
        agents: the account store (token lookups).
        cut: coroutine that tells the socket why (when ``notify``) and disconnects it.
        sweep_seconds: how often every connected socket's token is checked.
    """

    def __init__(self, agents: AgentStore, cut: Cut, sweep_seconds: float):
        self.agents = agents
        self.cut = cut
        self.sweep_seconds = sweep_seconds
        self.tokens: dict[str, str] = {}  # sid -> token hash
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: Optional[asyncio.Task] = None

    def opened(self, sid: str, session: AgentSession) -> None:
        """A socket connected with this session; it ends by itself when the token expires."""
        self.tokens[sid] = session.token_hash
        loop = asyncio.get_running_loop()
        self._timers[sid] = loop.call_later(max(0.0, session.expires_at - time.time()),
                                            lambda: self._spawn(self.end(sid, "expired")))

    def closed(self, sid: str) -> None:
        """The socket is gone: forget it."""
        self.tokens.pop(sid, None)
        timer = self._timers.pop(sid, None)
        if timer is not None:
            timer.cancel()

    def current(self, sid: str) -> Optional[AgentSession]:
        """The socket's session if its token still works (one indexed lookup), else None."""
        digest = self.tokens.get(sid)
        return self.agents.session(digest) if digest else None

    async def end(self, sid: str, reason: str, notify: bool = True) -> None:
        """End one socket's session (once: a second call finds nothing to do)."""
        if sid not in self.tokens:
            return
        self.closed(sid)
        await self.cut(sid, reason, notify)

    def end_later(self, sid: str, notify: bool = True) -> None:
        """End a socket found dead while handling one of its events, after that event's ack went out."""
        digest = self.tokens.get(sid)
        if digest is not None:
            self._spawn(self._end_after_ack(sid, self.agents.why_ended(digest), notify))

    async def _end_after_ack(self, sid: str, reason: str, notify: bool) -> None:
        # python-socketio sends an event's ack after its handler returns; emitting
        # inside the handler yields to the loop, so this waits a moment instead
        # of racing the ack (a client would see a disconnect, not the refusal).
        await asyncio.sleep(ACK_GRACE_SECONDS)
        await self.end(sid, reason, notify)

    async def end_token(self, digest: str, reason: str) -> int:
        """End every socket that connected with this token; how many there were."""
        sids = [sid for sid, owner in self.tokens.items() if owner == digest]
        for sid in sids:
            await self.end(sid, reason)
        return len(sids)

    async def sweep(self) -> int:
        """Check every connected socket's token at once; end the dead ones. Returns how many ended."""
        if not self.tokens:
            return 0
        live = self.agents.live_token_hashes(self.tokens.values())
        dead = [(sid, digest) for sid, digest in self.tokens.items() if digest not in live]
        for sid, digest in dead:
            await self.end(sid, self.agents.why_ended(digest))
        return len(dead)

    def start(self) -> None:
        """Start the periodic sweep (on the server's loop)."""
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def stop(self) -> None:
        """Stop the sweep and the expiry timers."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        for timer in self._timers.values():
            timer.cancel()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep()
            except Exception:  # a failed sweep (database busy) must not end the next ones
                logger.exception("agent session sweep failed")

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def setup_sessions(app) -> None:
    """Run the agent namespace's session sweep while the server runs."""

    @app.listener("after_server_start")
    async def start_sweep(app, loop):
        app.ctx.agent.sessions.start()

    @app.listener("before_server_stop")
    async def stop_sweep(app, loop):
        await app.ctx.agent.sessions.stop()

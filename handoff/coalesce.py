"""Coalescing: many requests for the same push, at most one push per interval, the last one up to date."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional

logger = logging.getLogger(__name__)


class Coalescer:
    """Runs ``send`` at once when it has been quiet, else once at the end of the interval.

    A request after a quiet ``interval`` sends immediately (a new waiting
    conversation reaches the agents without delay). Requests within the interval
    share one trailing send, made when the interval ends; ``send`` reads the
    state then, so the last push always shows the latest state.

    Args:
        send: builds and emits the push (reads the current state itself).
        interval: seconds between two sends at most once.
    """

    def __init__(self, send: Callable[[], Awaitable[None]], interval: float):
        self.send = send
        self.interval = interval
        self._last: Optional[float] = None  # loop time the last send started
        self._trailing: Optional[asyncio.Task] = None
        self.sends = 0  # (for tests and benchmarks)

    async def request(self) -> None:
        """Ask for a push; returns once it went out, or once a trailing one is scheduled."""
        if self._trailing is not None:
            return  # the scheduled send will read the state this request wants shown
        now = asyncio.get_running_loop().time()
        wait = 0.0 if self._last is None else self._last + self.interval - now
        if wait > 0:
            self._trailing = asyncio.ensure_future(self._send_later(wait))
            return
        await self._send(now)

    async def _send(self, now: float) -> None:
        self._last = now
        self.sends += 1
        await self.send()

    async def _send_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._trailing = None  # requests from here on need a send after this one's state
        try:
            await self._send(asyncio.get_running_loop().time())
        except Exception:  # nobody awaits this task: log, the next request sends again
            logger.exception("coalesced send failed")

    def close(self) -> None:
        """Drop a scheduled send (at shutdown)."""
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None

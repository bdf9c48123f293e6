"""Flood limits on the shopper side: messages per socket and per client address, bot work per conversation.

One socket once sent 6,000 messages in 7 s; every one was stored and
answered over five minutes while other shoppers' p99 went from 0.1 s to
0.55 s. Now a refused message is neither stored nor answered: the client gets
``rate_limited`` (or ``busy``) with ``retry_after`` and sends it again later.

In memory, for one process (a scaled-out deployment would keep the per-address
buckets in Redis behind the same methods).
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Callable, Optional

from handoff.protocol import BUSY, RATE_LIMITED, RetryLater
from handoff.settings import Settings

BUSY_RETRY_SECONDS = 1.0  # a conversation's backlog drains at ~10-70 ms a message: a second frees it
PRUNE_EVERY = 1024  # new per-address buckets between two sweeps of the full ones
# After a refusal a socket's next event is read no sooner than this. Refusing
# is cheap but not free: a flooder sending 2,400 messages/s kept the server busy
# refusing and doubled other shoppers' p50 (bench.flood). Paused, its surplus
# waits in its own TCP buffers. A client that honours retry_after (>= 0.1 s) never notices.
REFUSED_PAUSE = 0.1
# A socket refused this often (the budget refills at one a second) ignores
# retry_after: it is disconnected, which also drops what it left in the buffers.
REFUSALS_BURST = 50
REFUSALS_RATE = 1.0


class RateLimiter:
    """Token buckets by key: ``rate`` tokens a second, at most ``burst`` saved up.

    Args:
        rate: tokens added per second; 0 means unlimited.
        burst: the bucket's size (what a key may spend at once).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, at]
        self._added = 0

    @property
    def unlimited(self) -> bool:
        """True when the limit is off."""
        return self.rate <= 0

    def _bucket(self, key: str, now: float) -> list[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [self.burst, now]
            self._added += 1
            if self._added % PRUNE_EVERY == 0:
                self._prune(now)
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now)."""
        if self.unlimited:
            return 0.0
        tokens = self._bucket(key, self.clock())[0]
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str) -> None:
        """Spend one token of ``key`` (call after ``wait`` returned 0)."""
        if not self.unlimited:
            self._bucket(key, self.clock())[0] -= 1

    def forget(self, key: str) -> None:
        """Drop a key's bucket (its socket is gone)."""
        self._buckets.pop(key, None)

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop it, so
        # addresses seen once don't accumulate.
        full = [key for key, (tokens, at) in self._buckets.items() if tokens + (now - at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def _rounded_up(seconds: float) -> float:
    return math.ceil(seconds * 10) / 10


class ShopperLimits:
    """The shopper namespace's limits: per socket, per client address, per conversation.

    Args:
        settings: the rates, bursts and bounds (``CROSSDESK_*``).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.per_socket = RateLimiter(settings.socket_message_rate, settings.socket_message_burst, clock)
        self.per_address = RateLimiter(settings.ip_message_rate, settings.ip_message_burst, clock)
        self.typing = RateLimiter(settings.socket_typing_rate, settings.socket_typing_burst, clock)
        self.refusals = RateLimiter(REFUSALS_RATE, REFUSALS_BURST, clock)
        self.max_pending = settings.max_pending_per_conversation
        self.trusted_proxies = settings.trusted_proxy_list
        self._address_of: dict[str, str] = {}  # socket -> client address
        self._pending: dict[str, int] = {}  # conversation -> messages stored and waiting for the bot
        self._paused_until: dict[str, float] = {}  # socket -> when its next event may be read
        self.clock = clock
        self.refusal_counts = {RATE_LIMITED: 0, BUSY: 0}  # (for logs and benchmarks)

    # -- sockets ---------------------------------------------------------------
    def connected(self, sid: str, environ: dict) -> None:
        """Remember where a socket comes from."""
        self._address_of[sid] = client_address(environ, self.trusted_proxies)

    def disconnected(self, sid: str) -> None:
        """Forget a socket (its address's bucket stays: reconnecting does not refill it)."""
        self._address_of.pop(sid, None)
        self._paused_until.pop(sid, None)
        self.per_socket.forget(sid)
        self.typing.forget(sid)
        self.refusals.forget(sid)

    def address(self, sid: str) -> str:
        """The client address of a socket (as far as we trust the proxies)."""
        return self._address_of.get(sid, "unknown")

    # -- events ----------------------------------------------------------------
    def refused(self, sid: str) -> bool:
        """A socket was refused: read its next event no sooner than REFUSED_PAUSE from now.

        Returns True when it has been refused too often (REFUSALS_BURST): disconnect it.
        """
        self._paused_until[sid] = self.clock() + REFUSED_PAUSE
        if self.refusals.wait(sid):
            return True
        self.refusals.take(sid)
        return False

    def delay(self, sid: str) -> float:
        """Seconds to wait before handling the socket's next event (0 unless it was just refused)."""
        until = self._paused_until.get(sid)
        if until is None:
            return 0.0
        wait = until - self.clock()
        if wait <= 0:
            del self._paused_until[sid]
            return 0.0
        return wait

    def admit_message(self, sid: str) -> None:
        """Count one message of ``sid``; RetryLater(``rate_limited``) when over a limit."""
        address = self.address(sid)
        socket_wait = self.per_socket.wait(sid)
        address_wait = self.per_address.wait(address) if not socket_wait else 0.0
        if socket_wait or address_wait:
            self.refusal_counts[RATE_LIMITED] += 1
            wait = _rounded_up(max(socket_wait, address_wait))
            whose = "this connection" if socket_wait else "your network"
            raise RetryLater(RATE_LIMITED, f"too many messages from {whose}; send it again in {wait:g} s", wait)
        self.per_socket.take(sid)
        self.per_address.take(address)

    def admit_session(self, sid: str) -> None:
        """Count one ``session_request`` against the socket's message limit (each one reads a transcript).

        Not per address: every socket of a NAT sends one when it connects.
        """
        wait = self.per_socket.wait(sid)
        if wait:
            self.refusal_counts[RATE_LIMITED] += 1
            wait = _rounded_up(wait)
            raise RetryLater(RATE_LIMITED, f"too many session requests; send it again in {wait:g} s", wait)
        self.per_socket.take(sid)

    def admit_typing(self, sid: str) -> Optional[float]:
        """Count one typing event; returns the seconds to wait when over the limit (the event is dropped)."""
        wait = self.typing.wait(sid)
        if wait:
            return _rounded_up(wait)
        self.typing.take(sid)
        return None

    # -- bot work --------------------------------------------------------------
    def reserve(self, conversation_id: str) -> None:
        """Hold a place in the conversation's bot queue; RetryLater(``busy``) when it is full."""
        pending = self._pending.get(conversation_id, 0)
        if self.max_pending > 0 and pending >= self.max_pending:
            self.refusal_counts[BUSY] += 1
            raise RetryLater(BUSY, f"{pending} messages of this conversation are still waiting for an answer; "
                                   f"send it again in {BUSY_RETRY_SECONDS:g} s", BUSY_RETRY_SECONDS)
        self._pending[conversation_id] = pending + 1

    def release(self, conversation_id: str) -> None:
        """Give the place back (the bot answered, or the message never went to the bot)."""
        pending = self._pending.get(conversation_id, 0) - 1
        if pending > 0:
            self._pending[conversation_id] = pending
        else:
            self._pending.pop(conversation_id, None)

    def pending(self, conversation_id: str) -> int:
        """Messages of a conversation waiting for the bot."""
        return self._pending.get(conversation_id, 0)


def client_address(environ: dict, trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The client's IP address for a Socket.IO connection.

    python-engineio's Sanic driver sets ``REMOTE_ADDR`` to 127.0.0.1 for
    everyone, so the peer comes from the Sanic request. ``X-Forwarded-For`` is
    believed only when the peer is a trusted proxy: then the client is the
    rightmost address in it that is not itself a trusted proxy (what a client
    writes further left is not checked by anyone).
    """
    request = environ.get("sanic.request")
    peer = getattr(request, "ip", None) or environ.get("REMOTE_ADDR") or "unknown"
    if peer not in trusted_proxies:
        return peer
    hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

"""The collaborators that change when several server processes share Redis.

``create_app`` asks here once; the rest of the code gets objects, never a flag:

- emits between processes: python-socketio's ``AsyncRedisManager`` (in memory when alone), both
  with ``emit_each`` (``handoff.delivery``: one message to several rooms is one publish);
- agent presence: ``handoff.presence`` (Redis-backed or in memory);
- Rasa's conversation locks: ``bot.turn_locks.RedisTurnLocks`` (None: Rasa's in-memory one);
- caches that other processes must agree with: the conversation row is not
  cached (its state changes when an agent on another process claims it); the
  Rasa tracker is, because taking a conversation's turn lock says whether
  another process (or an agent's claim there) changed it since this process
  last held it, and drops the stale copy before the turn reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from handoff.presence import MemoryPresence, presence_from_url
from handoff.settings import Settings

SOCKETIO_CHANNEL = "crossdesk:socketio"
LOCK_PREFIX = "crossdesk"


@dataclass(frozen=True)
class Sharing:
    """How much a process may keep to itself.

    Attributes:
        shared: several processes (Redis set).
        conversation_cache: conversation rows cached per process.
        tracker_cache: Rasa trackers cached per process.
        recovery_settle: seconds a starting process waits before answering what was left
            unanswered (with others running, a message stored just before it started may be
            in another process's hands, not left over by a crash).
    """

    shared: bool
    conversation_cache: int
    tracker_cache: int
    recovery_settle: float


def sharing(settings: Settings) -> Sharing:
    """Per-process caches on when alone, off when other processes may change the same conversations."""
    if settings.redis_url:
        # Trackers: valid while this process was the last to hold the conversation's turn lock
        # (bot.turn_locks). Rebuilding them from PostgreSQL (twice a turn) and Rasa's ticket lock
        # cost 52-60 ms of server CPU per reply against 35-39 ms with the cache (paired, load ~10).
        return Sharing(True, 0, 5000, recovery_settle=10.0)
    return Sharing(False, 10_000, 5000, recovery_settle=0.0)


def client_manager(settings: Settings) -> Any:
    """python-socketio's Redis manager (emits reach sockets of every process), or its in-memory one."""
    from handoff.emits import LocalEmits, RedisEmits

    if not settings.redis_url:
        return LocalEmits()
    return RedisEmits(settings.redis_url, channel=SOCKETIO_CHANNEL,
                      redis_options={"socket_connect_timeout": 2, "health_check_interval": 5})


def presence(settings: Settings) -> MemoryPresence:
    """Agent presence for these settings."""
    return presence_from_url(settings.redis_url)


def lock_store(redis_url: str) -> Optional[Any]:
    """One turn of a conversation at a time, in any process (``bot.turn_locks``), or None (Rasa's in-memory locks).

    Args:
        redis_url: the shared Redis ('' when alone).
    """
    if not redis_url:
        return None
    from bot.turn_locks import turn_locks_from_url

    return turn_locks_from_url(redis_url, key_prefix=LOCK_PREFIX)


def setup_presence(app) -> None:
    """Start the presence heartbeat with the server; remove this process's agents when it stops."""

    @app.listener("before_server_start")
    async def start_presence(app, loop):
        await app.ctx.presence.start()

    @app.listener("after_server_stop")
    async def stop_presence(app, loop):
        await app.ctx.presence.stop()

"""Agent presence: who is online, on which sockets, and whether they are away.

Two implementations of one small interface, chosen by ``create_app``:

- :class:`MemoryPresence` (one process, the embedded default): dicts in memory.
- :class:`RedisPresence` (``CROSSDESK_REDIS_URL`` set, several processes): each
  process writes its own sockets to a Redis hash that expires unless the
  process renews it (a heartbeat), so the agents of a killed process disappear
  within ``PRESENCE_TTL`` seconds; statuses live in one shared hash.

Reads are synchronous (the namespaces and the lifecycle ask them on hot paths):
the Redis implementation answers from a snapshot of every process's sockets
that its heartbeat refreshes, and applies its own changes to it at once. An
agent connecting to another process is therefore seen here within
``HEARTBEAT_SECONDS``. Load (conversations held) is not kept here: the store
counts it (``Lifecycle.load``), so every process agrees on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
import json
from typing import Awaitable, Callable, Optional

logger = logging.getLogger(__name__)
AWAY = "away"
ONLINE = "online"
HEARTBEAT_SECONDS = 1.0  # how stale another process's agents may look here
PRESENCE_TTL = 10  # a process not heard from for this long has its agents dropped (s)
KEY_PREFIX = "crossdesk:presence"


class MemoryPresence:
    """Presence of the agents connected to this process."""

    def __init__(self):
        self._sockets: dict[str, int] = {}  # sid -> agent id (this process)
        self._status: dict[int, str] = {}  # agent id -> "online" | "away"
        self._listeners: list[Callable[[], object]] = []

    def subscribe(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` (no arguments, may be a coroutine function) when agents come or go elsewhere.

        Only a shared presence sees other processes; in memory nothing happens
        that the agent namespace does not already know.
        """
        self._listeners.append(listener)

    async def _changed(self) -> None:
        for listener in self._listeners:
            result = listener()
            if asyncio.iscoroutine(result):
                await result

    # -- sockets of this process ------------------------------------------------
    def connected(self, sid: str, agent_id: int) -> None:
        """A console socket of ``agent_id`` connected here."""
        self._sockets[sid] = agent_id

    def disconnected(self, sid: str) -> Optional[int]:
        """Forget a socket; returns its agent id (None if it was not an agent's)."""
        agent_id = self._sockets.pop(sid, None)
        if agent_id is not None and not self.is_online(agent_id):
            self._status.pop(agent_id, None)
        return agent_id

    def agent_of(self, sid: str) -> Optional[int]:
        """The agent of one socket of this process."""
        return self._sockets.get(sid)

    def local_sids(self, agent_id: int) -> list[str]:
        """The sockets (console tabs) of one agent connected to this process."""
        return [sid for sid, owner in self._sockets.items() if owner == agent_id]

    def local_count(self) -> int:
        """How many agent sockets are connected to this process."""
        return len(self._sockets)

    def local_agent_count(self) -> int:
        """How many agents have a console connected to this process (the metric adds processes up)."""
        return len(set(self._sockets.values()))

    # -- every process ------------------------------------------------------------
    def online_agents(self) -> set[int]:
        """Agents with at least one console connected (anywhere)."""
        return set(self._sockets.values())

    def is_online(self, agent_id: int) -> bool:
        """Whether the agent has a console connected (anywhere)."""
        return agent_id in self.online_agents()

    async def confirm_online(self, agent_id: int) -> bool:
        """Whether the agent is online, asking the shared state if the snapshot says no (an agent just connected)."""
        return self.is_online(agent_id)

    def status(self, agent_id: int) -> str:
        """``online`` or ``away``."""
        return self._status.get(agent_id, ONLINE)

    def set_status(self, agent_id: int, status: str) -> None:
        """Set an agent's status (seen by every process)."""
        self._status[agent_id] = status

    def available_count(self) -> int:
        """Agents online and not away: those a queued shopper can expect."""
        return sum(1 for agent_id in self.online_agents() if self.status(agent_id) != AWAY)

    # -- rooms ------------------------------------------------------------------------
    def follow_rooms(self, join_here: Callable[[int, str, bool], Awaitable[None]]) -> None:
        """Call ``join_here(agent_id, room, join)`` when another process moves an agent in or out of a room."""
        self._join_here = join_here

    async def share_rooms(self, agent_id: int, room: str, join: bool) -> None:
        """Tell the other processes to move their sockets of ``agent_id`` (none in memory)."""

    # -- life -----------------------------------------------------------------------
    async def start(self) -> None:
        """Begin (nothing to do in memory)."""

    async def stop(self) -> None:
        """End (nothing to do in memory)."""


class RedisPresence(MemoryPresence):
    """Presence shared by every process through Redis.

    Keys: ``crossdesk:presence:proc:<id>`` (hash sid -> agent id, one per
    process, expiring after ``ttl`` s unless renewed) and
    ``crossdesk:presence:status`` (hash agent id -> status).

    Args:
        url: Redis URL.
        heartbeat: seconds between renewals and snapshot refreshes.
        ttl: seconds after which a silent process's sockets expire.
    """

    def __init__(self, url: str, heartbeat: float = HEARTBEAT_SECONDS, ttl: int = PRESENCE_TTL,
                 client=None):
        super().__init__()
        from redis import asyncio as aioredis

        self.redis = client or aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        # The room-change subscription waits for messages indefinitely: no read timeout there.
        self.listener = aioredis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=15)
        self.process_key = f"{KEY_PREFIX}:proc:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.status_key = f"{KEY_PREFIX}:status"
        self.heartbeat = heartbeat
        self.ttl = ttl
        self._elsewhere: dict[int, int] = {}  # agent id -> sockets in other processes (snapshot)
        self._remote_status: dict[int, str] = {}
        self._task: Optional[asyncio.Task] = None
        self._rooms_task: Optional[asyncio.Task] = None
        self._pending: set[asyncio.Task] = set()
        self.rooms_channel = f"{KEY_PREFIX}:rooms"

    def _write(self, coroutine) -> None:
        """Send a change to Redis in the background (the next heartbeat repairs a lost one)."""
        task = asyncio.ensure_future(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("presence: Redis write failed (%s); the next heartbeat retries", task.exception())

    def connected(self, sid: str, agent_id: int) -> None:
        super().connected(sid, agent_id)
        self._write(self._renew())

    def disconnected(self, sid: str) -> Optional[int]:
        agent_id = self._sockets.pop(sid, None)
        if agent_id is not None:
            self._write(self.redis.hdel(self.process_key, sid))
            if not self.is_online(agent_id):
                self._status.pop(agent_id, None)
                self._remote_status.pop(agent_id, None)
                self._write(self.redis.hdel(self.status_key, str(agent_id)))
        return agent_id

    def online_agents(self) -> set[int]:
        return set(self._sockets.values()) | set(self._elsewhere)

    def status(self, agent_id: int) -> str:
        return self._remote_status.get(agent_id) or self._status.get(agent_id, ONLINE)

    def set_status(self, agent_id: int, status: str) -> None:
        self._status[agent_id] = status
        self._remote_status[agent_id] = status
        self._write(self.redis.hset(self.status_key, str(agent_id), status))

    async def confirm_online(self, agent_id: int) -> bool:
        if self.is_online(agent_id):
            return True
        try:
            await self.refresh()
        except Exception as error:  # (Redis down: the snapshot is all there is)
            logger.warning("presence: could not refresh (%s)", error)
        return self.is_online(agent_id)

    async def _renew(self) -> None:
        """Write this process's sockets and push back their expiry."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.process_key)
            if self._sockets:
                pipe.hset(self.process_key, mapping={sid: str(a) for sid, a in self._sockets.items()})
                pipe.expire(self.process_key, self.ttl)
            await pipe.execute()

    async def refresh(self) -> None:
        """Renew this process's entry and read every other process's (one heartbeat)."""
        await self._renew()
        elsewhere: dict[int, int] = {}
        async for key in self.redis.scan_iter(match=f"{KEY_PREFIX}:proc:*", count=500):
            if key.decode() == self.process_key:
                continue
            for value in (await self.redis.hgetall(key)).values():
                elsewhere[int(value)] = elsewhere.get(int(value), 0) + 1
        statuses = {int(k): v.decode() for k, v in (await self.redis.hgetall(self.status_key)).items()}
        changed = set(elsewhere) != set(self._elsewhere)
        self._elsewhere, self._remote_status = elsewhere, statuses
        if changed:
            await self._changed()

    async def _beat(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                if failing:
                    logger.info("presence: Redis reachable again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis down or restarting: keep the last snapshot, try again
                if not failing:
                    logger.warning("presence: Redis unreachable (%s); retrying every %g s", error, self.heartbeat)
                failing = True
            await asyncio.sleep(self.heartbeat)

    async def share_rooms(self, agent_id: int, room: str, join: bool) -> None:
        """Publish a room change for the agent's sockets in other processes (a transfer, another tab)."""
        message = json.dumps({"agent": agent_id, "room": room, "join": join, "from": self.process_key})
        try:
            await self.redis.publish(self.rooms_channel, message)
        except Exception as error:  # (Redis down: the agent's console gets the room when it reconnects)
            logger.warning("presence: could not share a room change (%s)", error)

    async def _follow(self) -> None:
        """Apply other processes' room changes to this process's sockets; resubscribe after a Redis failure."""
        while True:
            pubsub = self.listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.rooms_channel)
                async for message in pubsub.listen():
                    data = json.loads(message["data"])
                    join_here = getattr(self, "_join_here", None)
                    if data.get("from") != self.process_key and join_here is not None:
                        await join_here(int(data["agent"]), str(data["room"]), bool(data["join"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("presence: room changes not received (%s); resubscribing in 1 s", error)
                await asyncio.sleep(1)
            finally:
                try:
                    await pubsub.close()
                except Exception:
                    pass

    async def start(self) -> None:
        """Start the heartbeat (first refresh at once) and the room-change listener."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._beat())
            self._rooms_task = asyncio.ensure_future(self._follow())

    async def stop(self) -> None:
        """Stop the heartbeat and remove this process's entry (its agents go offline at once).

        Each step gets ``STOP_SECONDS``: a CI run once hung for good in a stop (a cancelled Redis
        subscription that never finished), so a step that does not end in time is left behind
        (``asyncio.wait`` does not wait for a cancellation that is ignored; ``wait_for`` would).
        """
        for task in (self._task, self._rooms_task):
            if task is not None:
                await _cancelled(task, "a background task")
        self._task = self._rooms_task = None
        for step in (self.redis.delete(self.process_key), self.redis.close(), self.listener.close()):
            await _within(asyncio.ensure_future(step), "closing Redis")


STOP_SECONDS = 3.0
"""How long each step of ``RedisPresence.stop`` may take."""


RECANCEL_SECONDS = 0.1
"""How long ``_cancelled`` waits for a cancelled task before cancelling it again."""


async def _cancelled(task: asyncio.Future, what: str) -> None:
    """Cancel ``task`` and wait for its end up to ``STOP_SECONDS``, cancelling it again while it runs on.

    One cancellation is not enough with redis-py 4.6: every command first checks
    its pooled connection with ``async_timeout(0)`` (``can_read_destructive``),
    and a cancellation that arrives in the loop turn where that zero timeout
    fires becomes a ``TimeoutError`` that redis-py reads as "no data waiting"
    (async-timeout's issue #229): the command goes on and so does the task (the
    heartbeat beats on; the room listener subscribes and listens for
    ever). 11 of 70 cancellations of a task sending commands in a loop were lost
    this way. Cancelling again lands outside that one loop turn.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_SECONDS
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=min(RECANCEL_SECONDS, max(0.0, deadline - loop.time())))
    if not task.done():
        logger.warning("presence: %s did not end within %g s at stop; left behind", what, STOP_SECONDS)
    elif not task.cancelled() and task.exception() is not None:
        logger.debug("presence: %s failed at stop (%s)", what, task.exception())


async def _within(task: asyncio.Future, what: str) -> None:
    """Wait for ``task`` up to ``STOP_SECONDS``; its failure (Redis gone: the entry expires) is only logged."""
    done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
    if not done:
        logger.warning("presence: %s did not end within %g s at stop; left behind", what, STOP_SECONDS)
    elif not task.cancelled() and task.exception() is not None:
        logger.debug("presence: %s failed at stop (%s)", what, task.exception())


def presence_from_url(redis_url: str) -> MemoryPresence:
    """Redis-backed presence when ``redis_url`` is set, else in memory."""
    return RedisPresence(redis_url) if redis_url else MemoryPresence()

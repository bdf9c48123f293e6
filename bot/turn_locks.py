"""One bot turn of a conversation at a time across processes, and whether a cached tracker is still true.

Rasa's ``RedisLockStore`` costs seven synchronous Redis round trips per turn (a
ticket list read, changed and written back as JSON when the lock is taken, read
again to check it, twice more and a delete to give it back) and is not atomic:
two processes taking a ticket at once can both write the list, one ticket is
lost and both run. :class:`RedisTurnLocks` is a Rasa ``LockStore`` that takes a
conversation's lock with one atomic script (``SET NX`` with an expiry) and gives
it back with another: two round trips.

Taking the lock also tells this process whether its cached tracker of the
conversation is still the stored one. Every holder leaves its own token in the
conversation's version key; a process that finds there the token it left itself
was the last to touch the conversation (under the lock, so nobody changed the
tracker since) and may keep its cache. Any other token (another process answered,
an agent's claim paused the bot elsewhere, a Redis restart lost the key) drops the
cached tracker before the turn reads it, so Rasa rebuilds it from SQL. The token
is written when the lock is taken, before anything is saved: a process that dies
half way through a turn has already marked every other copy stale.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import AsyncGenerator, Callable, Optional

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

logger = logging.getLogger(__name__)

# KEYS: lock, version; ARGV: token, lock lifetime (ms), version lifetime (s).
# Returns {1, previous version} when taken ('' when unknown), {0, ''} when someone else holds it.
_TAKE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local previous = redis.call('GET', KEYS[2])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
  return {1, previous or ''}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return {1, ''}
end
return {0, ''}
"""
# (The second branch: a retried call whose first attempt took the lock; the version it replaced
# is lost, so the cache is treated as stale.)
_GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

VERSION_LIFETIME = 86_400
"""Seconds a conversation's version key outlives its last turn (a missing key only costs a reload)."""

REMEMBERED = 20_000
"""Conversations whose last token this process remembers (beyond that: one reload each)."""


class RedisTurnLocks(LockStore):
    """Rasa ``LockStore`` on Redis: an atomic lock per conversation plus the tracker's version token.

    Args:
        client: a synchronous ``redis.Redis`` (the bot thread runs Rasa synchronously anyway;
            a round trip on loopback is ~0.1 ms).
        key_prefix: Redis key prefix (``<prefix>:turn:<id>``, ``<prefix>:tracker-version:<id>``).
        lock_lifetime: seconds after which a lock left by a dead process frees itself.
    """

    def __init__(self, client, key_prefix: str = "crossdesk", lock_lifetime: float = LOCK_LIFETIME):
        super().__init__()
        self.client = client
        self._stale_listeners: list[Callable[[str], None]] = []
        self.key_prefix = key_prefix
        self.lock_lifetime = lock_lifetime
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)
        self._host = uuid.uuid4().hex[:12]
        self._count = 0
        self._mine: "OrderedDict[str, str]" = OrderedDict()  # conversation -> the token this process left

    def subscribe_stale(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(conversation_id)``, on the bot loop, when another process (or a lost key) may
        have changed that conversation's tracker since this process last held its lock: drop the cached
        tracker (``BotEngine`` subscribes its ``forget_tracker``)."""
        self._stale_listeners.append(listener)

    def _keys(self, conversation_id: str) -> list[str]:
        return [f"{self.key_prefix}:turn:{conversation_id}", f"{self.key_prefix}:tracker-version:{conversation_id}"]

    def _token(self) -> str:
        self._count += 1
        return f"{self._host}:{self._count}"

    def _remember(self, conversation_id: str, token: str) -> None:
        self._mine[conversation_id] = token
        self._mine.move_to_end(conversation_id)
        while len(self._mine) > REMEMBERED:
            self._mine.popitem(last=False)

    async def _acquire(self, conversation_id: str, token: str) -> None:
        keys = self._keys(conversation_id)
        args = [token, int(self.lock_lifetime * 1000), VERSION_LIFETIME]
        pause, deadline = 0.005, asyncio.get_running_loop().time() + 2 * self.lock_lifetime
        while True:
            taken, previous = self._take(keys=keys, args=args)
            if taken:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(pause)  # another turn of it, in this process or another: usually ~10 ms
            pause = min(pause * 2, 0.05)
        previous = previous.decode() if isinstance(previous, bytes) else previous
        if not previous or self._mine.get(conversation_id) != previous:
            for listener in self._stale_listeners:
                listener(conversation_id)
            # A listener may queue its work on this loop (``BotEngine.forget_tracker`` does):
            # yielding once runs it before the turn reads the tracker (callbacks run in order).
            await asyncio.sleep(0)
        self._remember(conversation_id, token)

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        """Hold ``conversation_id``'s lock for the block (Rasa's signature; the lifetime is the store's)."""
        token = self._token()
        await self._acquire(conversation_id, token)
        try:
            yield TicketLock(conversation_id)
        finally:
            try:
                self._give_back(keys=self._keys(conversation_id)[:1], args=[token])
            except Exception:  # Redis gone: the lock frees itself after its lifetime
                logger.warning("could not release the turn lock of %s", conversation_id, exc_info=True)

    # Rasa's ticket-lock interface, unused by this store (its ``lock`` replaces the tickets).
    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        """Not used: there are no tickets."""
        return None

    def delete_lock(self, conversation_id: str) -> None:
        """Not used: there are no tickets."""

    def save_lock(self, lock: TicketLock) -> None:
        """Not used: there are no tickets."""


def turn_locks_from_url(redis_url: str, key_prefix: str = "crossdesk") -> RedisTurnLocks:
    """:class:`RedisTurnLocks` on ``redis_url`` (a connection that failed is retried once, e.g. after a restart)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10,
                                  retry=Retry(NoBackoff(), 1), retry_on_error=[redis.ConnectionError])
    return RedisTurnLocks(client, key_prefix=key_prefix)

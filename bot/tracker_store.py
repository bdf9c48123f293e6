"""Rasa's SQL tracker store with a write-through cache of live conversations.

Rasa reloads a conversation's whole tracker from SQL for every message
(query + JSON + replaying every event), which grows with the conversation.
A server process that owns its conversations (the embedded default, or a
scaled-out process behind a sticky load balancer) can keep the trackers it
just saved. Every save still goes to SQL first, so a restart loses nothing.

Saving appends only the events SQL does not hold yet (one row per new event,
never a rewrite), and the cached tracker keeps only the current Rasa session:
what Rasa itself reloads after a restart, so the bot sees the same history
either way, and a long conversation (sessions are rolled by ``bot.engine``)
costs no more per reply than a short one.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Iterator, Optional

from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from crossdesk import compat
from crossdesk.statement_connections import StatementConnections, fetch_one


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class CachingSQLTrackerStore(compat.KnownNewEvents, compat.BulkEventRows, SQLTrackerStore):
    """SQLTrackerStore + LRU of trackers (``cache_size`` 0 disables the cache).

    The cached tracker object is handed to Rasa's processor, which updates it
    in place and saves it; :meth:`forget` drops it if processing failed half
    way, so the next message reloads the stored truth.
    """

    def __init__(self, *args: Any, cache_size: int = 5000, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._cache: "OrderedDict[str, DialogueStateTracker]" = OrderedDict()
        self._saved: dict[str, int] = {}  # sender -> events of the cached tracker already in SQL
        self._cache_size = cache_size
        if self.engine.dialect.name == "sqlite":
            # Rasa's engine opens a new SQLite connection per query (NullPool):
            # reuse one per thread, in WAL mode.
            self.engine.dispose()
            self.engine = create_engine(self.engine.url, poolclass=SingletonThreadPool)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sessionmaker(bind=self.engine)
        else:
            # A pooled connection PostgreSQL closed (a restart) failed the next turn, and Rasa's
            # FailSafeTrackerStore then answered from an empty in-memory tracker: check on checkout.
            self.engine.dispose()
            self.engine = create_engine(self.engine.url, pool_pre_ping=True, **create_engine_kwargs(self.engine.url))
            self.sessionmaker = sessionmaker(bind=self.engine)
            if self.engine.dialect.driver == "psycopg2":  # (new events: one INSERT, no ping, BEGIN or COMMIT)
                self.statements = StatementConnections(self.engine)

    def _remember(self, tracker: DialogueStateTracker) -> None:
        if self._cache_size <= 0:
            return
        self._cache[tracker.sender_id] = tracker
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > self._cache_size:
            evicted, _ = self._cache.popitem(last=False)
            self._saved.pop(evicted, None)

    def forget(self, sender_id: str) -> None:
        """Drop a cached tracker (after a failed turn)."""
        self._cache.pop(sender_id, None)
        self._saved.pop(sender_id, None)

    def erase(self, sender_id: str) -> None:
        """Delete a conversation's tracker: the cached one and every stored event (a shopper's erasure)."""
        self.forget(sender_id)
        with self.session_scope() as session:
            session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()

    def known_new_events(self, tracker: DialogueStateTracker) -> Optional[Iterator]:
        """New events of a cached tracker without counting rows in SQL (None: not cached)."""
        saved = self._saved.get(tracker.sender_id)
        if saved is not None and self._cache.get(tracker.sender_id) is tracker and saved <= len(tracker.events):
            return itertools.islice(tracker.events, saved, len(tracker.events))
        return None

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The cached tracker, else the one rebuilt from SQL."""
        cached = self._cache.get(sender_id)
        if cached is not None:
            self._cache.move_to_end(sender_id)
            return cached
        tracker = await super().retrieve(sender_id) if self._may_hold(sender_id) else None
        if tracker is not None:
            self._remember(tracker)
            self._saved[sender_id] = len(tracker.events)
        return tracker

    def _may_hold(self, sender_id: str) -> bool:
        """False when SQL holds no event of the conversation, found with one indexed lookup.

        A new conversation's first turn asks twice (``bot.engine``'s session check, then Rasa's
        ``get_or_create_tracker``), and Rasa's ORM query with its latest-session subquery found nothing
        in ~0.9 ms each: ~20 % of a first reply's CPU samples (py-spy --gil, 50 new shoppers at a time).
        On SQLite the thread's connection; on PostgreSQL the thread's autocommit one, the lookup prepared
        (``statements``: one round trip, where a pooled connection took four: its ping, BEGIN, the SELECT
        and the pool's ROLLBACK).
        """
        placeholder = "?" if self.engine.dialect.name == "sqlite" else "%s"
        lookup = f"SELECT 1 FROM {self.SQLEvent.__table__.name} WHERE sender_id = {placeholder} LIMIT 1"
        if self.statements is not None:
            return self.statements.run(lookup, (sender_id,), fetch_one) is not None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(lookup, (sender_id,))
                return cursor.fetchone() is not None
            finally:
                cursor.close()
        finally:
            raw.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write new events to SQL, then remember the tracker.

        A tracker without events has nothing to write (Rasa's ``create_tracker`` saves a new
        conversation's empty tracker before its first turn): no session, count query and empty commit
        (~8 % of a first reply's CPU samples).
        """
        try:
            if tracker.events:
                await super().save(tracker)
        except Exception:
            self.forget(tracker.sender_id)
            raise
        tracker = self.current_session(tracker)
        self._remember(tracker)
        self._saved[tracker.sender_id] = len(tracker.events)

    def current_session(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """``tracker`` reduced to its latest Rasa session (itself when it holds only one).

        The same events Rasa's ``SQLTrackerStore.retrieve`` loads (from the latest
        ``SessionStarted`` on), so a cached tracker and one reloaded after a restart agree.
        """
        events = tracker.events
        for back, happened in enumerate(reversed(events)):
            if isinstance(happened, SessionStarted):
                start = len(events) - 1 - back
                break
        else:
            return tracker
        if start <= 1:  # the first session: nothing before it but its action_session_start
            return tracker
        return DialogueStateTracker.from_events(
            tracker.sender_id, list(itertools.islice(events, start, None)), slots=self.domain.slots,
            max_event_history=self.max_event_history, domain=self.domain,
        )

"""Closing a store's connections only when no other thread is inside one.

Python's sqlite3 module crashes the whole process (a segmentation fault, not an
exception) when a connection is closed on one thread while another thread is in
the middle of a statement on it. A stopping server closes its store on the event
loop's thread while executor threads (mail, escalation, retention, logins) may
still be finishing a query that the cancelled task had started, so ``close``
must wait for them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator

logger = logging.getLogger(__name__)


class InUse:
    """The connections threads are using, and a close that runs once none is.

    Pool connections are tracked by their pool record (a checkout that another listener refuses and
    SQLAlchemy retries is still one); other uses (a thread's own sqlite3 connection) are counted.

    Args:
        wait_seconds: how long ``close_when_idle`` waits for threads to finish before giving up.
    """

    def __init__(self, wait_seconds: float = 10.0):
        self.wait_seconds = wait_seconds
        self._idle = threading.Condition()
        self._records: set[int] = set()
        self._count = 0

    def checkout(self, _dbapi_connection, record, _proxy) -> None:
        """SQLAlchemy ``checkout`` listener: a thread takes a pooled connection."""
        with self._idle:
            self._records.add(id(record))

    def checkin(self, _dbapi_connection, record) -> None:
        """SQLAlchemy ``checkin`` listener: it is back in the pool."""
        with self._idle:
            self._records.discard(id(record))
            self._idle.notify_all()

    @contextlib.contextmanager
    def using(self) -> Iterator[None]:
        """Mark a block that uses a connection outside the pool."""
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def _in_use(self) -> int:
        return len(self._records) + self._count

    def close_when_idle(self, close: Callable[[], None]) -> bool:
        """Run ``close`` once no connection is in use; False (and nothing closed) after ``wait_seconds``.

        New uses wait while ``close`` runs. Leaving connections open is the lesser harm: they are
        released with their threads, whereas closing one under a running statement kills the process.
        """
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_use() == 0, timeout=self.wait_seconds):
                logger.warning("store: %d connections still in use after %g s; left open", self._in_use(),
                               self.wait_seconds)
                return False
            close()
            return True

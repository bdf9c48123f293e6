"""Loading a model beside the live one without slowing shoppers' replies.

A swap loads the new model in a worker thread: ~0.9 s of CPU, mostly Python (the classifier's
arrays read from a zip in 256 KiB slices, the vocabulary parsed 10,000 terms at a time). Python
runs one thread at a time, and with the loader runnable the GIL alternated between it and the
threads answering a shopper, so a reply computed meanwhile took two to three times as long
(reply p50 during swaps 30-54 ms, idle 14-16 ms).

:class:`ShopperFirst` makes the loader step aside instead. A profile hook in the loader's thread
(called at every function call and return there, ~75,000 times a load, well under a
microsecond each when nobody waits) blocks, without the GIL, while a message is being answered:
from the socket handler storing it to the reply's delivery (``BotEngine.answering``), since the
loader would otherwise take the GIL at each of the handler's I/O waits and hold it for the switch
interval.
Under sustained traffic the loader still runs ``min_run`` s after every ``max_wait`` s of
waiting, so a swap always ends.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

MAX_WAIT = 0.05  # s a loader waits for the shoppers' work before it runs anyway
MIN_RUN = 0.005  # s it then runs (competing for the GIL) before it waits again


class ShopperFirst:
    """Counts messages being answered; runs background loads only in the gaps between them."""

    def __init__(self, max_wait: float = MAX_WAIT, min_run: float = MIN_RUN):
        self.max_wait = max_wait
        self.min_run = min_run
        self.waited = 0.0  # s the last load spent waiting for replies
        self._answering = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._run_until = 0.0

    @property
    def busy(self) -> bool:
        """Whether a message is being answered now."""
        return not self._idle.is_set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Mark a message as being answered (from any thread) for the duration of the block."""
        with self._lock:
            self._answering += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._answering -= 1
                if not self._answering:
                    self._idle.set()

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the calling thread, pausing while messages are being answered."""
        self.waited = 0.0
        self._run_until = 0.0
        sys.setprofile(self._pace)
        try:
            return function(*args)
        finally:
            sys.setprofile(None)

    def _pace(self, frame: Any, event: str, arg: Any) -> None:
        if self._idle.is_set() or time.perf_counter() < self._run_until:
            return
        started = time.perf_counter()
        idle = self._idle.wait(self.max_wait)
        now = time.perf_counter()
        self.waited += now - started
        if not idle:  # still busy after max_wait: make some progress before waiting again
            self._run_until = now + self.min_run

"""A small circuit breaker: stop calling a provider that keeps failing, try again later."""

from __future__ import annotations

import time
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Closed -> open after ``failures`` failures in a row -> half-open after ``cooldown``.

    Half-open lets one trial call through: its success closes the breaker, its failure
    opens it for another cooldown. Not thread-safe: use it from the event loop.

    Args:
        failures: consecutive failures that open the breaker.
        cooldown: seconds the breaker stays open before a trial call.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, failures: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.failures = failures
        self.cooldown = cooldown
        self.clock = clock
        self._state = CLOSED
        self._count = 0
        self._opened_at = 0.0

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (open turns half-open once the cooldown is over)."""
        if self._state == OPEN and self.clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a call may go ahead now; the first call after a cooldown is the trial.

        Every allowed call must end in ``success()``, ``failure()`` or ``cancel()``.
        """
        if self._state == CLOSED:
            return True
        if self._state == OPEN and self.state == HALF_OPEN:
            self._state = HALF_OPEN  # the trial is in flight; others wait for its outcome
            return True
        return False

    def success(self) -> None:
        """An allowed call worked: close."""
        self._state = CLOSED
        self._count = 0

    def failure(self) -> None:
        """An allowed call failed: open after enough of them, or at once after a trial."""
        self._count += 1
        if self._state == HALF_OPEN or self._count >= self.failures:
            self._state = OPEN
            self._opened_at = self.clock()

    def cancel(self) -> None:
        """An allowed call ended without telling whether the provider works."""
        if self._state == HALF_OPEN:
            self._state = OPEN  # the cooldown is over: the next call is a new trial

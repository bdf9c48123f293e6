"""Login throttling: per client IP and per account, in memory (one process).

``create_app`` takes a limiter (``login_limiter=``); a Redis-backed one with
the same two coroutines replaces this when several processes must agree.

Two limits, chosen so an attacker can neither guess fast nor lock a real
agent out (``docs/security.md``):

- **per client IP**: at most ``ip_max_failures`` failed logins in a sliding
  window of ``ip_window`` seconds; beyond it every login from that IP waits
  until the oldest failure leaves the window.
- **per account**: after ``account_free_failures`` failures in a row, each
  further try must wait 1, 2, 4 ... seconds after the previous failure, capped
  at ``account_max_delay``. It only slows guessing (one guess a minute at the
  cap); it never locks the account. An IP that logged in to the account before
  (in the last ``trusted_seconds``) is not slowed by it at all, so a stranger's
  failures cannot keep the real agent out.

An attempt counts as a failure from the moment it is let through (and is
forgiven if it succeeds): a burst of concurrent guesses cannot all slip past
the check while their password hashes are being computed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

MAX_KEYS = 10_000  # tracked IPs / usernames before stale ones are dropped


@dataclass
class _Account:
    failures: int = 0
    last_failure: float = 0.0


class LoginLimiter:
    """In-memory login limiter.

    Args:
        ip_max_failures: failed logins one IP may make per window.
        ip_window: the IP window in seconds.
        account_free_failures: failures in a row of one username before it is slowed.
        account_max_delay: the longest wait between two tries of one username.
        trusted_seconds: how long an IP that logged in to an account stays exempt from
            that account's delay.
        clock: monotonic time in seconds (tests pass their own).
    """

    def __init__(self, ip_max_failures: int = 30, ip_window: float = 300.0, account_free_failures: int = 5,
                 account_max_delay: float = 60.0, trusted_seconds: float = 30 * 86400,
                 clock: Callable[[], float] = time.monotonic):
        self.ip_max_failures = ip_max_failures
        self.ip_window = ip_window
        self.account_free_failures = account_free_failures
        self.account_max_delay = account_max_delay
        self.trusted_seconds = trusted_seconds
        self.clock = clock
        self._ips: dict[str, deque[float]] = {}
        self._accounts: dict[str, _Account] = {}
        self._trusted: dict[tuple[str, str], float] = {}  # (username, ip) -> last successful login

    @classmethod
    def from_settings(cls, settings) -> "LoginLimiter":
        """The limiter with the ``CROSSDESK_LOGIN_*`` limits."""
        return cls(settings.login_ip_max_failures, settings.login_ip_window_seconds,
                   settings.login_account_free_failures, settings.login_account_max_delay_seconds)

    async def attempt(self, username: str, ip: str) -> float:
        """Let a login try through (0.0, counted as a failure until it succeeds) or say how long to wait."""
        now = self.clock()
        wait = max(self._ip_wait(ip, now), self._account_wait(username, ip, now))
        if wait > 0:
            return wait
        self._ips.setdefault(ip, deque()).append(now)
        account = self._accounts.setdefault(username, _Account())
        account.failures += 1
        account.last_failure = now
        self._prune(now)
        return 0.0

    async def succeeded(self, username: str, ip: str) -> None:
        """The try let through was right: forgive it, reset the account, trust this IP for it."""
        failures = self._ips.get(ip)
        if failures:
            failures.pop()
        self._accounts.pop(username, None)
        self._trusted[(username, ip)] = self.clock()

    def _ip_wait(self, ip: str, now: float) -> float:
        failures = self._ips.get(ip)
        if not failures:
            return 0.0
        while failures and failures[0] <= now - self.ip_window:
            failures.popleft()
        if len(failures) < self.ip_max_failures:
            return 0.0
        return failures[-self.ip_max_failures] + self.ip_window - now

    def _account_wait(self, username: str, ip: str, now: float) -> float:
        account = self._accounts.get(username)
        if account is None or account.failures < self.account_free_failures:
            return 0.0
        trusted_at = self._trusted.get((username, ip))
        if trusted_at is not None and now - trusted_at < self.trusted_seconds:
            return 0.0
        delay = min(self.account_max_delay, 2.0 ** (account.failures - self.account_free_failures))
        return max(0.0, account.last_failure + delay - now)

    def _prune(self, now: float) -> None:
        """Forget stale keys once there are many (an attacker may try endless usernames or IPs)."""
        if len(self._ips) > MAX_KEYS:
            self._ips = {ip: f for ip, f in self._ips.items() if f and f[-1] > now - self.ip_window}
        if len(self._accounts) > MAX_KEYS:
            self._accounts = {name: a for name, a in self._accounts.items()
                              if a.last_failure > now - self.account_max_delay}
        if len(self._trusted) > MAX_KEYS:
            self._trusted = {key: t for key, t in self._trusted.items() if t > now - self.trusted_seconds}

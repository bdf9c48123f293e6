"""Logins in-process: no username enumeration by timing, throttling per IP and per account, deactivation."""

import statistics
import time

import pytest

from handoff.store import SQLStore
from handoff.store.agents import AgentStore, token_hash
from handoff.throttle import LoginLimiter


@pytest.fixture
def agents(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path}/crossdesk.db")
    agents = AgentStore(store)
    agents.add("yuki", "yuki-password-1", ["ja", "en"])
    yield agents
    store.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_and_known_usernames_take_the_same_time_to_refuse(agents):
    agents.authenticate("nobody", "warm-up")  # the dummy hash is made once, not per login
    times = {"yuki": [], "nobody": []}
    for _ in range(24):
        for name in times:  # interleaved, so a busy machine slows both alike
            start = time.perf_counter()
            assert agents.authenticate(name, "wrong-password") is None
            times[name].append(time.perf_counter() - start)
    known, unknown = statistics.median(times["yuki"]), statistics.median(times["nobody"])
    assert abs(unknown - known) / known < 0.2, (known, unknown)


def test_a_deactivated_agent_cannot_log_in_and_their_tokens_stop_working(agents):
    token = agents.issue_token(agents.authenticate("yuki", "yuki-password-1"))
    assert agents.agent_for_token(token).username == "yuki"
    agents.set_active("yuki", False)
    assert agents.authenticate("yuki", "yuki-password-1") is None
    assert agents.agent_for_token(token) is None
    assert agents.why_ended(token_hash(token)) == "deactivated"
    assert [a.active for a in agents.all()] == [False]
    agents.set_active("yuki", True)
    assert agents.agent_for_token(token) is None  # a reactivated agent logs in again
    assert agents.authenticate("yuki", "yuki-password-1").username == "yuki"


def test_tokens_expire_after_their_ttl(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path}/crossdesk.db")
    agents = AgentStore(store, token_ttl=0.3)
    token = agents.issue_token(agents.add("ken", "ken-password-1", ["en"]))
    assert agents.agent_for_token(token) is not None
    time.sleep(0.4)
    assert agents.agent_for_token(token) is None
    assert agents.why_ended(token_hash(token)) == "expired"
    agents.revoke_token(token)
    assert agents.why_ended(token_hash(token)) == "logged_out"
    store.close()


async def test_one_ip_gets_429_after_its_failures_until_they_leave_the_window():
    clock = Clock()
    limiter = LoginLimiter(ip_max_failures=5, ip_window=60, account_free_failures=100, clock=clock)
    for i in range(5):
        assert await limiter.attempt(f"guess{i}", "10.0.0.9") == 0  # refused by the password check
        clock.now += 1
    assert await limiter.attempt("yuki", "10.0.0.9") == pytest.approx(55)  # the first failure leaves at +60
    assert await limiter.attempt("yuki", "10.0.0.7") == 0  # other IPs are not affected
    clock.now += 55
    assert await limiter.attempt("yuki", "10.0.0.9") == 0


async def test_an_account_is_slowed_by_doubling_delays_never_locked():
    clock = Clock()
    limiter = LoginLimiter(ip_max_failures=1000, account_free_failures=3, account_max_delay=8, clock=clock)
    for _ in range(3):
        assert await limiter.attempt("yuki", "203.0.113.5") == 0
    waits = []
    for _ in range(6):
        wait = await limiter.attempt("yuki", "198.51.100.1")  # from anywhere: it's the account that's slowed
        assert wait > 0
        waits.append(wait)
        clock.now += wait
        assert await limiter.attempt("yuki", "198.51.100.1") == 0
    assert waits == [1, 2, 4, 8, 8, 8]  # capped: at worst one guess every 8 s, and the real agent still gets in


async def test_an_ip_that_logged_in_before_is_not_slowed_by_strangers_failures():
    clock = Clock()
    limiter = LoginLimiter(ip_max_failures=1000, account_free_failures=3, account_max_delay=60, clock=clock)
    assert await limiter.attempt("yuki", "192.0.2.10") == 0
    await limiter.succeeded("yuki", "192.0.2.10")  # the real agent, from the office
    for _ in range(3):
        assert await limiter.attempt("yuki", "203.0.113.5") == 0  # an attacker's wrong guesses
    assert await limiter.attempt("yuki", "203.0.113.5") > 0
    assert await limiter.attempt("yuki", "192.0.2.10") == 0  # the office is let through at once
    await limiter.succeeded("yuki", "192.0.2.10")
    assert await limiter.attempt("yuki", "203.0.113.5") == 0  # success resets the account's count


async def test_concurrent_guesses_are_counted_before_their_passwords_are_checked():
    limiter = LoginLimiter(ip_max_failures=10, account_free_failures=1000)
    answers = [await limiter.attempt(f"user{i}", "10.0.0.1") for i in range(15)]  # none has finished yet
    assert answers[:10] == [0] * 10 and all(wait > 0 for wait in answers[10:])


async def test_the_default_limits_let_a_test_suites_logins_from_one_ip_through():
    limiter = LoginLimiter()
    for i in range(60):
        name = ("yuki", "ken", "mei")[i % 3]
        assert await limiter.attempt(name, "127.0.0.1") == 0
        if i % 10 == 9:
            continue  # a wrong password now and then
        await limiter.succeeded(name, "127.0.0.1")

"""Flood limits and queue-push coalescing as pure logic (in-process, milliseconds)."""

import asyncio
from types import SimpleNamespace

import pytest

from handoff.coalesce import Coalescer
from handoff.limits import RateLimiter, ShopperLimits, client_address
from handoff.protocol import RetryLater
from handoff.settings import Settings


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(clock, **settings) -> ShopperLimits:
    return ShopperLimits(Settings(**settings), clock)


def request_from(peer: str, forwarded: str = "") -> dict:
    environ = {"REMOTE_ADDR": "127.0.0.1", "sanic.request": SimpleNamespace(ip=peer)}
    if forwarded:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return environ


def test_a_socket_may_send_its_burst_at_once_then_at_its_rate():
    clock = Clock()
    shopper = limits(clock, socket_message_rate=2, socket_message_burst=5)
    shopper.connected("s1", request_from("198.51.100.1"))
    for _ in range(5):
        shopper.admit_message("s1")
    with pytest.raises(RetryLater) as refused:
        shopper.admit_message("s1")
    assert refused.value.code == "rate_limited" and refused.value.retry_after == 0.5
    clock.now += 0.5
    shopper.admit_message("s1")  # one token came back
    with pytest.raises(RetryLater):
        shopper.admit_message("s1")


def test_a_refused_message_costs_nothing_and_other_sockets_keep_their_own_budget():
    clock = Clock()
    shopper = limits(clock, socket_message_rate=1, socket_message_burst=2, ip_message_rate=1, ip_message_burst=3)
    for sid in ("flooder", "neighbour"):
        shopper.connected(sid, request_from("198.51.100.1"))
    shopper.admit_message("flooder")
    shopper.admit_message("flooder")
    for _ in range(100):  # refused by its own socket's limit: the address's budget is untouched
        with pytest.raises(RetryLater):
            shopper.admit_message("flooder")
    shopper.admit_message("neighbour")  # the third of the address's three
    with pytest.raises(RetryLater) as refused:
        shopper.admit_message("neighbour")
    assert "your network" in refused.value.message


def test_every_socket_of_one_address_shares_its_limit_and_reconnecting_does_not_refill_it():
    clock = Clock()
    shopper = limits(clock, socket_message_burst=100, ip_message_rate=1, ip_message_burst=4)
    for index in range(4):
        shopper.connected(f"s{index}", request_from("203.0.113.9"))
        shopper.admit_message(f"s{index}")
        shopper.disconnected(f"s{index}")
    shopper.connected("again", request_from("203.0.113.9"))
    with pytest.raises(RetryLater):
        shopper.admit_message("again")
    shopper.connected("elsewhere", request_from("203.0.113.10"))
    shopper.admit_message("elsewhere")


def test_zero_rate_turns_a_limit_off():
    shopper = limits(Clock(), socket_message_rate=0, ip_message_rate=0, max_pending_per_conversation=0)
    shopper.connected("s", request_from("198.51.100.1"))
    for _ in range(10_000):
        shopper.admit_message("s")
        shopper.reserve("conversation")


def test_typing_beyond_its_rate_is_dropped_with_the_wait():
    clock = Clock()
    shopper = limits(clock, socket_typing_rate=1, socket_typing_burst=2)
    assert shopper.admit_typing("s") is None and shopper.admit_typing("s") is None
    assert shopper.admit_typing("s") == 1.0


def test_a_conversation_holds_at_most_its_bound_of_messages_waiting_for_the_bot():
    shopper = limits(Clock(), max_pending_per_conversation=2)
    shopper.reserve("c1")
    shopper.reserve("c1")
    with pytest.raises(RetryLater) as refused:
        shopper.reserve("c1")
    assert refused.value.code == "busy" and refused.value.retry_after > 0
    shopper.reserve("c2")  # other conversations are not affected
    shopper.release("c1")
    shopper.reserve("c1")
    assert shopper.pending("c1") == 2


def test_a_socket_that_keeps_sending_while_refused_is_slowed_then_cut_off():
    clock = Clock()
    shopper = limits(clock)
    assert shopper.delay("s") == 0
    outcomes = []
    for _ in range(60):
        outcomes.append(shopper.refused("s"))
        assert shopper.delay("s") == pytest.approx(0.1)  # its next event is read 0.1 s later
        clock.now += 0.1
    assert outcomes.index(True) > 50  # 50 refusals, plus what one a second gives back
    shopper.disconnected("s")
    assert shopper.delay("s") == 0 and shopper.refused("s") is False


def test_idle_address_buckets_are_pruned():
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    for index in range(5000):
        limiter.take(f"10.0.{index // 256}.{index % 256}")
        clock.now += 0.01
    assert len(limiter) < 2100  # only those seen in the last second or so are kept


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    trusted = frozenset({"10.0.0.2"})
    assert client_address(request_from("198.51.100.7", "203.0.113.1"), trusted) == "198.51.100.7"
    assert client_address(request_from("10.0.0.2", "203.0.113.1"), trusted) == "203.0.113.1"
    # A client can write anything on the left; the rightmost untrusted hop is what the proxy saw.
    assert client_address(request_from("10.0.0.2", "1.2.3.4, 203.0.113.1"), trusted) == "203.0.113.1"
    assert client_address(request_from("10.0.0.2", "203.0.113.1, 10.0.0.2"), trusted) == "203.0.113.1"
    assert client_address(request_from("10.0.0.2", "not-an-address"), trusted) == "10.0.0.2"
    assert client_address(request_from("10.0.0.2"), trusted) == "10.0.0.2"
    assert client_address(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"


async def test_queue_pushes_are_coalesced_and_the_last_one_carries_the_latest_state():
    state = {"value": 0}
    pushed: list[int] = []

    async def send():
        pushed.append(state["value"])

    pushes = Coalescer(send, interval=0.05)
    for value in range(1, 101):
        state["value"] = value
        await pushes.request()
    assert pushed == [1]  # the first at once
    await asyncio.sleep(0.1)
    assert pushed == [1, 100]  # then one with the latest state
    await asyncio.sleep(0.1)
    state["value"] = 101
    await pushes.request()  # after a quiet interval: at once again
    assert pushed == [1, 100, 101]
    pushes.close()

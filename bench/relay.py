"""Handoff relay latency: shopper message -> agent socket, Crossdesk vs a bare relay."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

import socketio

from bench.common import ROOT, discard, env, percentile, stop
from harness.processes import add_agent, free_port, login


PACE = 1.0  # seconds between a relayed message and the conversation's next one
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Relay:
    """Shopper sockets, one agent socket, and the receive times of relayed texts."""

    def __init__(self, url: str, agent_event: str, agent_auth=None):
        self.url = url
        self.agent = socketio.AsyncClient(reconnection=False)
        self.arrived: dict[str, asyncio.Future] = {}
        self.agent.on(agent_event, self._on_relayed, namespace="/agent")
        self.agent_auth = agent_auth
        self.runs = 0

    async def _on_relayed(self, data=None) -> None:
        text = data["message"]["text"] if "message" in data else data["text"]
        future = self.arrived.pop(text, None)
        if future and not future.done():
            future.set_result(time.perf_counter())

    async def run(self, shoppers: list, send, messages: int, think: float = 0.0) -> dict:
        """Each shopper sends ``messages``, waiting for the relay (and ``think`` s) in between."""
        latencies: list[float] = []
        self.runs += 1
        run = self.runs

        async def one(index: int, shopper) -> None:
            await asyncio.sleep(think * index / len(shoppers))
            for turn in range(messages):
                await asyncio.sleep(think)
                text = f"r{run}-s{index}-m{turn} where is my parcel?"
                future = asyncio.get_running_loop().create_future()
                self.arrived[text] = future
                sent = time.perf_counter()
                await send(shopper, text)
                latencies.append(await asyncio.wait_for(future, 30) - sent)

        started = time.perf_counter()
        await asyncio.gather(*(one(i, s) for i, s in enumerate(shoppers)))
        elapsed = time.perf_counter() - started
        return {"messages": len(latencies), "per_second": len(latencies) / elapsed,
                "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


async def wait_port(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(url, transports=["websocket"])
            await client.disconnect()
            return
        except socketio.exceptions.ConnectionError:
            await discard(client)
            await asyncio.sleep(0.3)
    raise TimeoutError(url)


@dataclass
class Side:
    """One relay under test: its agent-side receiver, its shoppers and how a shopper sends."""

    relay: Relay
    shoppers: list
    send: Callable[[object, str], Awaitable[None]]
    pid: int  # the server process

    async def run(self, messages: int, think: float = 0.0) -> dict:
        """The relay's figures, plus the server's CPU time per relayed message (µs)."""
        used = cpu_seconds(self.pid)
        result = await self.relay.run(self.shoppers, self.send, messages, think)
        used = cpu_seconds(self.pid) - used
        return {**result, "server_us": used / result["messages"] * 1e6}


@asynccontextmanager
async def bare_side(conversations: int):
    """The bare python-socketio relay in its own process, 200 rooms joined by one agent socket."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.bare_relay", str(port)], cwd=ROOT, env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    shoppers = []
    try:
        await wait_port(url)
        relay = Relay(url, "relay")
        await relay.agent.connect(url, namespaces=["/agent"], transports=["websocket"])
        rooms = [f"room{i}" for i in range(conversations)]
        await relay.agent.call("join", {"rooms": rooms}, namespace="/agent")
        for room in rooms:
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, transports=["websocket"])
            client.room = room
            shoppers.append(client)

        async def send(shopper, text):
            await shopper.emit("msg", {"room": shopper.room, "text": text})

        yield Side(relay, shoppers, send, process.pid)
        for client in shoppers + [relay.agent]:
            await client.disconnect()
    finally:
        stop([process])


@asynccontextmanager
async def crossdesk_side(model: Path, work: Path, conversations: int):
    """Crossdesk with ``conversations`` shoppers handed off to (and claimed by) one agent."""
    from harness.clients import Shopper
    from harness.processes import ServerProcess

    # Each relay shopper sends 100+ messages as fast as they are relayed, all from 127.0.0.1: far
    # beyond the flood limits. Limits high enough never to refuse, so their checks still cost what they do.
    unrefused = {f"CROSSDESK_{name}": "1000000" for name in (
        "SOCKET_MESSAGE_RATE", "SOCKET_MESSAGE_BURST", "IP_MESSAGE_RATE", "IP_MESSAGE_BURST")}
    server_env = {"CROSSDESK_LOG_LEVEL": "WARNING", "CROSSDESK_AGENT_MAX_CONVERSATIONS": str(conversations),
                  **unrefused}
    server = ServerProcess(work / "relay-var", model, env=server_env).start()
    try:
        add_agent(server.var_dir, "bench", "bench-password-1")
        token = login(server.url, "bench", "bench-password-1")[1]["token"]
        relay = Relay(server.url, "agent:shopper_message")
        await relay.agent.connect(server.url, namespaces=["/agent"], transports=["websocket"],
                                  auth={"token": token})
        shoppers = []
        for _ in range(conversations):
            shopper = Shopper(server.url)
            await shopper.connect()
            await shopper.ask("/request_human")
            shoppers.append(shopper)
        await asyncio.sleep(1)
        for shopper in shoppers:
            claimed = await relay.agent.call("claim", {"conversation_id": shopper.session_id},
                                             namespace="/agent", timeout=30)
            assert claimed["ok"], claimed

        async def send(shopper, text):
            await shopper.client.emit("user_uttered", {"message": text, "session_id": shopper.session_id})

        yield Side(relay, shoppers, send, server.process.pid)
        for shopper in shoppers:
            await shopper.close()
        await relay.agent.disconnect()
    finally:
        server.stop()


async def measure(model: Path, work: Path, conversations: int = 200, messages: int = 20, rounds: int = 5) -> dict:
    """Print both relays' figures and the throughput ratio.

    Both servers run side by side and the closed-loop rounds alternate between
    them, so a slow moment of this shared machine hits both; each side's
    median round is reported, and the median of the round-by-round ratios
    (each pair of rounds runs back to back, on the same state of the machine).

    The bench client shares the machine's cores with the servers and can be
    the limit, the bare relay's more often; the servers' own CPU time per
    relayed message is printed too, a steadier measure of what Crossdesk adds.
    """
    results: dict[str, dict] = {}
    async with bare_side(conversations) as bare, crossdesk_side(model, work, conversations) as ours:
        sides = {"bare relay": bare, "crossdesk relay": ours}
        rates: dict[str, list[dict]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, side in sides.items():
                rates[name].append(await side.run(messages))
        for name, side in sides.items():
            median = sorted(rates[name], key=lambda r: r["per_second"])[rounds // 2]
            results[name] = {**median, "rounds": [r["per_second"] for r in rates[name]],
                             "server_us": statistics.median(r["server_us"] for r in rates[name]),
                             "paced": await side.run(5, PACE)}
    for name, result in results.items():
        paced = result["paced"]
        rounds_text = " ".join(f"{r:.0f}" for r in result["rounds"])
        print(f"{name:<16} {conversations} conversations x {messages}: closed loop {result['per_second']:7.1f} msg/s "
              f"median of [{rounds_text}] (p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms) | "
              f"one message per {PACE:g} s per conversation: p50 {paced['p50'] * 1000:.1f} ms, "
              f"p99 {paced['p99'] * 1000:.1f} ms", flush=True)
    ratio = results["crossdesk relay"]["per_second"] / results["bare relay"]["per_second"]
    paired = sorted(ours / bare for ours, bare in zip(results["crossdesk relay"]["rounds"],
                                                      results["bare relay"]["rounds"]))
    print(f"crossdesk relay throughput = {ratio:.0%} of the bare relay (ratio of medians); "
          f"round by round (each pair back to back): median {paired[len(paired) // 2]:.0%}, "
          f"range {paired[0]:.0%}-{paired[-1]:.0%}")
    bare_us, ours_us = results["bare relay"]["server_us"], results["crossdesk relay"]["server_us"]
    print(f"server CPU per relayed message (median round): bare relay {bare_us:.0f} µs, crossdesk {ours_us:.0f} µs "
          f"(crossdesk relays {bare_us / ours_us:.0%} as many messages per CPU second)")
    return results

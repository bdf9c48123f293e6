"""Handoff relay latency: shopper message -> agent socket, Crossdesk vs a bare relay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import socketio

from bench.__main__ import ROOT, env, percentile, stop
from tests.support import add_agent, free_port, login


PACE = 1.0  # seconds between a relayed message and the conversation's next one


class Relay:
    """Shopper sockets, one agent socket, and the receive times of relayed texts."""

    def __init__(self, url: str, agent_event: str, agent_auth=None):
        self.url = url
        self.agent = socketio.AsyncClient(reconnection=False)
        self.arrived: dict[str, asyncio.Future] = {}
        self.agent.on(agent_event, self._on_relayed, namespace="/agent")
        self.agent_auth = agent_auth

    async def _on_relayed(self, data=None) -> None:
        text = data["message"]["text"] if "message" in data else data["text"]
        future = self.arrived.pop(text, None)
        if future and not future.done():
            future.set_result(time.perf_counter())

    async def run(self, shoppers: list, send, messages: int, think: float = 0.0) -> dict:
        """Each shopper sends ``messages``, waiting for the relay (and ``think`` s) in between."""
        latencies: list[float] = []

        async def one(index: int, shopper) -> None:
            await asyncio.sleep(think * index / len(shoppers))
            for turn in range(messages):
                await asyncio.sleep(think)
                text = f"s{index}-m{turn}-{think} where is my parcel?"
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
            await asyncio.sleep(0.3)
    raise TimeoutError(url)


async def bare(conversations: int, messages: int) -> dict:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.bare_relay", str(port)], cwd=ROOT, env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_port(url)
        relay = Relay(url, "relay")
        await relay.agent.connect(url, namespaces=["/agent"], transports=["websocket"])
        rooms = [f"room{i}" for i in range(conversations)]
        await relay.agent.call("join", {"rooms": rooms}, namespace="/agent")
        shoppers = []
        for room in rooms:
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, transports=["websocket"])
            client.room = room
            shoppers.append(client)

        async def send(shopper, text):
            await shopper.emit("msg", {"room": shopper.room, "text": text})

        result = await relay.run(shoppers, send, messages)
        result["paced"] = await relay.run(shoppers, send, messages, PACE)
        for client in shoppers + [relay.agent]:
            await client.disconnect()
        return result
    finally:
        stop([process])


async def crossdesk(model: Path, work: Path, conversations: int, messages: int) -> dict:
    from tests.support import ServerProcess, Shopper

    env = {"CROSSDESK_LOG_LEVEL": "WARNING", "CROSSDESK_AGENT_MAX_CONVERSATIONS": str(conversations)}
    server = ServerProcess(work / "relay-var", model, env=env).start()
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

        result = await relay.run(shoppers, send, messages)
        result["paced"] = await relay.run(shoppers, send, messages, PACE)
        for shopper in shoppers:
            await shopper.close()
        await relay.agent.disconnect()
        return result
    finally:
        server.stop()


async def measure(model: Path, work: Path, conversations: int = 200, messages: int = 5) -> None:
    """Print both relays' figures and the throughput ratio."""
    baseline = await bare(conversations, messages)
    ours = await crossdesk(model, work, conversations, messages)
    for name, result in (("bare relay", baseline), ("crossdesk relay", ours)):
        paced = result["paced"]
        print(f"{name:<16} {conversations} conversations x {messages}: closed loop {result['per_second']:7.1f} msg/s "
              f"(p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms) | one message per "
              f"{PACE:g} s per conversation: p50 {paced['p50'] * 1000:.1f} ms, p99 {paced['p99'] * 1000:.1f} ms",
              flush=True)
    print(f"crossdesk relay throughput = {ours['per_second'] / baseline['per_second']:.0%} of the bare relay")

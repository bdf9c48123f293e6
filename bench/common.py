"""What the benchmarks share: shoppers that time replies, server processes, percentiles."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import socketio

from crossdesk.paths import ROOT
from harness.processes import env, free_port, start_plain_rasa, stop

__all__ = ["MESSAGES", "ROOT", "Client", "discard", "env", "first_reply", "free_port", "load", "measure",
           "percentile", "report", "start_crossdesk", "start_plain_rasa", "stop"]

MESSAGES = [
    "hi", "how long does shipping to Germany take?", "配送にどのくらいかかりますか",
    "how much is shipping to Canada", "do I have to pay customs duties in Australia?",
    "支払い方法は？", "can I pay with PayPal?", "thanks!", "where is my parcel? order #A10234",
    "what is your return policy", "ありがとう", "bye",
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def discard(client: socketio.AsyncClient) -> None:
    """Disconnect and close the HTTP session a failed connect leaves open (aiohttp warns of each)."""
    await client.disconnect()
    http = getattr(client.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


class Client:
    """One shopper: sends a message, waits for the bot's reply, repeats."""

    def __init__(self, url: str):
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.replies: asyncio.Queue = asyncio.Queue()
        self.session_id: Optional[str] = None
        self.sio.on("bot_uttered", self._on_reply)
        self.sio.on("session_confirm", self._on_confirm)
        self._confirmed = asyncio.Event()

    async def _on_reply(self, data=None) -> None:
        await self.replies.put(time.perf_counter())

    async def _on_confirm(self, data=None) -> None:
        self.session_id = data
        self._confirmed.set()

    async def connect(self, locale: Optional[str] = None) -> None:
        # (python-socketio waits 1 s for the namespace by default: on a busy machine 50 handshakes at once
        # took longer, and the whole run died with "One or more namespaces failed to connect")
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=30)
        await self.sio.emit("session_request", {"session_id": None, **({"locale": locale} if locale else {})})
        await asyncio.wait_for(self._confirmed.wait(), 30)

    async def exchange(self, text: str, timeout: float = 60) -> float:
        """Seconds from sending ``text`` to the first bot reply."""
        while not self.replies.empty():
            self.replies.get_nowait()
        sent = time.perf_counter()
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        received = await asyncio.wait_for(self.replies.get(), timeout)
        return received - sent

    async def close(self) -> None:
        await self.sio.disconnect()


async def first_reply(url: str, started: float, timeout: float = 180) -> float:
    """Seconds from ``started`` until a shopper gets a first reply."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        client = Client(url)
        try:
            await client.connect()
            await client.exchange("hi", timeout=max(1, deadline - time.perf_counter()))
            await client.close()
            return time.perf_counter() - started
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError, OSError):
            await discard(client.sio)
            await asyncio.sleep(0.1)
    raise TimeoutError(f"no reply from {url} within {timeout}s")


async def load(url: str, shoppers: int, messages: int, think: float = 0.0) -> dict:
    """N concurrent shoppers x M messages; latency figures and throughput.

    ``think`` is the pause between a reply and the shopper's next message
    (0 = a closed loop: every shopper fires again at once, the worst case).
    """
    clients = [Client(url) for _ in range(shoppers)]
    await asyncio.gather(*(c.connect() for c in clients))
    latencies: list[float] = []

    async def run(index: int, client: Client) -> None:
        if think:
            await asyncio.sleep(think * index / shoppers)  # spread the first messages
        for turn in range(messages):
            latencies.append(await client.exchange(MESSAGES[(index + turn) % len(MESSAGES)]))
            if think:
                await asyncio.sleep(think)

    started = time.perf_counter()
    await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in clients))
    return {
        "replies": len(latencies), "seconds": elapsed, "per_second": len(latencies) / elapsed,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "latencies": latencies,
    }


def start_crossdesk(model: Path, work: Path, port: int) -> subprocess.Popen:
    environment = {**env(), **{k: v for k, v in os.environ.items() if k.startswith("CROSSDESK_")},
                   "CROSSDESK_PORT": str(port), "CROSSDESK_VAR_DIR": str(work / "crossdesk"),
                   "CROSSDESK_MODEL_PATH": str(model), "CROSSDESK_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env=environment,
                            stdout=open(work / "crossdesk.log", "wb"), stderr=subprocess.STDOUT)


def report(name: str, result: dict) -> None:
    print(f"{name:<24} {result['replies']} replies in {result['seconds']:5.1f} s = "
          f"{result['per_second']:6.1f} replies/s | latency p50 {result['p50'] * 1000:6.0f} ms  "
          f"p95 {result['p95'] * 1000:6.0f} ms  p99 {result['p99'] * 1000:6.0f} ms", flush=True)


async def measure(name: str, start, model: Path, work: Path, shoppers: int, messages: int,
                  think: float) -> dict:
    port = free_port()
    started = time.perf_counter()
    processes = start(model, work, port)
    processes = processes if isinstance(processes, list) else [processes]
    try:
        cold = await first_reply(f"http://127.0.0.1:{port}", started)
        await load(f"http://127.0.0.1:{port}", 5, 2)  # warm-up
        result = await load(f"http://127.0.0.1:{port}", shoppers, messages)
        paced = await load(f"http://127.0.0.1:{port}", shoppers, messages, think) if think else None
    finally:
        stop(processes)
    result["cold_start"] = cold
    print(f"{name}: cold start (process start to first reply) {cold:.1f} s", flush=True)
    report(f"  {name} closed loop", result)
    if paced:
        report(f"  {name} {think:g} s typing", paced)
    return result

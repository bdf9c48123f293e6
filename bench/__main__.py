"""``make bench``: Crossdesk vs plain ``rasa run`` on the same model, over real Socket.IO.

Prints the KPI dashboard's time over 100,000 conversations (``bench/kpis.py``),
cold start (process start to first reply), reply latency p50/p95/p99 and
replies/s for N concurrent shoppers x M messages, for both servers, and the ratio.
Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [
    "hi", "how long does shipping to Germany take?", "配送にどのくらいかかりますか",
    "how much is shipping to Canada", "do I have to pay customs duties in Australia?",
    "支払い方法は？", "can I pay with PayPal?", "thanks!", "where is my parcel? order #A10234",
    "what is your return policy", "ありがとう", "bye",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": None})
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


def env() -> dict:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}


def start_crossdesk(model: Path, work: Path, port: int) -> subprocess.Popen:
    environment = {**env(), **{k: v for k, v in os.environ.items() if k.startswith("CROSSDESK_")},
                   "CROSSDESK_PORT": str(port), "CROSSDESK_VAR_DIR": str(work / "crossdesk"),
                   "CROSSDESK_MODEL_PATH": str(model), "CROSSDESK_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env=environment,
                            stdout=open(work / "crossdesk.log", "wb"), stderr=subprocess.STDOUT)


def start_plain_rasa(model: Path, work: Path, port: int) -> list[subprocess.Popen]:
    """``rasa run`` with its socket.io channel + ``rasa run actions``, same model and NLG."""
    action_port = free_port()
    (work / "credentials.yml").write_text("socketio:\n  user_message_evt: user_uttered\n"
                                          "  bot_message_evt: bot_uttered\n  session_persistence: true\n")
    (work / "endpoints.yml").write_text(
        "nlg:\n  type: bot.nlg.MultilingualNLG\n"
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'plain-tracker.db'}\n")
    rasa = str(Path(sys.executable).parent / "rasa")
    actions = subprocess.Popen([rasa, "run", "actions", "--actions", "actions.server", "--port", str(action_port)],
                               cwd=ROOT, env=env(), stdout=open(work / "actions.log", "wb"),
                               stderr=subprocess.STDOUT)
    server = subprocess.Popen(
        [rasa, "run", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1",
         "--credentials", str(work / "credentials.yml"), "--endpoints", str(work / "endpoints.yml")],
        cwd=ROOT, env=env(), stdout=open(work / "rasa.log", "wb"), stderr=subprocess.STDOUT)
    return [server, actions]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


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


def widget_size() -> None:
    """The widget's size budget (socket.io-client excluded)."""
    import gzip

    raw = (ROOT / "widget" / "crossdesk.js").read_bytes()
    print(f"widget: crossdesk.js {len(raw) / 1024:.1f} KB, {len(gzip.compress(raw, 9)) / 1024:.1f} KB gzipped "
          f"(budget 25 KB)", flush=True)


async def main(args: argparse.Namespace) -> None:
    from bot.training import ensure_model

    model = Path(args.model) if args.model else ensure_model(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        work = Path(tmp)
        print(f"{args.shoppers} concurrent shoppers x {args.messages} messages, model {model.name}, "
              f"{os.cpu_count()} cores", flush=True)
        widget_size()
        from bench.kpis import measure as measure_kpis

        measure_kpis()
        from bench.translation import measure as measure_translation, table

        print("translation added per message (fake LibreTranslate on loopback, 200 messages):")
        print(table(await measure_translation(200)), flush=True)
        if not args.skip_relay:
            from bench.relay import measure as measure_relay

            await measure_relay(model, work)
        if not args.skip_flood:
            from bench.flood import measure as measure_flood

            await measure_flood(model, work)
        ours = await measure("crossdesk", start_crossdesk, model, work, args.shoppers, args.messages, args.think)
        if args.skip_plain:
            return
        plain = await measure("plain rasa", start_plain_rasa, model, work, args.shoppers, args.messages,
                              args.think)
    print(f"ratio crossdesk/plain: throughput x{ours['per_second'] / plain['per_second']:.2f}, "
          f"p99 latency x{ours['p99'] / plain['p99']:.2f}, cold start x{ours['cold_start'] / plain['cold_start']:.2f}")
    print(f"vs the rasa-init bot on plain rasa run (12 replies/s, docs/benchmarks.md): "
          f"x{ours['per_second'] / 12:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--shoppers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--think", type=float, default=2.0,
                        help="also measure with this pause (s) between a reply and the next message; 0 skips")
    parser.add_argument("--model", help="model archive (default: train/reuse var/models)")
    parser.add_argument("--skip-relay", action="store_true", help="skip the handoff relay measurement")
    parser.add_argument("--skip-plain", action="store_true", help="measure Crossdesk only")
    parser.add_argument("--skip-flood", action="store_true",
                        help="skip the flood measurement (alone: python -m bench.flood)")
    asyncio.run(main(parser.parse_args()))

"""Well-behaved shoppers' reply latency with and without a flooding socket beside them.

``python -m bench.flood`` runs only this measure (``make bench`` runs it too).
The flooder is a separate process (``bench.flooder``) sending as fast as it
can for as long as the shoppers talk; the shoppers are paced like people
(a message, the reply, a pause). Target from issue #14: p50/p99 with the
flood within 2x of without.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, env, first_reply, free_port, load, percentile, start_crossdesk, stop
from crossdesk.paths import MODELS_DIR


async def flooded(url: str, shoppers: int, messages: int, think: float) -> tuple[dict, dict]:
    """The shoppers' figures while ``bench.flooder`` floods; and the flooder's own summary."""
    # Long enough to cover the whole run: each shopper's messages plus pauses, with slack.
    seconds = messages * (think + 0.3) + think + 5
    flooder = subprocess.Popen([sys.executable, "-m", "bench.flooder", url, str(seconds)], cwd=ROOT, env=env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        await asyncio.sleep(1)  # the flood is on before the first shopper speaks
        result = await load(url, shoppers, messages, think)
        output, _ = await asyncio.to_thread(flooder.communicate, timeout=seconds + 60)
    finally:
        if flooder.poll() is None:
            flooder.kill()
    return result, json.loads(output.strip().splitlines()[-1])


def pooled(results: list[dict]) -> dict:
    """The latency figures of several rounds' replies together."""
    latencies = [value for result in results for value in result["latencies"]]
    return {"replies": len(latencies), "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


async def measure(model: Path, work: Path, shoppers: int = 20, messages: int = 15, think: float = 0.5,
                  rounds: int = 2) -> dict:
    """Print p50/p99 of well-behaved shoppers without and with a flood, and the ratios."""
    port = free_port()
    started = time.perf_counter()
    processes = [start_crossdesk(model, work, port)]
    url = f"http://127.0.0.1:{port}"
    try:
        await first_reply(url, started)
        await load(url, 5, 2)  # warm-up
        calm, flood, flooders = [], [], []
        for _ in range(rounds):  # alternating, so a slow moment of this shared machine hits both
            calm.append(await load(url, shoppers, messages, think))
            result, flooder = await flooded(url, shoppers, messages, think)
            flood.append(result)
            flooders.append(flooder)
    finally:
        stop(processes)
    calm, flood = pooled(calm), pooled(flood)
    flooder = {"sent": sum(f["sent"] for f in flooders), "seconds": sum(f["seconds"] for f in flooders),
               "connections": sum(f["connections"] for f in flooders),
               "acks": dict(sum((collections.Counter(f["acks"]) for f in flooders), collections.Counter()))}
    flooder["per_second"] = flooder["sent"] / flooder["seconds"]
    print(f"flood: {shoppers} shoppers x {messages} messages, {think:g} s between a reply and the next message, "
          f"{rounds} rounds each without and with a flood (alternating); "
          f"one flooding client sent {flooder['sent']} messages in {flooder['seconds']:.1f} s "
          f"({flooder['per_second']:.0f}/s) over {flooder['connections']} connections, acks {flooder['acks']}",
          flush=True)
    for name, result in (("without flood", calm), ("with flood", flood)):
        print(f"  {name:<14} reply p50 {result['p50'] * 1000:5.0f} ms  p99 {result['p99'] * 1000:5.0f} ms "
              f"({result['replies']} replies)", flush=True)
    print(f"  with/without: p50 x{flood['p50'] / calm['p50']:.2f}, p99 x{flood['p99'] / calm['p99']:.2f} "
          f"(target: within x2)", flush=True)
    return {"calm": calm, "flood": flood, "flooder": flooder}


async def main(args: argparse.Namespace) -> None:
    from bot.training import ensure_model

    model = Path(args.model) if args.model else ensure_model(MODELS_DIR)
    with tempfile.TemporaryDirectory(prefix="crossdesk-flood-") as tmp:
        await measure(model, Path(tmp), args.shoppers, args.messages, args.think, args.rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.flood")
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=15)
    parser.add_argument("--think", type=float, default=0.5, help="pause (s) between a reply and the next message")
    parser.add_argument("--rounds", type=int, default=2, help="rounds without and with the flood, alternating")
    parser.add_argument("--model", help="model archive (default: train/reuse var/models)")
    asyncio.run(main(parser.parse_args()))

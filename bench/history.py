"""Does a reply cost more late in a long conversation? (issue #21: within 1.2x at message 500)

``python -m bench.history``: one Crossdesk process; shoppers one after another, each
sending 500 messages back to back (a closed loop, one shopper at a time: a quiet
server). Prints the median reply at messages 1-10 and 491-500 over all shoppers.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import MESSAGES, Client, first_reply, free_port, start_crossdesk, stop  # noqa: E402

WINDOW = 10


async def conversation(url: str, messages: int) -> list[float]:
    """Seconds per reply of one shopper sending ``messages`` messages one after another."""
    client = Client(url)
    await client.connect()
    try:
        return [await client.exchange(MESSAGES[turn % len(MESSAGES)]) for turn in range(messages)]
    finally:
        await client.close()


async def measure(model: Path, work: Path, shoppers: int = 3, messages: int = 500) -> dict:
    """Median reply (s) early and late in ``shoppers`` conversations of ``messages`` messages."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # One shopper sending 500 messages back to back is far beyond the flood limits (2/s, burst 20):
    # limits high enough never to refuse, so their checks still cost what they do.
    unrefused = {f"CROSSDESK_{name}": "1000000" for name in (
        "SOCKET_MESSAGE_RATE", "SOCKET_MESSAGE_BURST", "IP_MESSAGE_RATE", "IP_MESSAGE_BURST")}
    saved = {name: os.environ.get(name) for name in unrefused}
    os.environ.update(unrefused)
    try:
        (work / "history").mkdir(parents=True, exist_ok=True)
        process = start_crossdesk(model, work / "history", port)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        await first_reply(url, time.perf_counter())
        runs = [await conversation(url, messages) for _ in range(shoppers)]
    finally:
        stop([process])
    early = statistics.median(s for run in runs for s in run[:WINDOW])
    late = statistics.median(s for run in runs for s in run[-WINDOW:])
    print(f"history: median reply at messages 1-{WINDOW} {early * 1000:.1f} ms, at messages "
          f"{messages - WINDOW + 1}-{messages} {late * 1000:.1f} ms: x{late / early:.2f} (target <= 1.2; "
          f"{shoppers} shoppers one after another)", flush=True)
    return {"early": early, "late": late}


async def main() -> None:
    from bot.training import ensure_model

    model = ensure_model(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        await measure(model, Path(tmp), messages=int(sys.argv[1]) if len(sys.argv) > 1 else 500)


if __name__ == "__main__":
    asyncio.run(main())

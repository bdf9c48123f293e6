"""One server process's footprint: cold start, RSS at rest and after a load, CPU per reply.

``python -m bench.process``: starts Crossdesk on the trained model, times process start to
first reply, reads the process's resident memory (``/proc/<pid>/status``) at rest and after
50 shoppers x 10 messages, and the server's CPU time per reply during that load. Targets (issue #21): <= 400 MB at rest, <= 4 s cold start.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import first_reply, free_port, load, start_crossdesk, stop  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def measure(model: Path, work: Path, shoppers: int = 50, messages: int = 10) -> dict:
    """Cold start (s), RSS at rest and after a load (MB) of one Crossdesk process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = start_crossdesk(model, work, port)
    try:
        cold = await first_reply(url, started)
        cold_cpu = cpu_seconds(process.pid)
        load_average = os.getloadavg()[0]
        await asyncio.sleep(2)
        at_rest = rss_mb(process.pid)
        cpu = cpu_seconds(process.pid)
        result = await load(url, shoppers, messages)
        cpu = cpu_seconds(process.pid) - cpu
        after = rss_mb(process.pid)
    finally:
        stop([process])
    print(f"one process: cold start {cold:.1f} s (target <= 4 s; server CPU {cold_cpu:.1f} s, load average "
          f"{load_average:.1f}) | RSS at rest {at_rest:.0f} MB "
          f"(target <= 400 MB), after {shoppers}x{messages} messages {after:.0f} MB; server CPU "
          f"{cpu / result['replies'] * 1e6:.0f} us per reply", flush=True)
    return {"cold_start": cold, "cold_start_cpu": cold_cpu, "load_average": load_average, "rss_rest_mb": at_rest, "rss_loaded_mb": after,
            "cpu_per_reply": cpu / result["replies"]}


async def main() -> None:
    from bot.training import ensure_model

    model = ensure_model(ROOT / "var" / "models")
    with tempfile.TemporaryDirectory(prefix="crossdesk-bench-") as tmp:
        await measure(model, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())

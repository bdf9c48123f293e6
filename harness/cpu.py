"""CPU time of processes from ``/proc`` (Linux), for benchmarks that measure CPU per reply."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_until_idle(pids: list[int], window: float = 1.0, busy: float = 0.05, timeout: float = 60.0) -> float:
    """Wait until ``pids`` use less than ``busy`` CPU seconds in ``window`` s together; returns the seconds waited.

    A server starts its language warm-up (0.5-1 s of CPU, more on a loaded machine) in a
    background thread once the model answers, then returns freed memory to the system: CPU
    that is no reply's. A benchmark that measures CPU per reply waits for it first.
    """
    started = time.perf_counter()
    last = sum(process_cpu_seconds(pid) for pid in pids)
    while time.perf_counter() - started < timeout:
        await asyncio.sleep(window)
        now = sum(process_cpu_seconds(pid) for pid in pids)
        if now - last < busy:
            break
        last = now
    return time.perf_counter() - started

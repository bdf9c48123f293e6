"""``bench.scaleout`` (through ``harness.cpu``) measures only once the servers are idle (warm-up done), in-process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from harness.cpu import process_cpu_seconds, wait_until_idle


def test_measuring_waits_until_a_busy_process_is_idle():
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nwhile time.process_time() < 1.5: pass\n"
                             "time.sleep(60)"])
    try:
        time.sleep(0.3)
        waited = asyncio.run(wait_until_idle([busy.pid], window=0.5))
        spent = process_cpu_seconds(busy.pid)
        assert spent >= 1.4 and waited >= 1.0  # (returned only after the busy loop's 1.5 s of CPU)
        assert waited < 30
    finally:
        busy.kill()
        busy.wait()

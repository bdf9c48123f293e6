"""A real ``redis-server`` on a free loopback port, for tests and benchmarks (Debian's ``redis-server``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from harness.processes import free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_port(port: int, timeout: float = 15, process: Optional[subprocess.Popen] = None) -> None:
    """Wait until something accepts connections on a loopback port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if (process and process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}")
            time.sleep(0.1)


class RedisServer:
    """``redis-server`` without persistence; ``stop()`` then ``start()`` restarts it on the same port."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = Path(directory)
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

"""``python -m handoff serve --workers N``: N server processes on consecutive ports, supervised.

Each worker is an ordinary ``python -m handoff serve`` (one process) started
with ``CROSSDESK_PORT`` = base port + i. They share Redis (``CROSSDESK_REDIS_URL``,
required) and the databases; a sticky balancer in front (``deploy/nginx-crossdesk.conf``)
spreads shoppers and agents over them. A worker that dies is started again
after a short pause (doubling to ``MAX_BACKOFF`` while it keeps dying at once).
The model is trained and the schema upgraded once, here, before any worker
starts, so the workers never race on either.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

logger = logging.getLogger(__name__)
MIN_BACKOFF = 0.5  # seconds before a dead worker is started again
MAX_BACKOFF = 10.0
STABLE_SECONDS = 30.0  # a worker that ran this long starts again with the shortest pause
POLL_SECONDS = 0.2


@dataclass
class Worker:
    """One supervised server process."""

    index: int
    port: int
    process: Optional[subprocess.Popen] = None
    started: float = 0.0
    backoff: float = MIN_BACKOFF
    restart_at: Optional[float] = None
    restarts: int = 0
    env: dict = field(default_factory=dict)


def worker_env(base: dict, port: int, model: str) -> dict:
    """The environment of one worker: the parent's, with its own port and one process."""
    return {**base, "CROSSDESK_PORT": str(port), "CROSSDESK_WORKERS": "1", "CROSSDESK_MODEL_PATH": model}


class Supervisor:
    """Starts the workers, restarts the ones that die, stops them all on SIGTERM/SIGINT.

    Args:
        count: how many workers.
        base_port: the first worker's port (the others follow).
        env: the environment each worker gets (before its port).
        model: the trained model every worker loads.
        command: the worker command line (default: this Python, ``-m handoff serve``).
    """

    def __init__(self, count: int, base_port: int, env: dict, model: str,
                 command: Optional[list[str]] = None, clock: Callable[[], float] = time.monotonic):
        self.workers = [Worker(i, base_port + i, env=worker_env(env, base_port + i, model)) for i in range(count)]
        self.command = command or [sys.executable, "-m", "handoff", "serve", "--workers", "1"]
        self.clock = clock
        self.stopping = False

    def start(self, worker: Worker) -> None:
        """Start (or restart) one worker."""
        worker.process = subprocess.Popen(self.command, env=worker.env)
        worker.started = self.clock()
        worker.restart_at = None
        logger.info("worker %d started on port %d (pid %d)", worker.index, worker.port, worker.process.pid)

    def check(self) -> None:
        """Notice dead workers and start them again once their pause is over."""
        now = self.clock()
        for worker in self.workers:
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    worker.restarts += 1
                    self.start(worker)
                continue
            code = worker.process.poll() if worker.process else None
            if code is None:
                continue
            ran = now - worker.started
            worker.backoff = MIN_BACKOFF if ran >= STABLE_SECONDS else min(worker.backoff * 2, MAX_BACKOFF)
            worker.restart_at = now + worker.backoff
            logger.warning("worker %d (port %d, pid %d) exited with %s after %.1f s; starting it again in %.1f s",
                           worker.index, worker.port, worker.process.pid, code, ran, worker.backoff)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every worker (they drain), then SIGKILL what is left after ``timeout``."""
        self.stopping = True
        alive = [w.process for w in self.workers if w.process and w.process.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in alive:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def run(self) -> None:
        """Start every worker and supervise until SIGTERM or SIGINT."""
        def ask_stop(signum, _frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, ask_stop)
        signal.signal(signal.SIGINT, ask_stop)
        for worker in self.workers:
            self.start(worker)
        while not self.stopping:
            self.check()
            time.sleep(POLL_SECONDS)
        logger.info("stopping %d workers", len(self.workers))
        self.stop()


def prepare(settings) -> str:
    """Train the model if needed and upgrade both databases' schema once; return the model path."""
    from bot.training import ensure_model
    from handoff.bytecode import refresh as refresh_bytecode
    from handoff.store import SQLStore

    model = settings.model_path or str(ensure_model(settings.models_dir))
    SQLStore(settings.database_url).close()  # (creates or upgrades the schema)
    unpack_once(model)
    refresh_bytecode()  # (else each worker compiles our modules: PYTHONDONTWRITEBYTECODE, handoff/bytecode.py)
    return model


def unpack_once(model: str) -> None:
    """Unpack the model beside its archive before the workers start, so that they all load the kept
    copy instead of each unpacking it on its first start (2 workers: 10.4 s to all answering)."""
    from crossdesk.unpacked_models import unpacked

    try:
        unpacked(Path(model))
    except OSError as error:  # (each worker unpacks for itself, as Rasa does)
        print(f"warning: model not unpacked ahead of the workers: {error}", file=sys.stderr, flush=True)


def serve_workers(settings, count: int) -> None:
    """Run ``count`` supervised workers from ``settings.port`` on (needs ``settings.redis_url``)."""
    if not settings.redis_url:
        sys.exit("error: several workers need CROSSDESK_REDIS_URL (they share presence, emits and locks "
                 "through Redis); see docs/deploy.md")
    model = prepare(settings)
    ports = f"{settings.port}-{settings.port + count - 1}"
    print(f"Crossdesk starting {count} workers on {settings.host}:{ports} (put the balancer in front: "
          f"deploy/nginx-crossdesk.conf)", flush=True)
    Supervisor(count, settings.port, dict(os.environ), model).run()

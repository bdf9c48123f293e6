"""``serve --workers N``: the supervisor's restarts and its refusal without Redis (fast, no model)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from handoff.workers import MAX_BACKOFF, MIN_BACKOFF, Supervisor
from tests.support import ROOT


def test_several_workers_without_redis_are_refused_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSDESK_")}
    result = subprocess.run([sys.executable, "-m", "handoff", "serve", "--workers", "2"], cwd=ROOT, timeout=120,
                            env={**env, "CROSSDESK_VAR_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode != 0 and "CROSSDESK_REDIS_URL" in result.stderr


def test_a_worker_that_dies_is_started_again_later_each_time_it_keeps_dying_at_once():
    supervisor = Supervisor(2, 7000, dict(os.environ), "model.tar.gz",
                            command=[sys.executable, "-c", "import os, sys; sys.exit(int(os.environ['CROSSDESK_PORT']) - 7000)"])
    for worker in supervisor.workers:
        supervisor.start(worker)
    pauses = []
    deadline = time.monotonic() + 30
    while len(pauses) < 3 and time.monotonic() < deadline:
        supervisor.check()
        crashing = supervisor.workers[1]  # exits with 1 at once (worker 0 exits with 0: also restarted)
        if crashing.restart_at is not None and (not pauses or pauses[-1] != crashing.backoff):
            pauses.append(crashing.backoff)
        time.sleep(0.05)
    supervisor.stop()
    assert pauses == [MIN_BACKOFF * 2, MIN_BACKOFF * 4, MIN_BACKOFF * 8][:len(pauses)] and len(pauses) == 3
    assert supervisor.workers[1].restarts >= 2 and supervisor.workers[1].env["CROSSDESK_PORT"] == "7001"
    assert MAX_BACKOFF >= MIN_BACKOFF * 8

"""Real Crossdesk server processes and the CLI calls tests and benchmarks make around them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from crossdesk.paths import ROOT


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m handoff serve`` on a free port with its own var dir."""

    def __init__(self, var_dir: Path, model_path: Path, env: Optional[dict] = None):
        self.var_dir = Path(var_dir)
        self.model_path = Path(model_path)
        self.extra_env = env or {}
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.var_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "ServerProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ, "RASA_TELEMETRY_ENABLED": "false", "CROSSDESK_PORT": str(self.port),
            "CROSSDESK_VAR_DIR": str(self.var_dir), "CROSSDESK_MODEL_PATH": str(self.model_path),
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:  # (the child has its own copy of the descriptor)
            self.process = subprocess.Popen([sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if b'"ok"' in response.read():
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server not healthy: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run (crash simulation)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def add_agent(var_dir: Path, name: str, password: str, languages: str = "en,ja", role: str = "agent") -> None:
    """Create an agent account (``role`` agent or admin) with the real CLI."""
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(var_dir)}
    subprocess.run([sys.executable, "-m", "handoff", "agents", "add", name, "--languages", languages,
                    "--display-name", name.title(), "--role", role], input=password + "\n", text=True, env=env,
                   cwd=ROOT, check=True, capture_output=True)


def login(url: str, username: str, password: str) -> tuple[int, dict]:
    """POST /api/login; returns (status, JSON body)."""
    request = urllib.request.Request(url + "/api/login", method="POST",
                                     data=json.dumps({"username": username, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def env() -> dict:
    """The environment for a server or Rasa process: telemetry off, quiet logs, this checkout importable."""
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}


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
    with open(work / "actions.log", "wb") as actions_log, open(work / "rasa.log", "wb") as rasa_log:
        actions = subprocess.Popen(
            [rasa, "run", "actions", "--actions", "actions.server", "--port", str(action_port)],
            cwd=ROOT, env=env(), stdout=actions_log, stderr=subprocess.STDOUT)
        server = subprocess.Popen(
            [rasa, "run", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1",
             "--credentials", str(work / "credentials.yml"), "--endpoints", str(work / "endpoints.yml")],
            cwd=ROOT, env=env(), stdout=rasa_log, stderr=subprocess.STDOUT)
    return [server, actions]


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate processes; kill those still running after 20 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()

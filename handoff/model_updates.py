"""Background training, the quality gate and the live model swap, for the studio's API.

A training job runs ``python -m bot train --gate --output ...`` in a child process
at a lower CPU priority (``nice``), so the server's loop and the bot thread keep
the shoppers' latency; the job follows the child's output (``stage: ...``, log
lines, ``gate: {json}``). A model that passes is loaded next to the live one in a
worker thread and then switched in between two messages (``BotEngine.swap``);
a rejected one is deleted and the live model stays. The live model's name is kept
in ``var/models/LIVE``, so it survives a restart, and every process serving from
that folder follows it (``watch_live_pointer``): ``python -m handoff models
activate NAME`` reaches running servers that way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from bot import training
from bot.engine import BotEngine
from handoff.settings import ROOT, Settings

logger = logging.getLogger(__name__)
NICENESS = 10  # the training child yields the CPU to the server (2 cores shared)
LOG_LINES = 400  # a job keeps its last lines
POINTER_POLL_SECONDS = 2.0
# One thread each for the training child's numerical libraries: OpenBLAS, OpenMP and TensorFlow
# otherwise start a thread per core, and the fit would take the core the server's loop needs.
SINGLE_THREADED = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                          "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}

QUEUED, TRAINING, CHECKING, SWAPPING, LIVE, REJECTED, FAILED = (
    "queued", "training", "checking", "swapping", "live", "rejected", "failed")
FINISHED = (LIVE, REJECTED, FAILED)


class TrainingRunning(Exception):
    """A training job is already running."""


class UnknownModel(LookupError):
    """No model of that name in ``var/models``."""


@dataclass
class TrainingJob:
    """One training, as the studio shows it (``GET /api/studio/training``)."""

    id: str
    state: str = QUEUED
    started_at: float = field(default_factory=time.time)
    finished_at: Optional[float] = None
    log: list = field(default_factory=list)
    gate: Optional[dict] = None
    model: Optional[str] = None

    def say(self, line: str) -> None:
        """Append a log line (the oldest go beyond ``LOG_LINES``)."""
        self.log.append(line)
        del self.log[:-LOG_LINES]

    def to_json(self) -> dict:
        """The API's JSON."""
        return asdict(self)


def model_name_ok(name: str) -> bool:
    """A model file name we made (no paths)."""
    return name.startswith(f"{training.MODEL_NAME}-") and name.endswith(".tar.gz") and "/" not in name \
        and "\\" not in name and ".." not in name


class ModelUpdates:
    """Trains, gates, swaps and rolls back the running server's model.

    Args:
        settings: ``models_dir``, ``content_path``, ``gate_margin``, ``models_keep``.
        bot: the running engine (``swap``).
        live: the model the engine was started with.
    """

    def __init__(self, settings: Settings, bot: BotEngine, live: Optional[Path]):
        self.settings = settings
        self.bot = bot
        self.live = Path(live) if live else None
        self.job: Optional[TrainingJob] = None
        self._task: Optional[asyncio.Task] = None
        self._swap_lock = asyncio.Lock()

    @property
    def models_dir(self) -> Path:
        return self.settings.models_dir

    # -- models ------------------------------------------------------------
    def models(self) -> list[dict]:
        """The kept models, newest first, with which one is live."""
        found = sorted(self.models_dir.glob(f"{training.MODEL_NAME}-*.tar.gz"), key=lambda p: p.stat().st_mtime,
                       reverse=True)
        if self.live is not None and self.live.exists() and self.live.resolve() not in {p.resolve() for p in found}:
            found.append(self.live)  # (started from a model outside var/models: CROSSDESK_MODEL_PATH)
        live = self.live.resolve() if self.live else None
        return [{"name": p.name, "created_at": p.stat().st_mtime, "live": p.resolve() == live} for p in found]

    async def activate(self, name: str) -> str:
        """Make a kept model live (rollback); the name."""
        path = self.models_dir / name
        if not model_name_ok(name) or not path.exists():
            raise UnknownModel(name)
        await self.swap_to(path)
        return name

    async def swap_to(self, path: Path) -> None:
        """Switch the engine to ``path`` and record it as live (for restarts and other processes)."""
        async with self._swap_lock:
            if self.live is None or self.live.resolve() != path.resolve():
                seconds = await self.bot.swap(str(path))
                logger.info("model %s live (loaded in %.1f s)", path.name, seconds)
            self.live = path
            if path.parent.resolve() == self.models_dir.resolve():
                training.set_live_model(self.models_dir, path)

    async def watch_live_pointer(self, interval: float = POINTER_POLL_SECONDS) -> None:
        """Follow ``var/models/LIVE`` written by another process (``python -m handoff models activate``)."""
        while True:
            await asyncio.sleep(interval)
            try:
                wanted = training.live_model(self.models_dir)
                if wanted is not None and not self._swap_lock.locked() and (
                        self.live is None or wanted.resolve() != self.live.resolve()):
                    logger.info("var/models/LIVE names %s: switching", wanted.name)
                    await self.swap_to(wanted)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad model must not stop the watcher; the old one stays live
                logger.exception("could not switch to the model named in var/models/LIVE")

    # -- training ------------------------------------------------------------
    def start_training(self) -> TrainingJob:
        """Start a job in the background (``TrainingRunning`` if one runs)."""
        if self.job is not None and self.job.state not in FINISHED:
            raise TrainingRunning()
        self.job = TrainingJob(id=uuid.uuid4().hex[:12])
        self._task = asyncio.get_running_loop().create_task(self._run(self.job))
        return self.job

    def _command(self, target: Path) -> list[str]:
        command = [sys.executable, "-m", "bot", "train", "--gate", "--output", str(target),
                   "--content-dir", str(self.settings.content_path), "--models-dir", str(self.models_dir),
                   "--gate-margin", str(self.settings.gate_margin)]
        if self.live is not None:
            command += ["--live", str(self.live)]
        return command

    async def _run(self, job: TrainingJob) -> None:
        # Named like ``python -m bot train`` names it, so a restart finds it up to date.
        target = training.model_path(self.models_dir, training.content_fingerprint(self.settings.content_path))
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            if target.exists():
                job.say(f"the content has not changed since {target.name} was trained")
                job.model = target.name
                job.state = SWAPPING
                await self.swap_to(target)
                job.state = LIVE
                return
            job.state = TRAINING
            code = await self._follow(job, self._command(target))
            if job.gate is None:
                job.state = FAILED
                job.say(f"training failed (exit code {code})")
            elif not job.gate.get("ok"):
                job.state = REJECTED
                job.say("rejected by the quality gate: the live model stays")
                target.unlink(missing_ok=True)
            else:
                job.state = SWAPPING
                job.model = target.name
                await self.swap_to(target)
                training.prune(self.models_dir, self.settings.models_keep, protect={target, self.live})
                job.state = LIVE
                job.say(f"{target.name} is live")
        except Exception as error:  # reported in the job; the old model stays live
            logger.exception("training job %s failed", job.id)
            job.state = FAILED
            job.say(f"failed: {error}")
            if job.model is None:
                target.unlink(missing_ok=True)
        finally:
            job.finished_at = time.time()

    async def _follow(self, job: TrainingJob, command: list[str]) -> int:
        """Run the child; stream its lines into the job; its exit code."""
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONUNBUFFERED": "1", **SINGLE_THREADED}
        child = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            preexec_fn=lambda: os.nice(NICENESS))
        job.say("training started")
        assert child.stdout is not None
        async for raw in child.stdout:
            self._read_line(job, raw.decode("utf-8", "replace").rstrip())
        return await child.wait()

    @staticmethod
    def _read_line(job: TrainingJob, line: str) -> None:
        if line.startswith("stage: "):
            job.state = line[len("stage: "):].strip() or job.state
        elif line.startswith("gate: "):
            job.gate = json.loads(line[len("gate: "):])
        elif line and not _noise(line):
            job.say(line)


def _noise(line: str) -> bool:
    """TensorFlow's and libraries' start-up chatter is not the content staff's business."""
    return any(mark in line for mark in ("tensorflow", "Warning", "warn(", "cuda", "AVX2", "rebuild TensorFlow",
                                         "TF-TRT", "setParseAction", "parseString", "resetCache", "Base: "))

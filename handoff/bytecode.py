"""The bytecode of the server's own modules, kept fresh so that a start reads it instead of compiling them.

Python reads a module's ``__pycache__/*.pyc`` whenever it matches the source, but writes one only when
``PYTHONDONTWRITEBYTECODE`` is unset. With it set (the Makefile exported it until session 11; container
images often do) every start compiled the ~120 modules of ``handoff``, ``bot``, ``crossdesk`` and
``actions`` from source: 0.4 s of CPU for all of them, 0.1-0.3 s of a ~3.5 s start (``import handoff.app``
0.86-1.21 s with bytecode, 1.05-1.53 s without, alternating runs). Once the bot answers, a child process
(on the other core, ~0.1 s of CPU when nothing changed) writes what is missing or stale with the standard
library's ``compileall``; the supervisor of ``serve --workers N`` does it before starting its workers. A
read-only checkout is left as it is (Python then compiles in memory, as before).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import Callable

from crossdesk.paths import ROOT

logger = logging.getLogger(__name__)

PACKAGES = ("handoff", "bot", "crossdesk", "actions")
DELAY_SECONDS = 5.0
"""How long after the model is loaded the refresh starts: out of the way of the first replies."""


def refresh_command(root: Path = ROOT) -> list[str]:
    """The command line that writes the packages' missing or stale bytecode."""
    return [sys.executable, "-m", "compileall", "-q", *(str(Path(root) / name) for name in PACKAGES)]


def refresh(root: Path = ROOT) -> bool:
    """Write the missing or stale bytecode now, in this process (a few ms per up-to-date file); True if it all compiled."""
    import compileall

    return all([compileall.compile_dir(str(Path(root) / name), quiet=2) for name in PACKAGES])


async def refresh_in_child(root: Path = ROOT) -> bool:
    """:func:`refresh` in a child process (the server's GIL stays with its shoppers); True if it all compiled."""
    process = await asyncio.create_subprocess_exec(*refresh_command(root), stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return await process.wait() == 0


def refresh_once_loaded(delay: float = DELAY_SECONDS, root: Path = ROOT) -> Callable:
    """A Sanic ``after_server_start`` listener: :func:`refresh_in_child` ``delay`` s after the bot is loaded."""

    async def listener(app, loop) -> None:
        async def refresh_later() -> None:
            try:
                await app.ctx.bot.wait_ready()
            except Exception:  # (a failed load is reported by the engine and /health)
                return
            await asyncio.sleep(delay)
            if not await refresh_in_child(root):
                logger.info("some bytecode under %s could not be written (read-only?): starts compile it", root)

        app.add_task(refresh_later())

    return listener

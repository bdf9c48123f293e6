"""Client libraries that Rasa 3.6.21 and python-socketio 5.8 import at start for features we never use.

- ``jwt`` (PyJWT, and with it ``cryptography.x509`` and the asymmetric key modules): ``rasa.core.channels.channel``
  imports it at the top for ``decode_jwt``, used only by Rasa's own HTTP server with a JWT secret.
- ``aio_pika`` (with ``aiormq`` and ``pamqp``): ``socketio/__init__`` imports ``AsyncAioPikaManager``, which
  imports it at the top; our processes share emits through Redis (``handoff/scaleout.py``), never RabbitMQ.
- ``aiormq`` (RabbitMQ too): ``rasa.core.brokers.broker`` imports it at the top for the error types of an
  event broker connection; we configure no event broker.

Both importers only use the module inside functions, so it is imported with ``importlib.util.LazyLoader``:
the name exists at once, the module runs on its first attribute use (same behaviour, later). Measured with
``python -X importtime`` on a loaded machine (load 4-7): ``import jwt`` 110-480 ms, ``import aio_pika`` 140-260 ms
alone; ``import handoff.app`` + ``rasa.core.agent`` as the server does: 2,051 -> 1,952 modules.

Imports nothing of Crossdesk; the libraries themselves are not imported here.
"""

from __future__ import annotations

import sys
from typing import Any

UNUSED_CLIENT_MODULES = frozenset({"jwt", "aio_pika", "aiormq"})


class LazyModulesFinder:
    """Import hook: the named top-level modules load with ``importlib.util.LazyLoader`` (run on first attribute use)."""

    def __init__(self, names: frozenset):
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.names:
            return None
        import importlib.machinery
        import importlib.util

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def install_lazy_modules(names: frozenset) -> bool:
    """Defer the modules ``names`` until first used (one finder per set, installed once); False if one of
    them is already imported."""
    if any(name in sys.modules for name in names):
        return False
    if not any(isinstance(finder, LazyModulesFinder) and finder.names == names for finder in sys.meta_path):
        sys.meta_path.insert(0, LazyModulesFinder(names))
    return True


def lazy_unused_clients(names: frozenset = UNUSED_CLIENT_MODULES) -> bool:
    """Defer :data:`UNUSED_CLIENT_MODULES` until first used (installed once); False if one is already imported.

    Call it before Sanic, python-socketio or Rasa are imported (``python -m handoff serve`` does).
    """
    return install_lazy_modules(names)

"""Shared fixtures: one trained model, real server processes, real sockets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossdesk.paths import MODELS_DIR
from harness.redis_server import REDIS, RedisServer
from tests.support import ServerProcess, Shopper

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

pytest_plugins = ["tests.services"]  # postgres_cluster, postgres_url: a real PostgreSQL server


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The model trained on the repository's data (trained once if stale)."""
    from bot.training import ensure_model

    return ensure_model(MODELS_DIR)


@pytest.fixture(scope="session")
def server(model_path, tmp_path_factory):
    """One server shared by the tests that don't restart it."""
    process = ServerProcess(tmp_path_factory.mktemp("var"), model_path).start()
    yield process
    process.stop()


@pytest.fixture
async def shopper(server):
    """A connected shopper with a fresh session."""
    client = Shopper(server.url)
    await client.connect()
    yield client
    await client.close()


@pytest.fixture(scope="module")
def engine(model_path):
    """The bot in-process (its own thread), for tests that parse messages without a server."""
    from bot.engine import BotEngine, build_agent

    bot = BotEngine(lambda: build_agent(str(model_path)))
    bot.start()
    yield bot
    bot.stop()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server of the test module's own (Debian's binary, a loopback port)."""
    if not os.access(REDIS, os.X_OK):
        pytest.skip("redis-server is not installed: run scripts/ensure-services")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()

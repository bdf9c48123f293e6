"""Real outside services for tests: pytest fixtures around ``harness/postgres.py``.

PostgreSQL: one throwaway cluster per test session (``initdb`` in a temp dir);
each test gets a fresh database in it. ``scripts/ensure-services`` installs the
binaries (Debian's ``postgresql``); without them the tests that need them skip.
"""

from __future__ import annotations

import os
import pwd
from typing import Iterator

import pytest

from harness.postgres import PostgresCluster, postgres_bin_dir


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the test session (skips when PostgreSQL is not installed)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/ensure-services")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """URL of a fresh, empty PostgreSQL database."""
    return postgres_cluster.create_database()

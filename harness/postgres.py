"""A throwaway PostgreSQL server for tests and benchmarks, started from installed binaries.

PostgreSQL: a throwaway cluster (``initdb`` in a temp dir, trust auth, a free
loopback port, its unix socket in the same dir), one per test session; each
test gets a fresh database in it. ``scripts/ensure-services`` installs the
binaries (Debian's ``postgresql``); without them the tests that need them skip.
"""

from __future__ import annotations

import glob
import re
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from harness.processes import free_port

_databases = itertools.count(1)


def postgres_bin_dir() -> Optional[Path]:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb`` and ``pg_ctl`` (or None)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for candidate in reversed(candidates):
        if all(os.access(Path(candidate) / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


class PostgresCluster:
    """A PostgreSQL server of our own in a temp dir; ``stop()`` removes it.

    initdb and postgres refuse to run as root, so as root they run as the
    ``postgres`` system user (created by the Debian package) in a dir it owns.
    """

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="crossdesk-pg-"))
        self.data = self.dir / "data"
        self._user: Optional[pwd.struct_passwd] = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        result = subprocess.run(command, cwd=self.dir, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}"
                               f"{self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.dir / "postgres.log"
        return ("\n" + log.read_text(errors="replace")[-2000:]) if log.exists() else ""

    def start(self) -> "PostgresCluster":
        """initdb, then start the server and wait until it accepts connections."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        self._start_server()
        return self

    def _start_server(self) -> None:
        # Throwaway data: no fsync (the cluster is deleted at the end).
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def restart(self) -> None:
        """Stop the server (fast: every client connection is cut) and start it again; the data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._start_server()

    def stop(self) -> None:
        """Fast shutdown, then delete the cluster."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database in this cluster (TCP on loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg2

        name = f"crossdesk_test_{os.getpid()}_{next(_databases)}"
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def execute_script(self, url: str, sql: str) -> None:
        """Run a SQL script (statements separated by ``;`` at line ends) in one transaction."""
        import psycopg2

        database = url.rsplit("/", 1)[1]
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


_LOGGED = re.compile(r"LOG:  statement: (.*)")
_PREPARED = re.compile(r"PREPARE (\w+) AS (.*)", re.S)
_EXECUTED = re.compile(r"EXECUTE (\w+)")


def logged_statements(lines: list[str], prepared: dict[str, str]) -> list[str]:
    """The statements in PostgreSQL's log lines (``log_statement = all``) as their first two words.

    An ``EXECUTE`` of a prepared statement counts as that statement (``prepared``: name -> its text,
    filled from the ``PREPARE`` lines, which are one-time setup per connection and left out), and a
    query of several statements counts as its first.
    """
    found = []
    for match in filter(None, map(_LOGGED.search, lines)):
        statement = match.group(1)
        preparing = _PREPARED.match(statement)
        if preparing:
            prepared[preparing.group(1)] = preparing.group(2)
            continue
        executing = _EXECUTED.match(statement)
        if executing and executing.group(1) in prepared:
            statement = prepared[executing.group(1)]
        found.append(" ".join(statement.split()[:2]))
    return found

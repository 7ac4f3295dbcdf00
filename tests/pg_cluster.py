"""A PostgreSQL server of the tests' own: initdb in a temporary directory, on a free port, for the tests that
kill connections, restart the server or fill its disk. The shared server at 127.0.0.1:5432 other test runs
use is never touched.

Uses the server binaries of the installed PostgreSQL (`pg_config --bindir`, else /usr/lib/postgresql/*/bin).
PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user (`runuser`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest


def _bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        try:
            candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                             check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One throw-away PostgreSQL server. `dsn(database)` for clients; `restart()`, `terminate(pid)`."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="api-sync-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale=C")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bindir / tool), *args], check=True, capture_output=True, text=True)

    def _ctl(self, *args: str) -> None:
        # fsync off: a test server; its data may go when the machine does.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w",
                  "-t", "60", *args)

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "restart")

    def dsn(self, database: str = "postgres", **options: str) -> str:
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
        if options:
            dsn += "?options=" + "%20".join(f"-c{k}%3D{v}" for k, v in options.items())
        return dsn

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def backends(self, database: str, application_name: str = "api_sync") -> list[dict]:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, state, wait_event_type, query FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s", (database, application_name)).fetchall()
        return [dict(zip(("pid", "state", "wait_event_type", "query"), r)) for r in rows]

    def terminate(self, pid: int) -> bool:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            return bool(conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])

    def wait_until(self, predicate, timeout: float = 30.0, interval: float = 0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError("the condition did not come true in time")

    def destroy(self) -> None:
        try:
            self._ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    """A PostgreSQL server of the module's own (initdb on a free port), removed after it."""
    server = PgCluster()
    try:
        yield server
    finally:
        server.destroy()

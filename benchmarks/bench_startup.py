"""Start-up: `python api_sync_cron.py --dry-run` with nothing due, next to `python -c pass` (issue 5, target 6).

The cron job starts every hour; a run with nothing to do must cost little more than the interpreter:
target <= 0.8 s above `python -c pass`. Measured on PostgreSQL (tables present, one integration not
due) and on the embedded SQLite store, in a scratch working directory (no `.env` there).
The project's modules are compiled to bytecode first, as the Docker image does at build and as Python
does itself at the first run of a checkout: a start compiling them from source (PYTHONDONTWRITEBYTECODE
set, nothing compiled) costs about 40 ms more on the reference machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sync.models import RunParams, ScheduleUpdate, SyncResult, WorkerId
from sync.store import open_store

from . import pg
from .common import figure, median, skipped

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "api_sync_cron.py"
ALLOWED_EXTRA = 0.8
WORKER = WorkerId("bench", 0, "00000000-0000-4000-8000-000000000000", 0)
# Variables of ours that must not leak from the benchmark's own environment into the child.
_OURS = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SQLITE_PATH")


def _time(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    if "--dry-run" in cmd and "0 integration(s) due" not in proc.stdout:
        raise RuntimeError(f"--dry-run found something due: {proc.stdout.strip()[:300]}")
    return seconds


def _prepare(settings: Any) -> None:
    """Tables present and one integration, due tomorrow (the common hourly case)."""
    pg.add_integrations(settings, 1)
    store = open_store(settings)
    try:
        integration = store.list_integrations()[0]
        now = datetime.now(timezone.utc)
        # Claim it and finish a successful attempt: the store itself schedules the next sync.
        store.claim_next(now, RunParams(force=True), WORKER, now + timedelta(minutes=5), [])
        result = SyncResult(run_id=str(uuid.uuid4()), credential_id=integration.credential_id,
                            client_id=integration.client_id, platform_type="shopify", triggered_by="manual",
                            started_at=now, finished_at=now, success=True)
        store.finish_attempt(result, ScheduleUpdate("connected", None, 0, now, now + timedelta(hours=24)), WORKER)
    finally:
        store.close()


def _measure(env_extra: dict[str, str], runs: int, scratch: str) -> tuple[float, float, float]:
    """Medians of (--dry-run, a real run with nothing due, python -c pass)."""
    env = {k: v for k, v in os.environ.items() if k not in _OURS and not k.startswith("SYNC_")}
    env.update({"LOG_DIR": os.path.join(scratch, "logs"), "CREDENTIALS_ENCRYPTION_KEY": pg.KEY, **env_extra})
    env.pop("PYTHONPATH", None)
    base, dry, real = [], [], []
    for _ in range(runs):  # interleaved, so that a noisy moment hits all three
        base.append(_time([sys.executable, "-c", "pass"], env, scratch))
        dry.append(_time([sys.executable, str(SCRIPT), "--dry-run"], env, scratch))
        real.append(_time([sys.executable, str(SCRIPT)], env, scratch))
    return median(dry), median(real), median(base)


def _figures(store: str, dry: float, real: float, base: float) -> list[dict[str, Any]]:
    return [
        figure(f"cron --dry-run, nothing due ({store})", dry, "s", "python -c pass", base,
               f"<= baseline + {ALLOWED_EXTRA} s", dry - base <= ALLOWED_EXTRA, extra_seconds=round(dry - base, 3)),
        figure(f"cron run, nothing due ({store})", real, "s", "python -c pass", base, "reported (the hourly case)",
               True, extra_seconds=round(real - base, 3)),
    ]


def _compile_project() -> None:
    """The modules a start imports, compiled as the Dockerfile's compileall step does."""
    done = subprocess.run([sys.executable, "-m", "compileall", "-q", "sync", str(SCRIPT.name)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"compileall failed: {(done.stdout + done.stderr).strip()[-400:]}")


def run(quick: bool) -> list[dict[str, Any]]:
    runs = 3 if quick else 7
    _compile_project()
    out = []
    scratch = tempfile.mkdtemp(prefix="api_sync_bench_start_")
    try:
        if pg.pg_available():
            with pg.fresh_schema() as dsn:
                _prepare(pg.settings_for(dsn))
                out += _figures("PostgreSQL", *_measure({"DATABASE_URL": dsn}, runs, scratch))
        else:
            out.append(skipped("cron --dry-run (PostgreSQL)", f"PostgreSQL not reachable at {pg.PG_DSN}"))
        path = os.path.join(scratch, "api_sync.db")
        _prepare(pg.settings_for(sqlite_path=path))
        out += _figures("SQLite", *_measure({"SQLITE_PATH": path}, runs, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out

"""Amazon pacing (issue 5, item 7): a full sync's elapsed time next to the least its usage plans allow.

A seller with N orders (1-3 items each), 300 listings and FBA inventory is synced through `SyncEngine`
(PostgreSQL when reachable, else SQLite) by the real sp_api client, against the local emulator with the
documented rates x60 (bursts as documented). The baseline is computed from the calls the emulator served:
for each operation, (calls - burst) / (rate x 60), and the largest of those (independent buckets could
all drain at once, so no sync of the same calls can be faster). Target: elapsed <= 1.1 x that minimum,
with no call failing on QuotaExceeded. The emulator's report processing time is set near zero so the
figure measures pacing, not the simulated report queue; and the sp_api package is imported before the
clock starts (a once-per-process cost of ~0.2 s, not pacing).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

from emulators.amazon import USAGE_PLANS, AmazonEmulator
from sync.credentials import add_integration
from sync.engine import SyncEngine
from sync.models import RunParams
from sync.store import open_store

from . import pg
from .common import figure

TIME_SCALE = 60.0
TARGET = 1.1


def minimum_seconds(calls: dict[str, int], time_scale: float) -> tuple[float, str]:
    """The least time the usage plans allow for these calls, and the operation that sets it."""
    best, which = 0.0, ""
    for operation, count in calls.items():
        plan = USAGE_PLANS.get(operation)
        if plan is None:
            continue
        seconds = max(0, count - plan.burst) / (plan.rate * time_scale)
        if seconds > best:
            best, which = seconds, operation
    return best, which


def _sync_once(orders: int, dsn: str | None, workdir: str) -> dict[str, Any]:
    with AmazonEmulator(time_scale=TIME_SCALE, report_processing_seconds=0.02) as emu:
        emu.add_seller("bench-refresh-token", orders=orders, listings=300)
        env = {"AMAZON_SP_API_BASE_URL": emu.sp_api_base_url, "AMAZON_LWA_TOKEN_URL": emu.lwa_token_url,
               "AMAZON_REPORT_POLL_SECONDS": "0.02", "AMAZON_REPORT_POLL_MAX_SECONDS": "0.05",
               "AMAZON_RETRY_BASE_SECONDS": "0.05"}
        settings = (pg.settings_for(dsn, **env) if dsn
                    else pg.settings_for(sqlite_path=os.path.join(workdir, f"{uuid.uuid4().hex}.db"), **env))
        store = open_store(settings)
        try:
            store.ensure_schema()
            add_integration(store, settings, client_id=str(uuid.uuid4()), platform="amazon", name="bench",
                            secrets=emu.demo_secrets())
        finally:
            store.close()
        engine = SyncEngine(settings)
        start = time.perf_counter()
        summary = engine.run(RunParams(force=True, triggered_by="manual"), workers=1)
        elapsed = time.perf_counter() - start
        result = summary.results[0]
        expected = emu.counts("bench-refresh-token")
        got = {k: result.streams[k].new for k in expected}
        if not result.success or got != expected:
            raise RuntimeError(f"benchmark sync went wrong: {result.error_message or got} (expected {expected})")
        return {"elapsed": elapsed, "calls": dict(emu.counters.calls),
                "throttled": sum(emu.counters.throttled.values())}


def run(quick: bool) -> list[dict[str, Any]]:
    import sync.platforms.amazon.connection  # noqa: F401  (see the module docstring)

    orders = 300 if quick else 1000
    with tempfile.TemporaryDirectory() as workdir:
        if pg.pg_available():
            with pg.fresh_schema() as dsn:
                out = _sync_once(orders, dsn, workdir)
            store = "postgres"
        else:
            out = _sync_once(orders, None, workdir)
            store = "sqlite"
    minimum, operation = minimum_seconds(out["calls"], TIME_SCALE)
    ratio = out["elapsed"] / minimum if minimum else float("nan")
    return [figure(f"amazon_sync_pacing_{orders}_orders", out["elapsed"], "s",
                   f"least time the usage plans x{TIME_SCALE:g} allow ({operation})", minimum,
                   f"<= {TARGET} x baseline, no QuotaExceeded failure", ratio <= TARGET, ratio=ratio,
                   store=store, throttled_answers=out["throttled"], calls=out["calls"])]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

"""Parallel integrations: 200 due integrations, platform answers after 100 ms per page (issue 5, target 5).

Each integration serves 3 pages (of PAGE_RECORDS generated orders) with a 100 ms answer time; with
SYNC_MAX_WORKERS=16 the ideal wall time is ceil(200 / 16) rounds x 3 pages x 100 ms = 3.9 s. The
figure is the steady state of an hourly run (the clients' data tables exist: a first run that also
creates them is reported beside it), measured from `SyncEngine.run` start to end.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sync.engine import SyncEngine
from sync.models import RunParams
from sync.platforms import PlatformRegistry

from . import pg
from .common import figure, median, repeats, skipped
from .platform import BenchPlatform, BenchShop, build

INTEGRATIONS = 200
WORKERS = 16
PAGES = 3
PAGE_DELAY = 0.1
PAGE_RECORDS = 20


def ideal_seconds() -> float:
    return math.ceil(INTEGRATIONS / WORKERS) * PAGES * PAGE_DELAY


def _one_run(engine: SyncEngine) -> float:
    start = time.perf_counter()
    summary = engine.run(RunParams(force=True, triggered_by="manual"))
    seconds = time.perf_counter() - start
    if summary.synced != INTEGRATIONS:
        failures = {r.error_message for r in summary.results if not r.success}
        raise RuntimeError(f"parallel benchmark: {summary.synced}/{INTEGRATIONS} synced: {failures}")
    return seconds


def run(quick: bool) -> list[dict[str, Any]]:
    if not pg.pg_available():
        return [skipped("parallel integrations", f"PostgreSQL not reachable at {pg.PG_DSN}")]
    records = build(PAGES * PAGE_RECORDS)
    platform = BenchPlatform(lambda secrets: BenchShop(records, page_size=PAGE_RECORDS, page_delay=PAGE_DELAY))
    first_runs, steady_runs = [], []
    for _ in range(repeats(quick)):
        with pg.fresh_schema() as dsn:
            settings = pg.settings_for(dsn, SYNC_MAX_WORKERS=str(WORKERS))
            pg.add_integrations(settings, INTEGRATIONS)
            engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": platform}))
            first_runs.append(_one_run(engine))
            steady_runs.append(_one_run(engine))
    ideal = ideal_seconds()
    steady, first = median(steady_runs), median(first_runs)
    label = f"{INTEGRATIONS} integrations x {PAGES} pages at {PAGE_DELAY * 1000:.0f} ms, {WORKERS} workers"
    return [
        figure(f"{label}: wall time", steady, "s", "ideal wall time", ideal, "<= 1.3 x ideal", steady <= 1.3 * ideal),
        figure(f"{label}: first run (creates 200 data tables)", first, "s", "ideal wall time", ideal, "reported",
               True),
    ]

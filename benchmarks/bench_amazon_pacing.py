"""Amazon orders on the Orders API v2026-01-01, next to the least time the v0 Orders API's limits allow.

A seller is synced through `SyncEngine` (PostgreSQL when reachable, else SQLite) by the real sp_api client,
against the local emulator with the documented usage plans x`time_scale` (bursts as documented; the v0
Orders API answers as removed, as it will from 2027-03-27). The figure is the orders data type's time:
from the integration's start (its connection test included) to the commit of its last orders page.

Least times are computed in the same run, from the usage plans and the emulator's time scale, for the same
work: N orders need ceil(N/100) searchOrders pages with v2026-01-01, and ceil(N/100) getOrders pages plus
one getOrderItems call per order with v0. For each operation the calls beyond its burst take
(calls - burst) / (rate x time_scale); independent buckets may drain at once, so the largest of those is
the least time (0 when everything fits in the bursts).

- incremental: 300 new and 100 changed orders after an earlier sync (buckets full again, as an hour later).
  Target: <= 1/20 of the v0 least time. Median of 3 rounds (1 in quick mode).
- first sync: 5,000 orders placed over two years. Target: <= 1.1 x the v2026 least time (50 pages, 30 past
  the burst: 89 s at x60), stated next to v0's (5,000 getOrderItems calls: 166 s at x60).
"""

from __future__ import annotations

import math
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
from .common import figure, median

REFRESH_TOKEN = "bench-refresh-token"
PAGE = 100  # maxResultsPerPage, both API versions


def least_seconds(calls: dict[str, int], time_scale: float) -> tuple[float, str]:
    """The least time the usage plans allow for these calls, and the operation that sets it."""
    best, which = 0.0, ""
    for operation, count in calls.items():
        plan = USAGE_PLANS[operation]
        seconds = max(0, count - plan.burst) / (plan.rate * time_scale)
        if seconds > best or not which:
            best, which = seconds, operation
    return best, which


def v2026_calls(orders: int) -> dict[str, int]:
    return {"searchOrders": math.ceil(orders / PAGE)}


def v0_calls(orders: int) -> dict[str, int]:
    return {"v0.getOrders": math.ceil(orders / PAGE), "v0.getOrderItems": orders}


class OrdersClock:
    """Progress hooks: when the integration started, when its last orders page was committed."""

    def __init__(self) -> None:
        self.started = self.last_orders_page = 0.0

    def integration_started(self, integration: Any) -> None:
        self.started = time.perf_counter()

    def page_stored(self, integration: Any, data_type: str, counts: Any) -> None:
        if data_type == "orders":
            self.last_orders_page = time.perf_counter()

    def integration_finished(self, integration: Any, result: Any) -> None:
        pass

    @property
    def seconds(self) -> float:
        return self.last_orders_page - self.started


class Bench:
    def __init__(self, emu: AmazonEmulator, dsn: str | None, workdir: str):
        env = {"AMAZON_SP_API_BASE_URL": emu.sp_api_base_url, "AMAZON_LWA_TOKEN_URL": emu.lwa_token_url,
               "AMAZON_REPORT_POLL_SECONDS": "0.02", "AMAZON_REPORT_POLL_MAX_SECONDS": "0.05",
               "AMAZON_RETRY_BASE_SECONDS": "0.05", "SYNC_LOOKBACK_MINUTES": "10"}  # the default lookback
        self.emu = emu
        self.settings = (pg.settings_for(dsn, **env) if dsn
                         else pg.settings_for(sqlite_path=os.path.join(workdir, f"{uuid.uuid4().hex}.db"), **env))
        store = open_store(self.settings)
        try:
            store.ensure_schema()
            add_integration(store, self.settings, client_id=str(uuid.uuid4()), platform="amazon", name="bench",
                            secrets=emu.demo_secrets(REFRESH_TOKEN))
        finally:
            store.close()

    def sync(self, expect_new: int, expect_updated: int) -> float:
        """One forced sync from fresh rate-limit buckets; the orders data type's seconds."""
        self.emu.reset_rate_limits()
        self.emu.reset_counters()
        clock = OrdersClock()
        summary = SyncEngine(self.settings, progress=clock).run(RunParams(force=True, triggered_by="manual"),
                                                                workers=1)
        result = summary.results[0]
        orders = result.streams.get("orders")
        got = (orders.new, orders.updated) if orders else None
        if not result.success or got != (expect_new, expect_updated):
            raise RuntimeError(f"benchmark sync went wrong: {result.error_message or got} "
                               f"(expected {(expect_new, expect_updated)})")
        if self.emu.counters.v0_orders() or self.emu.counters.throttled.get("searchOrders"):
            raise RuntimeError(f"benchmark sync called v0 or was throttled: {self.emu.counters.as_dict()}")
        return clock.seconds


def _store(workdir: str):
    """A PostgreSQL schema when reachable, else None (SQLite in workdir)."""
    if pg.pg_available():
        return pg.fresh_schema(), "postgres"
    import contextlib

    return contextlib.nullcontext(None), "sqlite"


def incremental(quick: bool, time_scale: float, workdir: str) -> dict[str, Any]:
    new, changed = 300, 100
    seconds = []
    for _ in range(1 if quick else 3):  # each round a seller of its own: the lookback would overlap rounds
        context, store = _store(workdir)
        with context as dsn, AmazonEmulator(time_scale=time_scale, report_processing_seconds=0.02) as emu:
            emu.add_seller(REFRESH_TOKEN, orders=1000, listings=20)
            bench = Bench(emu, dsn, workdir)
            bench.sync(1000, 0)  # the earlier sync
            emu.change_orders(REFRESH_TOKEN, changed)
            emu.add_orders(REFRESH_TOKEN, new)
            seconds.append(bench.sync(new, changed))
            calls = emu.counters.calls.get("searchOrders", 0)
    work = new + changed
    v0, v0_op = least_seconds(v0_calls(work), time_scale)
    v2026, _ = least_seconds(v2026_calls(work), time_scale)
    value = median(seconds)
    ratio = value / v0
    return figure(f"amazon_orders_incremental_{new}_new_{changed}_changed", value, "s",
                  f"least time the v0 limits x{time_scale:g} allow ({v0_op})", v0, "<= 1/20 of the v0 least time",
                  ratio <= 1 / 20, ratio=ratio, store=store, v2026_least_seconds=round(v2026, 3),
                  search_orders_calls=calls, rounds=[round(s, 3) for s in seconds])


def first_sync(quick: bool, time_scale: float, workdir: str) -> dict[str, Any]:
    orders = 5000
    context, store = _store(workdir)
    with context as dsn, AmazonEmulator(time_scale=time_scale, report_processing_seconds=0.02) as emu:
        emu.add_seller(REFRESH_TOKEN, orders=orders, order_days=729, listings=20)
        bench = Bench(emu, dsn, workdir)
        value = bench.sync(orders, 0)
        calls = emu.counters.calls.get("searchOrders", 0)
    least, op = least_seconds(v2026_calls(orders), time_scale)
    v0, v0_op = least_seconds(v0_calls(orders), time_scale)
    ratio = value / least
    return figure(f"amazon_orders_first_sync_{orders}_over_2_years", value, "s",
                  f"least time the v2026 limits x{time_scale:g} allow ({op})", least, "<= 1.1 x the v2026 least time",
                  ratio <= 1.1, ratio=ratio, store=store, v0_least_seconds=round(v0, 3), v0_least_operation=v0_op,
                  ratio_to_v0_least=round(value / v0, 3), search_orders_calls=calls)


def run(quick: bool) -> list[dict[str, Any]]:
    import sync.platforms.amazon.connection  # noqa: F401  (sp_api's import, ~0.2 s once, before any clock)

    # Quick mode scales the first sync's 89 s of pacing down to 9 s; both least times use the same scale.
    with tempfile.TemporaryDirectory() as workdir:
        return [incremental(quick, 60.0, workdir), first_sync(quick, 600.0 if quick else 60.0, workdir)]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

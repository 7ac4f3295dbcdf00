"""Shopify bulk exports: five at once against one after another, and the memory of a large bulk sync.

1. Concurrency (issue 9): a first sync of a shop with 20,000 orders, 2,000 products, 5,000 customers and
   3 locations, through the real engine, fetcher and store (PostgreSQL), against the emulator over HTTP.
   The emulator models an export's duration as a start-up plus its objects at a rate (`set_bulk_timing`;
   below its own generation speed, so the model and not the emulator's CPU sets the pace). Measured with
   the exports started together (`SHOPIFY_BULK_CONCURRENCY=5`, the default) and, as the baseline in the
   same run, one after another (`=1`). Target: wall time <= 0.5 x the baseline; the emulator's operation
   log must show the exports overlapping, and the rows stored must equal the emulator's.
2. Memory (issue 9): peak RSS of a first (bulk) sync of 200,000 orders, ungrouped output (children
   shuffled), against the same sync of 50,000: <= 200 MB and <= 1.2 x. The result files are spooled to
   disk, never held.

Each sync runs in a process of its own (`python -m benchmarks.bench_shopify_bulk --child ...`): its
peak RSS is its own, and the emulator's threads (in this process) do not share its interpreter lock.

    python -m benchmarks --only shopify_bulk [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import pg
from .common import figure, median, skipped

ROOT = Path(__file__).resolve().parents[1]
DOMAIN, TOKEN = "bulk-bench.myshopify.com", "shpat_bulk_bench"
DATA_TYPES = ("orders", "products", "customers", "inventory")
RATIO_TARGET = 0.5
RSS_LIMIT_MB = 200.0


# --- the measured process --------------------------------------------------------------------------------
def child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", default="5")
    args = parser.parse_args(argv)

    import psycopg

    from sync.engine import SyncEngine
    from sync.ids import data_table
    from sync.models import RunParams

    from .memsync import _peak_mb

    settings = pg.settings_for(args.dsn, SHOPIFY_BASE_URL=args.base_url, SHOPIFY_BULK_CONCURRENCY=args.concurrency,
                               SHOPIFY_BULK_POLL_SECONDS="0.2")
    ((client_id, _),) = pg.add_integrations(settings, 1, shop_domain=DOMAIN, access_token=TOKEN)
    before = _peak_mb()
    start = time.perf_counter()
    summary = SyncEngine(settings).run(RunParams(force=True, triggered_by="manual"), workers=1)
    seconds = time.perf_counter() - start
    result = summary.results[0]
    with psycopg.connect(args.dsn) as conn:
        rows = dict(conn.execute(f'SELECT data_type, count(DISTINCT external_id) FROM "{data_table(client_id)}" '
                                 "GROUP BY data_type").fetchall())
    print(json.dumps({"seconds": seconds, "success": result.success, "error": result.error_message,
                      "rows": rows, "peak_rss_mb": _peak_mb(), "rss_before_mb": before}))
    return 0


def _sync(emu, concurrency: int) -> dict[str, Any]:
    with pg.fresh_schema() as dsn:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_shopify_bulk", "--child", "--dsn", dsn,
                               "--base-url", emu.base_url, "--concurrency", str(concurrency)],
                              cwd=ROOT, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"bulk benchmark child failed: {proc.stderr.strip()[-800:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if not report["success"]:
        raise RuntimeError(f"bulk benchmark sync failed: {report['error']}")
    return report


def _shop(emu, orders: int, products: int, customers: int, locations: int):
    return emu.add_shop(DOMAIN, TOKEN, orders=orders, products=products, customers=customers, locations=locations,
                        seed=21)


# --- 1. five exports at once ---------------------------------------------------------------------------
def concurrency(quick: bool) -> list[dict[str, Any]]:
    from emulators.shopify import ShopifyEmulator
    from emulators.shopify.bulk import overlapping

    size = (5_000, 500, 1_250, 3) if quick else (20_000, 2_000, 5_000, 3)
    # A start-up, then objects at a rate: below the emulator's own generation speed (about 10,000 objects/s
    # on the reference machine), so the model, not the emulator's CPU, sets each export's duration.
    start_up, rate = (1.0, 2_500.0) if quick else (3.0, 2_500.0)
    ratios, fast, slow, peaks, rows_ok = [], [], [], [], True
    with ShopifyEmulator(restore_rate=1e9, bucket_size=1e9) as emu:
        shop = _shop(emu, *size)
        emu.set_bulk_timing(DOMAIN, seconds=start_up, objects_per_second=rate)
        expected = shop.counts()
        for _ in range(1 if quick else 2):
            runs = {}
            for concurrency_ in (5, 1):
                logged = len(emu.bulk_log(DOMAIN))
                report = _sync(emu, concurrency_)
                log = emu.bulk_log(DOMAIN)[logged:]
                runs[concurrency_] = (report, log)
                rows_ok &= all(report["rows"].get(t) == expected[t] for t in DATA_TYPES)
            (together, log5), (serial, log1) = runs[5], runs[1]
            fast.append(together["seconds"])
            slow.append(serial["seconds"])
            ratios.append(together["seconds"] / serial["seconds"])
            peaks.append((overlapping(log5), overlapping(log1)))
    ratio = median(ratios)
    objects = sum(e.object_count for e in log5)
    label = f"{size[0]:,} orders, {size[1]:,} products, {size[2]:,} customers, {size[3]} locations"
    return [
        figure(f"shopify first sync by bulk, exports together: wall time ({label})", median(fast), "s",
               "the same sync, exports one after another", median(slow),
               f"<= {RATIO_TARGET} x baseline, exports overlapping, rows = the emulator's",
               ratio <= RATIO_TARGET and rows_ok and all(p[0] >= 4 for p in peaks), ratio=ratio,
               detail={"operations_at_once": peaks[-1][0], "baseline_operations_at_once": peaks[-1][1],
                       "export_objects": objects, "time_model": f"{start_up:g} s + objects / {rate:g} per s",
                       "rows_equal_emulator": rows_ok, "ratios": [round(r, 3) for r in ratios]}),
    ]


# --- 2. memory of a large bulk sync ---------------------------------------------------------------------
def memory(quick: bool) -> list[dict[str, Any]]:
    from emulators.shopify import ShopifyEmulator

    small, large = (10_000, 40_000) if quick else (50_000, 200_000)
    peaks: dict[int, float] = {}
    seconds: dict[int, float] = {}
    for orders in (small, large):
        with ShopifyEmulator(restore_rate=1e9, bucket_size=1e9) as emu:
            shop = _shop(emu, orders, 50, 50, 1)
            shop.bulk_shuffle_window = 5_000  # ungrouped: children shuffled, some before their parent
            report = _sync(emu, 5)
            if report["rows"].get("orders") != orders:
                raise RuntimeError(f"the memory benchmark stored {report['rows'].get('orders')} of {orders} orders")
            peaks[orders], seconds[orders] = report["peak_rss_mb"], report["seconds"]
    big, base = peaks[large], peaks[small]
    return [
        figure(f"peak RSS, shopify bulk sync of {large:,} orders (ungrouped)", big, "MB",
               f"peak RSS, the same sync of {small:,} orders", base,
               f"<= {RSS_LIMIT_MB:.0f} MB and <= 1.2 x", big <= RSS_LIMIT_MB and big <= 1.2 * base,
               detail={"seconds": round(seconds[large], 1), "baseline_seconds": round(seconds[small], 1)}),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    if not pg.pg_available():
        return [skipped("shopify bulk benchmarks", f"PostgreSQL not reachable at {pg.PG_DSN}")]
    return concurrency(quick) + memory(quick)


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.exit(child([a for a in sys.argv[1:] if a != "--child"]))
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

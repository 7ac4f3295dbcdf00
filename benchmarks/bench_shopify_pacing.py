"""Shopify cost pacing: points used per second against the shop's restore rate, over a long paged sync.

The fetcher reads `extensions.cost.throttleStatus` on every answer and waits for exactly the points the
next request needs; a good pacer keeps the bucket busy at the restore rate without ever failing on
`THROTTLED`. Measured against the emulator's leaky bucket (Shopify's documented algorithm), from the
moment the initial full bucket has been spent (so the free burst at the start does not flatter it).

Quick mode scales the bucket (1,000 points/s, 1,000-point bucket) so that many throttle cycles fit in a
few seconds; full mode adds the Standard plan's real figures (100 points/s, 2,000-point bucket).

    python -c "import benchmarks.bench_shopify_pacing as b; print(b.run(quick=True))"
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from emulators.shopify import ShopifyEmulator
from sync.config import Settings
from sync.models import Cursor, StreamRequest
from sync.platforms.shopify import ShopifyPlatform

TARGET = 0.90
DOMAIN, TOKEN = "pacing-bench.myshopify.com", "shpat_pacing_bench"


def _steady_rate(samples) -> tuple[float, float]:
    """Points used per second once the pacer is bound by the bucket; and that window's span.

    The window opens at the request after the first one that left the bucket short of a page: from
    there every request had to wait for restored points, and the bucket level at both ends of the
    window is the same small remainder, so the figure is neither flattered by the initial full bucket
    nor penalised by it.
    """
    start = next((i for i, s in enumerate(samples) if s.available_after < s.requested), None)
    if start is None or len(samples) - start < 4:
        return 0.0, 0.0
    window = samples[start + 1:]
    span = window[-1].at - window[0].at
    if span <= 0:
        return 0.0, 0.0
    # Points spent in the window, less what the bucket held more at its start than at its end: what is
    # left is what the restore rate supplied and the sync used (restored points are lost only while the
    # bucket sits full, which is what a slow or over-cautious client lets happen).
    used = sum(s.actual for s in window[1:]) - (window[0].available_after - window[-1].available_after)
    return used / span, span


def _raw_rate(samples) -> float:
    """Points spent per second over the whole sync, the initial full bucket excluded."""
    if len(samples) < 2:
        return 0.0
    span = samples[-1].at - samples[0].at
    first_bucket = samples[0].available_after + samples[0].actual
    spent = sum(s.actual for s in samples) - (first_bucket - samples[-1].available_after)
    return spent / span if span > 0 else 0.0


def measure(label: str, *, restore_rate: float, bucket_size: float, orders: int, products: int,
            customers: int) -> list[dict[str, Any]]:
    with ShopifyEmulator(restore_rate=restore_rate, bucket_size=bucket_size) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=orders, products=products, customers=customers, locations=2, seed=11)
        settings = Settings.from_env({"SHOPIFY_BASE_URL": emu.base_url, "SHOPIFY_BULK": "off"}, load_dotenv=False)
        conn = ShopifyPlatform().connect({"shop_domain": DOMAIN, "access_token": TOKEN}, settings)
        started = time.monotonic()
        failures = 0
        records = 0
        for data_type in ("orders", "products", "customers", "inventory"):
            request = StreamRequest(data_type, Cursor(lookback=timedelta(minutes=10)), datetime.now(timezone.utc),
                                    lambda ids: {})
            try:
                for page in conn.fetch(request):
                    records += len(page.records)
            except Exception:
                failures += 1
        elapsed = time.monotonic() - started
        conn.close()
        rate, span = _steady_rate(shop.stats.costs)
        raw = _raw_rate(shop.stats.costs)
        throttled = shop.stats.throttled
    ratio = rate / restore_rate
    return [
        {"name": f"shopify_points_per_second_{label}", "value": round(rate, 2), "unit": "points/s",
         "baseline_name": "restore rate", "baseline": restore_rate, "ratio": round(ratio, 4),
         "target": f">= {TARGET:.0%} of the restore rate", "ok": ratio >= TARGET and failures == 0,
         "detail": {"records": records, "elapsed_s": round(elapsed, 1), "window_s": round(span, 1),
                    "throttled_answers": throttled, "bucket": bucket_size,
                    "whole_sync_points_per_second": round(raw, 2)}},
        {"name": f"shopify_syncs_failed_by_throttling_{label}", "value": float(failures), "unit": "data types",
         "baseline_name": "data types synced", "baseline": 4.0, "ratio": failures / 4.0,
         "target": "0 (a THROTTLED answer never fails a sync)", "ok": failures == 0},
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    results = measure("scaled_1000ps", restore_rate=1000.0, bucket_size=1000.0, orders=500, products=60,
                      customers=300)
    if not quick:
        results += measure("standard_100ps", restore_rate=100.0, bucket_size=2000.0, orders=220, products=30,
                           customers=120)
    return results


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

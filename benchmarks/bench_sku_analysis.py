"""SKU analysis: time and memory of rebuilding one client's SKU cache, next to reading its rows alone.

A client with N Shopify orders (1-3 lines over 2,000 SKUs, placed over 120 days) plus inventory levels is
written through the store's own page transactions (SQLite; PostgreSQL too when reachable). Figures:
- seconds of `run_analysis` (read, aggregate, rebuild the cache in one transaction), next to the seconds
  of reading the same rows through `store.iter_data` and decoding them, with no aggregation. Target: at
  most 4x the read alone (measured here: 2-3x; the per-line work is plain Python on decoded JSON, so the
  analysis stays within a small factor of what merely reading the client's data costs).
- peak Python memory (tracemalloc) of the analysis, next to the peak of the naive way: loading the
  client's rows into one list first. Target: at most 0.2x (the analysis streams; memory follows SKUs).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sync.dedup import stage
from sync.models import Record, WorkerId
from sync.sku.job import DATA_TYPES, run_analysis
from sync.store import open_store

from . import pg
from .common import figure, median, repeats

WORKER = WorkerId("bench", 0, "00000000-0000-4000-8000-000000000000", 0)

SKUS = 2000
READ_TARGET = 4.0
MEMORY_TARGET = 0.2


def _order(i: int, now: datetime, rng: random.Random) -> tuple[str, dict[str, Any]]:
    placed = now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60))
    stamp = placed.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for n in range(rng.randint(1, 3)):
        qty = rng.randint(1, 4)
        lines.append({"id": f"gid://shopify/LineItem/{i}{n}", "name": "Item", "sku": f"SKU-{rng.randrange(SKUS)}",
                      "quantity": qty, "currentQuantity": qty, "variant": {"id": "gid://shopify/ProductVariant/1"},
                      "originalUnitPriceSet": {"shopMoney": {"amount": "12.50", "currencyCode": "USD"}},
                      "discountedTotalSet": {"shopMoney": {"amount": f"{12.5 * qty:.2f}", "currencyCode": "USD"}}})
    gid = f"gid://shopify/Order/{i}"
    return gid, {"id": gid, "name": f"#{i}", "createdAt": stamp, "updatedAt": stamp, "processedAt": stamp,
                 "cancelledAt": None if rng.random() > 0.03 else stamp, "currencyCode": "USD", "test": False,
                 "displayFinancialStatus": "PAID", "tags": [], "customer": {"id": "gid://shopify/Customer/1"},
                 "totalPriceSet": {"shopMoney": {"amount": "50.00", "currencyCode": "USD"}}, "lineItems": lines}


def _level(sku: int) -> tuple[str, dict[str, Any]]:
    level = f"gid://shopify/InventoryLevel/{sku}?inventory_item_id={sku}&location_id=1"
    return level, {"id": level, "updatedAt": "2026-01-01T00:00:00Z",
                   "item": {"id": f"gid://shopify/InventoryItem/{sku}", "sku": f"SKU-{sku}"},
                   "quantities": [{"name": "available", "quantity": sku % 90}],
                   "location": {"id": "gid://shopify/Location/1", "name": "Main", "isActive": True}}


def _load(settings, client: str, orders: int) -> None:
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    credential = str(uuid.uuid4())
    store = open_store(settings)
    try:
        store.ensure_schema()
        store.ensure_data_table(client)
        batches = [("orders", [_order(i, now, rng) for i in range(start, min(orders, start + 1000))])
                   for start in range(0, orders, 1000)]
        batches.append(("inventory", [_level(s) for s in range(SKUS)]))
        for data_type, records in batches:
            staged = stage(Record(external_id=i, data=d) for i, d in records).rows
            with store.page_transaction(client, credential, "shopify", data_type, WORKER) as tx:
                tx.write(list(staged.values()), [], now)
    finally:
        store.close()


def _read_only(settings, client: str) -> int:
    store = open_store(settings)
    try:
        return sum(1 for _ in store.iter_data(client, DATA_TYPES))
    finally:
        store.close()


def _read_all_into_memory(settings, client: str) -> list:
    store = open_store(settings)
    try:
        return list(store.iter_data(client, DATA_TYPES))
    finally:
        store.close()


def _analyse(settings, client: str) -> None:
    summary = run_analysis(settings, client_id=client)
    assert summary.exit_code == 0, summary.as_json()


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _measure(kind: str, settings, orders: int, quick: bool) -> list[dict[str, Any]]:
    client = str(uuid.uuid4())
    _load(settings, client, orders)
    analysis, reads = [], []
    for _ in range(repeats(quick)):
        start = time.perf_counter()
        _read_only(settings, client)
        reads.append(time.perf_counter() - start)
        start = time.perf_counter()
        _analyse(settings, client)
        analysis.append(time.perf_counter() - start)
    seconds, read = median(analysis), median(reads)
    out = [figure(f"sku_analysis_seconds_{kind}_{orders}_orders", seconds, "s",
                  "reading and decoding the same rows, no aggregation", read,
                  f"<= {READ_TARGET:g}x the read alone", seconds <= READ_TARGET * read,
                  records_per_second=round((orders + SKUS) / seconds))]
    if kind == "sqlite":
        streamed = _peak_mb(lambda: _analyse(settings, client))
        naive = _peak_mb(lambda: _read_all_into_memory(settings, client))
        out.append(figure(f"sku_analysis_peak_memory_{orders}_orders", streamed, "MB",
                          "loading the client's rows into one list", naive,
                          f"<= {MEMORY_TARGET:g}x the whole table in memory", streamed <= MEMORY_TARGET * naive))
    return out


def run(quick: bool) -> list[dict[str, Any]]:
    # Quick mode still needs enough rows that the fixed cost of a run (store, schema, cache DDL) does not
    # dominate the ratio: at 5,000 orders it did, and the PostgreSQL figure read 5x for no real reason.
    orders = 20000 if quick else 50000
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as workdir:
        settings = pg.settings_for(sqlite_path=os.path.join(workdir, "sku.db"))
        figures += _measure("sqlite", settings, orders, quick)
    if pg.pg_available():
        with pg.fresh_schema() as dsn:
            figures += _measure("postgres", pg.settings_for(dsn), orders, quick)
    return figures


if __name__ == "__main__":
    for item in run(quick=True):
        print(item)

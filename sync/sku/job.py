"""The SKU analysis run: for each client, stream its stored records, aggregate, rebuild its SKU cache.

One client's failure never stops the others. The cache is replaced in one transaction, so the dashboard
reads either the previous figures or the new ones, never a half-built table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ..config import Settings
from ..timeutil import utcnow
from ..errors import SyncError
from ..ids import normalize_uuid, sku_cache_table
from ..store import open_store
from ..store.base import SkuStore
from .aggregate import SkuAggregator

log = logging.getLogger("sku_analysis_cron")

DATA_TYPES = ("orders", "products", "inventory")
BATCH_SIZE = 500




@dataclass
class ClientReport:
    client_id: str
    success: bool = False
    skus: int = 0
    records: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "success": self.success, "skus": self.skus, "records": self.records,
                "seconds": round(self.seconds, 3), "error": self.error}


@dataclass
class AnalysisSummary:
    as_of: datetime
    clients: list[ClientReport] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.clients if not c.success)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def as_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "clients": [c.as_json() for c in self.clients],
                "failed": self.failed}


def analyse_client(store: SkuStore, client_id: str, as_of: datetime, clock: Callable[[], datetime] = utcnow,
                   batch_size: int = BATCH_SIZE) -> ClientReport:
    report = ClientReport(client_id=client_id)
    started = time.monotonic()
    aggregator = SkuAggregator(as_of)
    for row in store.iter_data(client_id, DATA_TYPES, batch_size):
        aggregator.add(row)
        report.records += 1
    rows = aggregator.rows(clock())
    store.replace_sku_cache(client_id, rows)
    report.skus, report.success = len(rows), True
    report.seconds = time.monotonic() - started
    tally = aggregator.tally
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(tally.orders_skipped.items())) or "none"
    log.info("✅ Client %s: %d SKUs in %s from %d orders (%d lines; skipped: %s), %d product and %d inventory "
             "records, %.1fs", client_id, report.skus, sku_cache_table(client_id), tally.orders, tally.lines,
             skipped, tally.products, tally.inventory, report.seconds)
    if tally.lines_without_sku:
        log.warning("⚠️ Client %s: %d order lines have no SKU and are not counted", client_id,
                    tally.lines_without_sku)
    if tally.mixed_currency_skus:
        log.warning("⚠️ Client %s: %d SKUs sold in several currencies over 30 days; their revenue_30d counts "
                    "the main currency only", client_id, tally.mixed_currency_skus)
    return report


def run_analysis(settings: Settings, *, client_id: str | None = None, as_of: datetime | None = None,
                 store_factory: Callable[[], SkuStore] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> AnalysisSummary:
    """Rebuild the SKU cache of one client, or of every client with an integration."""
    as_of = as_of or clock()
    summary = AnalysisSummary(as_of=as_of)
    store = (store_factory or (lambda: open_store(settings)))()
    try:
        store.ensure_schema()
        clients = [normalize_uuid(client_id)] if client_id else store.list_client_ids()
        log.info("🚀 Starting SKU analysis for %d client(s), as of %s", len(clients), as_of.isoformat())
        for client in clients:
            try:
                summary.clients.append(analyse_client(store, client, as_of, clock))
            except Exception as exc:
                message = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
                log.exception("❌ SKU analysis failed for client %s: %s", client, message)
                summary.clients.append(ClientReport(client_id=client, error=message))
                store = _fresh_store(store, settings, store_factory)
    finally:
        store.close()
    log.info("🏁 SKU analysis finished: %d client(s) rebuilt, %d failed",
             len(summary.clients) - summary.failed, summary.failed)
    return summary


def _fresh_store(store: SkuStore, settings: Settings, store_factory: Callable[[], SkuStore] | None) -> SkuStore:
    # After a failure the connection may be unusable (broken transaction, lost server): start clean.
    try:
        store.close()
    except Exception:
        pass
    return (store_factory or (lambda: open_store(settings)))()

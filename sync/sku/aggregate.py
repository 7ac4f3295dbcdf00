"""Per-SKU figures, accumulated one stored record at a time (memory grows with SKUs, not with orders).

Windows are (as_of - N days, as_of]; sales placed after `as_of` are ignored altogether, so an analysis
"as of" a past moment gives what it would have given then. Every SKU seen in a sale, the catalogue or
the stock gets a row, including SKUs that did not sell (their stock is where cover matters least, but
the dashboard lists them).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from ..store.base import DataRow, SkuRow
from . import facts

log = logging.getLogger("sku_analysis_cron")

WINDOWS = (7, 30, 90)
AVG_DAYS = 30
AVG_PLACES = Decimal("0.0001")
COVER_PLACES = Decimal("0.01")
# Which catalogue title wins when a SKU is listed on both platforms.
TITLE_PREFERENCE = ("shopify", "amazon")


@dataclass
class _Sku:
    platforms: set[str] = field(default_factory=set)
    units: dict[int, int] = field(default_factory=lambda: {n: 0 for n in WINDOWS})
    orders_30d: int = 0
    revenue_30d: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount
    lines_30d: Counter = field(default_factory=Counter)  # currency -> priced lines
    last_currency: str | None = None
    last_sold_at: datetime | None = None
    catalogue_titles: dict[str, str] = field(default_factory=dict)  # platform -> title
    sale_title: str | None = None
    sale_title_at: datetime | None = None
    stock_title: str | None = None
    stock: dict[str, int] = field(default_factory=dict)  # pool -> available


@dataclass
class Tally:
    """What was read, for the log line of each client."""

    orders: int = 0
    orders_skipped: Counter = field(default_factory=Counter)  # reason -> count
    lines: int = 0
    lines_without_sku: int = 0
    products: int = 0
    inventory: int = 0
    unknown: int = 0
    mixed_currency_skus: int = 0


class SkuAggregator:
    def __init__(self, as_of: datetime):
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self.as_of = as_of
        self.since = {n: as_of - timedelta(days=n) for n in WINDOWS}
        self.skus: dict[str, _Sku] = {}
        self.tally = Tally()

    def _sku(self, sku: str, platform: str) -> _Sku:
        entry = self.skus.get(sku)
        if entry is None:
            entry = self.skus[sku] = _Sku()
        entry.platforms.add(platform)
        return entry

    # -- input --------------------------------------------------------------------------------------------
    def add(self, row: DataRow) -> None:
        data: Mapping[str, Any] = row.data if isinstance(row.data, dict) else {}
        platform, kind = row.platform_type, row.data_type
        if kind == "orders" and platform in ("shopify", "amazon"):
            self.tally.orders += 1
            try:
                order = facts.shopify_order(data) if platform == "shopify" else facts.amazon_order(data)
            except facts.Skip as skip:
                self.tally.orders_skipped[skip.reason] += 1
                return
            self.add_order(order)
        elif kind == "products" and platform in ("shopify", "amazon"):
            self.tally.products += 1
            entries = facts.shopify_product(data) if platform == "shopify" else facts.amazon_product(data)
            for entry in entries:
                self.add_catalogue(entry)
        elif kind == "inventory" and platform in ("shopify", "amazon"):
            self.tally.inventory += 1
            stock = (facts.shopify_inventory(data, row.credential_id, row.external_id) if platform == "shopify"
                     else facts.amazon_inventory(data, row.credential_id))
            for item in stock:
                self.add_stock(item)
        else:
            self.tally.unknown += 1

    def add_order(self, order: facts.Order) -> None:
        self.tally.lines_without_sku += order.lines_without_sku
        if order.placed_at > self.as_of:
            self.tally.orders_skipped["placed after as-of"] += 1
            return
        in_30d: set[str] = set()
        for line in order.lines:
            self.tally.lines += 1
            entry = self._sku(line.sku, line.platform)
            for n in WINDOWS:
                if line.placed_at > self.since[n]:
                    entry.units[n] += line.units
            if line.currency:
                entry.last_currency = line.currency
            if line.placed_at > self.since[30]:
                in_30d.add(line.sku)
                if line.revenue is not None:
                    currency = line.currency or ""
                    entry.revenue_30d[currency] = entry.revenue_30d.get(currency, Decimal(0)) + line.revenue
                    entry.lines_30d[currency] += 1
            if entry.last_sold_at is None or line.placed_at > entry.last_sold_at:
                entry.last_sold_at = line.placed_at
            if line.title and (entry.sale_title_at is None or line.placed_at >= entry.sale_title_at):
                entry.sale_title, entry.sale_title_at = line.title, line.placed_at
        # An order with two lines of one SKU is still one order of it.
        for sku in in_30d:
            self.skus[sku].orders_30d += 1

    def add_catalogue(self, entry: facts.CatalogueEntry) -> None:
        sku = self._sku(entry.sku, entry.platform)
        if entry.title:
            sku.catalogue_titles.setdefault(entry.platform, entry.title)

    def add_stock(self, stock: facts.Stock) -> None:
        sku = self._sku(stock.sku, stock.platform)
        sku.stock[stock.pool] = max(stock.available, sku.stock.get(stock.pool, stock.available))
        if stock.title and not sku.stock_title:
            sku.stock_title = stock.title

    # -- output -------------------------------------------------------------------------------------------
    def rows(self, computed_at: datetime) -> list[SkuRow]:
        return [self._row(sku, entry, computed_at) for sku, entry in sorted(self.skus.items())]

    def _row(self, sku: str, entry: _Sku, computed_at: datetime) -> SkuRow:
        currency, revenue = self._revenue(sku, entry)
        units_30d = entry.units[30]
        inventory = sum(entry.stock.values()) if entry.stock else None
        avg = (Decimal(units_30d) / AVG_DAYS).quantize(AVG_PLACES, ROUND_HALF_UP)
        cover = None
        if units_30d > 0 and inventory is not None:
            # Exact arithmetic on the counts (not on the rounded average); negative stock covers nothing.
            cover = (Decimal(max(inventory, 0)) * AVG_DAYS / units_30d).quantize(COVER_PLACES, ROUND_HALF_UP)
        title = next((entry.catalogue_titles[p] for p in TITLE_PREFERENCE if p in entry.catalogue_titles), None)
        return SkuRow(
            sku=sku, title=title or entry.sale_title or entry.stock_title, platforms=sorted(entry.platforms),
            units_sold_7d=entry.units[7], units_sold_30d=units_30d, units_sold_90d=entry.units[90],
            orders_30d=entry.orders_30d, revenue_30d=revenue, currency_code=currency,
            inventory_available=inventory, avg_daily_units_30d=avg, days_of_cover=cover,
            last_sold_at=entry.last_sold_at, computed_at=computed_at,
        )

    def _revenue(self, sku: str, entry: _Sku) -> tuple[str | None, Decimal]:
        if not entry.revenue_30d:
            return entry.last_currency, Decimal(0)
        # Amounts in different currencies do not add up: the row holds the currency most of its priced
        # lines were sold in (ties: alphabetical), and the log says how many SKUs sold in several.
        currency = min(entry.lines_30d, key=lambda c: (-entry.lines_30d[c], c))
        if len(entry.revenue_30d) > 1:
            self.tally.mixed_currency_skus += 1
            log.debug("SKU %s sold in several currencies over 30 days (%s); revenue_30d counts %s only", sku,
                        ", ".join(sorted(c or "?" for c in entry.revenue_30d)), currency or "?")
        return currency or None, entry.revenue_30d[currency]

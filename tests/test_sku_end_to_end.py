"""The SKU analysis on what the real fetchers stored: both emulators over HTTP, the engine, then the analysis.

The expected figures are recomputed here the naive way (the whole table in memory, straight loops), so the
streamed aggregation is checked against an independent reading of the same stored records.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from emulators.amazon import AmazonEmulator
from emulators.shopify import ShopifyEmulator
from sync.credentials import add_integration
from sync.engine import SyncEngine
from sync.models import RunParams
from sync.sku.job import run_analysis
from sync.store import open_store

from .engine_fixtures import make_settings, query
from .sku_fixtures import read_cache

SHOP_TOKEN = "shpat_" + "5c0e" * 8
REFRESH_TOKEN = "Atzr|IwEBI-sku-end-to-end-refresh"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_analysis_of_synced_shopify_and_amazon_data(kind, tmp_path, request):
    dsn = request.getfixturevalue("fresh_pg_dsn") if kind == "postgres" else None
    with ShopifyEmulator() as shopify, AmazonEmulator(time_scale=60) as amazon:
        shopify.add_shop("sku.myshopify.com", SHOP_TOKEN, orders=60, products=10, customers=3)
        amazon.add_seller(REFRESH_TOKEN, orders=25, listings=12, fba=True)
        settings = make_settings(kind, tmp_path, dsn, SHOPIFY_BASE_URL=shopify.base_url,
                                 AMAZON_SP_API_BASE_URL=amazon.sp_api_base_url,
                                 AMAZON_LWA_TOKEN_URL=amazon.lwa_token_url)
        client = str(uuid.uuid4())
        store = open_store(settings)
        try:
            store.ensure_schema()
            add_integration(store, settings, client_id=client, platform="shopify", name="shop",
                            secrets={"shop_domain": "sku.myshopify.com", "access_token": SHOP_TOKEN})
            add_integration(store, settings, client_id=client, platform="amazon", name="amazon",
                            secrets=amazon.demo_secrets(REFRESH_TOKEN))
        finally:
            store.close()
        summary = SyncEngine(settings).run(RunParams(force=True))
        assert summary.synced == 2, [r.error_message for r in summary.results]

    as_of = datetime.now(timezone.utc)
    report = run_analysis(settings, client_id=client, as_of=as_of)
    assert report.exit_code == 0 and report.clients[0].records > 0
    cache = read_cache(settings, client)

    rows = query(settings, f'SELECT platform_type, data_type, data FROM "client_{client.replace("-", "_")}_data"')
    units = {n: defaultdict(int) for n in (7, 30, 90)}
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    stock: dict[str, int] = defaultdict(int)
    catalogue: set[str] = set()
    cancelled = 0
    for platform, data_type, data in rows:
        data = data if isinstance(data, dict) else json.loads(data)
        if data_type == "orders":
            if platform == "shopify":
                if data["cancelledAt"] or data.get("test"):
                    cancelled += 1
                    continue
                placed = _time(data["createdAt"])
                lines = [(li["sku"], li["quantity"], Decimal(li["discountedTotalSet"]["shopMoney"]["amount"]))
                         for li in data["lineItems"] if li.get("sku")]
            else:  # the Orders API v2026-01-01 shape
                if data["fulfillment"]["fulfillmentStatus"] == "CANCELLED":
                    cancelled += 1
                    continue
                placed = _time(data["createdTime"])
                lines = [(i["product"]["sellerSku"], i["quantityOrdered"],
                          Decimal(i["product"]["price"]["unitPrice"]["amount"]) * i["quantityOrdered"])
                         for i in data["orderItems"]]
            for sku, qty, amount in lines:
                for n in units:
                    if as_of - timedelta(days=n) < placed <= as_of:
                        units[n][sku] += qty
                if as_of - timedelta(days=30) < placed <= as_of:
                    revenue[sku] += amount
        elif data_type == "products":
            if platform == "shopify":
                catalogue.update(v["sku"] for v in data["variants"] if v.get("sku"))
            else:
                catalogue.add(data["seller-sku"])
        elif data_type == "inventory" and platform == "shopify":
            if data["location"]["isActive"]:
                stock[data["item"]["sku"]] += next(q["quantity"] for q in data["quantities"] if q["name"] == "available")

    assert sum(units[90].values()) > 0, "the emulators' orders should fall in the 90-day window"
    assert catalogue <= set(cache)
    for sku, row in cache.items():
        assert row["units_sold_7d"] == units[7].get(sku, 0), sku
        assert row["units_sold_30d"] == units[30].get(sku, 0), sku
        assert row["units_sold_90d"] == units[90].get(sku, 0), sku
        assert row["revenue_30d"] == revenue.get(sku, Decimal(0)), sku
        if sku in stock:
            assert "shopify" in row["platforms"]
            amazon_part = row["inventory_available"] - stock[sku]
            assert amazon_part == 0 or "amazon" in row["platforms"]
        assert row["title"], sku
        if row["units_sold_30d"]:
            assert row["last_sold_at"] is not None
            if row["inventory_available"] is not None:
                assert row["days_of_cover"] is not None
    platforms = {p for row in cache.values() for p in row["platforms"]}
    assert platforms == {"shopify", "amazon"}
    assert any(r["inventory_available"] for r in cache.values() if r["platforms"] == ["amazon"]), \
        "FBA stock should reach the Amazon SKUs"

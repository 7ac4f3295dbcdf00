"""The SKU analysis on hand-made stored records, on both stores (SPEC section 2 `client_<id>_sku_cache`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from sync.ids import sku_cache_table
from sync.sku.job import analyse_client, run_analysis
from sync.store import open_store
from sync.store.base import SkuRow

from .engine_fixtures import add, make_settings
from .sku_fixtures import (amazon_listing, amazon_order, amazon_order_v2026, amazon_stock, execute, new_ids,
                           read_cache, shopify_level, shopify_order, shopify_product, store_records)
from .supabase_fixtures import supabase_project  # noqa: F401  (a fixture)

REPO = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def settings(request, tmp_path):
    if request.param == "supabase":  # the REST store, through the PostgREST emulator
        project = request.getfixturevalue("supabase_project")
        return project.settings(tmp_path, _TEST_PG_DSN=project.dsn)
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def analyse(settings, client_id, as_of=AS_OF, **kwargs):
    summary = run_analysis(settings, client_id=client_id, as_of=as_of, **kwargs)
    assert summary.exit_code == 0, summary.as_json()
    return read_cache(settings, client_id)


def test_window_boundaries_are_open_below_and_closed_at_as_of(settings):
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [
        shopify_order(1, AS_OF, [("A", 1, "10")]),                      # exactly as_of: in every window
        shopify_order(2, AS_OF - 7 * DAY + SECOND, [("A", 2, "10")]),   # just inside 7 days
        shopify_order(3, AS_OF - 7 * DAY, [("A", 4, "10")]),            # exactly 7 days back: outside 7d
        shopify_order(4, AS_OF - 30 * DAY + SECOND, [("A", 8, "10")]),  # just inside 30 days
        shopify_order(5, AS_OF - 30 * DAY, [("A", 16, "10")]),          # exactly 30 days back: 90d only
        shopify_order(6, AS_OF - 90 * DAY + SECOND, [("A", 32, "10")]),
        shopify_order(7, AS_OF - 90 * DAY, [("A", 64, "10")]),          # outside every window
        shopify_order(8, AS_OF + SECOND, [("A", 128, "10")]),           # after as_of: ignored altogether
    ])
    row = analyse(settings, client)["A"]
    assert row["units_sold_7d"] == 1 + 2
    assert row["units_sold_30d"] == 1 + 2 + 4 + 8
    assert row["units_sold_90d"] == 1 + 2 + 4 + 8 + 16 + 32
    assert row["orders_30d"] == 4
    assert row["revenue_30d"] == Decimal("40")
    assert row["last_sold_at"] == AS_OF
    assert row["platforms"] == ["shopify"]

    # The same data one second earlier: order 1 is in the future, the 7-day edge moves by a second.
    earlier = analyse(settings, client, AS_OF - SECOND)["A"]
    assert earlier["units_sold_7d"] == 2 + 4
    assert earlier["last_sold_at"] == AS_OF - 7 * DAY + SECOND


def test_cancelled_and_test_orders_do_not_count(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [
        shopify_order(1, AS_OF - DAY, [("A", 1, "10")]),
        shopify_order(2, AS_OF - DAY, [("A", 5, "50")], cancelled=True),
        shopify_order(3, AS_OF - 2 * DAY, [("A", 7, "70")], test=True),
        shopify_order(4, AS_OF - DAY, [("ONLY-CANCELLED", 3, "30")], cancelled=True),
    ])
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("111-1", AS_OF - DAY, [("A", 2, "20")]),
        amazon_order("111-2", AS_OF - SECOND, [("A", 9, "90")], status="Canceled"),
    ])
    cache = analyse(settings, client)
    row = cache["A"]
    assert (row["units_sold_7d"], row["orders_30d"], row["revenue_30d"]) == (3, 2, Decimal("30"))
    assert row["last_sold_at"] == AS_OF - DAY
    assert "ONLY-CANCELLED" not in cache


def test_revenue_is_the_lines_discounted_total_in_30_days(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [
        # Two lines of one SKU in one order: one order, both totals.
        shopify_order(1, AS_OF - DAY, [("A", 2, "17.90"), ("A", 1, "9.95"), ("B", 1, "5.00")]),
        shopify_order(2, AS_OF - 29 * DAY, [("A", 1, "0.15")], shape="nodes"),
        shopify_order(3, AS_OF - 31 * DAY, [("A", 1, "1000.00")], shape="edges"),  # outside 30 days
    ])
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("111-1", AS_OF - 3 * DAY, [("B", 3, "29.97")]),  # ItemPrice is the whole line
        amazon_order("111-2", AS_OF - 2 * DAY, [("B", 2, None)], status="Pending"),  # no price yet: units only
    ])
    cache = analyse(settings, client)
    a, b = cache["A"], cache["B"]
    assert a["revenue_30d"] == Decimal("28.00") and a["currency_code"] == "USD"
    assert (a["units_sold_30d"], a["units_sold_90d"], a["orders_30d"]) == (4, 5, 2)
    assert b["revenue_30d"] == Decimal("34.97")
    assert (b["units_sold_30d"], b["orders_30d"]) == (6, 3)
    assert b["platforms"] == ["amazon", "shopify"]


def test_amazon_orders_of_both_api_versions_count_alike(settings):
    """A table holding v0-shaped rows from before and v2026-01-01 orders (SPEC section 2): dated by
    `createdTime` / `PurchaseDate`, revenue `unitPrice` x `quantityOrdered` / `ItemPrice` (the whole line),
    cancelled by `fulfillmentStatus` CANCELLED / `OrderStatus` Canceled."""
    client, _, amazon = new_ids()
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("111-1", AS_OF - 3 * DAY, [("C", 3, "29.97", "Old title")]),
        amazon_order("111-2", AS_OF - DAY, [("C", 9, "90")], status="Canceled"),
        amazon_order_v2026("111-3", AS_OF - 2 * DAY, [("C", 2, "9.99", "New title"), ("D", 1, None)]),
        amazon_order_v2026("111-4", AS_OF - SECOND, [("C", 5, "10")], status="CANCELLED"),
        amazon_order_v2026("111-5", AS_OF - 40 * DAY, [("D", 4, "2.50")], status="UNSHIPPED"),
        amazon_order_v2026("111-6", AS_OF + SECOND, [("C", 7, "1")]),  # after as_of
    ])
    cache = analyse(settings, client)
    c, d = cache["C"], cache["D"]
    assert (c["units_sold_7d"], c["orders_30d"], c["revenue_30d"]) == (5, 2, Decimal("49.95"))
    assert c["last_sold_at"] == AS_OF - 2 * DAY and c["title"] == "New title" and c["platforms"] == ["amazon"]
    assert (d["units_sold_30d"], d["units_sold_90d"], d["revenue_30d"]) == (1, 5, Decimal("0"))


def test_days_of_cover_and_average(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [
        shopify_order(1, AS_OF - DAY, [("SELLS", 20, "200"), ("NEGATIVE", 3, "3"), ("NO-STOCK-DATA", 1, "1")]),
        shopify_order(2, AS_OF - 10 * DAY, [("SELLS", 10, "100")]),
        shopify_order(3, AS_OF - 60 * DAY, [("OLD", 5, "5")]),  # sold, but not in 30 days
    ])
    store_records(settings, client, shop, "shopify", "inventory", [
        shopify_level("SELLS", 1, 1, 30), shopify_level("SELLS", 1, 2, 15),
        shopify_level("SELLS", 1, 3, 1000, active=False),  # an inactive location holds nothing to sell
        shopify_level("NEGATIVE", 2, 1, -4),
        shopify_level("IDLE", 3, 1, 12), shopify_level("OLD", 4, 1, 7),
    ])
    cache = analyse(settings, client)
    sells = cache["SELLS"]
    assert sells["inventory_available"] == 45
    assert sells["avg_daily_units_30d"] == Decimal("1")
    assert sells["days_of_cover"] == Decimal("45")
    assert cache["NEGATIVE"]["inventory_available"] == -4 and cache["NEGATIVE"]["days_of_cover"] == Decimal("0")
    assert cache["NEGATIVE"]["avg_daily_units_30d"] == Decimal("0.1")
    for sku in ("IDLE", "OLD"):  # nothing sold in 30 days: no cover figure
        assert cache[sku]["days_of_cover"] is None and cache[sku]["avg_daily_units_30d"] == 0
    assert cache["IDLE"]["inventory_available"] == 12 and cache["IDLE"]["last_sold_at"] is None
    assert cache["OLD"]["units_sold_90d"] == 5 and cache["OLD"]["last_sold_at"] == AS_OF - 60 * DAY
    assert cache["NO-STOCK-DATA"]["inventory_available"] is None and cache["NO-STOCK-DATA"]["days_of_cover"] is None


def test_two_shopify_variants_with_one_sku_add_up_at_a_location(settings):
    # Shopify lets two variants (two inventory items) carry the same SKU: their stock at one location is
    # two quantities, not one reported twice (that is Amazon's pooled FBA stock).
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "inventory", [
        shopify_level("TWIN", 1, 1, 4), shopify_level("TWIN", 2, 1, 6), shopify_level("TWIN", 2, 2, 1),
    ])
    assert analyse(settings, client)["TWIN"]["inventory_available"] == 11


def test_cover_rounds_exactly(settings):
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("A", 7, "7")])])
    store_records(settings, client, shop, "shopify", "inventory", [shopify_level("A", 1, 1, 10)])
    row = analyse(settings, client)["A"]
    assert row["avg_daily_units_30d"] == Decimal("0.2333")
    assert row["days_of_cover"] == Decimal("42.86")  # 10 * 30 / 7, not 10 / 0.2333


def test_multi_platform_sku(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [
        shopify_order(1, AS_OF - 2 * DAY, [("MUG-1", 2, "24.00", "Mug - Blue")])])
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("111-1", AS_OF - DAY, [("MUG-1", 1, "13.00", "Blue Mug by Acme")])])
    store_records(settings, client, shop, "shopify", "products", [
        shopify_product(10, "Mug", [("MUG-1", "Blue"), ("MUG-2", "Default Title")])])
    store_records(settings, client, amazon, "amazon", "products", [
        amazon_listing("MUG-1", "Acme Blue Mug"), amazon_listing("AMZ-ONLY", "Acme Teapot")])
    store_records(settings, client, shop, "shopify", "inventory", [
        shopify_level("MUG-1", 1, 1, 5), shopify_level("MUG-1", 1, 2, 6)])
    store_records(settings, client, amazon, "amazon", "inventory", [
        # The North America FBA pool, reported again in each marketplace: counted once.
        amazon_stock("MUG-1", 20), amazon_stock("MUG-1", 20, "A2EUQ1WTGCTBG2", primary=False),
        amazon_stock("AMZ-ONLY", 3, name="Acme Teapot (FBA)"),
    ])
    cache = analyse(settings, client)
    mug = cache["MUG-1"]
    assert mug["platforms"] == ["amazon", "shopify"]
    assert mug["title"] == "Mug - Blue"  # the Shopify catalogue title first
    assert (mug["units_sold_7d"], mug["orders_30d"], mug["revenue_30d"]) == (3, 2, Decimal("37.00"))
    assert mug["inventory_available"] == 5 + 6 + 20
    assert mug["days_of_cover"] == Decimal("310.00")
    assert mug["last_sold_at"] == AS_OF - DAY
    assert cache["MUG-2"]["title"] == "Mug" and cache["MUG-2"]["platforms"] == ["shopify"]
    teapot = cache["AMZ-ONLY"]
    assert teapot["title"] == "Acme Teapot" and teapot["platforms"] == ["amazon"]
    assert teapot["units_sold_30d"] == 0 and teapot["inventory_available"] == 3
    assert teapot["revenue_30d"] == 0 and teapot["currency_code"] is None
    assert all(r["computed_at"] is not None for r in cache.values())


def test_rows_marked_deleted_do_not_count(settings):
    # A product deleted on Shopify (its row and its inventory rows marked), an Amazon listing and its
    # stock gone from the snapshots, an order deleted: the cache no longer shows them (SPEC section 2).
    client, shop, amazon = new_ids()
    store_records(settings, client, shop, "shopify", "products", [
        shopify_product(10, "Mug", [("MUG-1", "Blue")]), shopify_product(11, "Cup", [("CUP-1", "Red")])])
    store_records(settings, client, shop, "shopify", "inventory", [
        shopify_level("MUG-1", 1, 1, 5), shopify_level("CUP-1", 2, 1, 7), shopify_level("CUP-1", 2, 2, 1)])
    store_records(settings, client, amazon, "amazon", "products", [
        amazon_listing("AMZ-ONLY", "Acme Teapot"), amazon_listing("AMZ-GONE", "Acme Kettle")])
    store_records(settings, client, amazon, "amazon", "inventory", [amazon_stock("AMZ-ONLY", 3),
                                                                    amazon_stock("AMZ-GONE", 9)])
    store_records(settings, client, shop, "shopify", "orders", [
        shopify_order(1, AS_OF - 2 * DAY, [("MUG-1", 2, "24.00")]), shopify_order(2, AS_OF - DAY, [("MUG-1", 1, "12.00")])])
    before = analyse(settings, client)
    assert set(before) == {"MUG-1", "CUP-1", "AMZ-ONLY", "AMZ-GONE"}
    table = f"client_{client.replace('-', '_')}_data"
    for data_type, external_id in (("products", "gid://shopify/Product/11"), ("products", "AMZ-GONE"),
                                   ("inventory", "AMZ-GONE"), ("orders", "gid://shopify/Order/2")):
        execute(settings, f'UPDATE "{table}" SET deleted_at = ? WHERE data_type = ? AND external_id = ?',
                ("2026-03-30T00:00:00Z", data_type, external_id))
    execute(settings, f'UPDATE "{table}" SET deleted_at = ? WHERE data_type = ? AND external_id LIKE ?',
            ("2026-03-30T00:00:00Z", "inventory", "%inventory_item_id=2&%"))
    cache = analyse(settings, client)
    assert set(cache) == {"MUG-1", "AMZ-ONLY"}
    assert cache["MUG-1"]["units_sold_7d"] == 2 and cache["MUG-1"]["inventory_available"] == 5
    assert cache["AMZ-ONLY"]["inventory_available"] == 3


def test_titles_fall_back_to_sales_then_stock(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("111-1", AS_OF - 5 * DAY, [("S", 1, "1", "Old title")]),
        amazon_order("111-2", AS_OF - DAY, [("S", 1, "1", "New title")]),
    ])
    store_records(settings, client, amazon, "amazon", "inventory", [amazon_stock("T", 1, name="Stock title")])
    cache = analyse(settings, client)
    assert cache["S"]["title"] == "New title"
    assert cache["T"]["title"] == "Stock title"


def test_mixed_currencies_keep_the_main_one(settings):
    client, shop, amazon = new_ids()
    store_records(settings, client, amazon, "amazon", "orders", [
        amazon_order("1", AS_OF - DAY, [("X", 1, "10")]),
        amazon_order("2", AS_OF - DAY, [("X", 1, "11")]),
        amazon_order("3", AS_OF - DAY, [("X", 1, "500")], currency="CAD"),
    ])
    row = analyse(settings, client)["X"]
    assert (row["currency_code"], row["revenue_30d"], row["units_sold_30d"]) == ("USD", Decimal("21"), 3)


def test_rebuild_replaces_the_whole_table(settings):
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("A", 1, "1")])])
    store_records(settings, client, shop, "shopify", "products", [shopify_product(1, "P", [("GONE", "x")])])
    assert set(analyse(settings, client)) == {"A", "GONE"}
    execute(settings, f'DELETE FROM "client_{client.replace("-", "_")}_data" WHERE data_type = ?', ("products",))
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(2, AS_OF - DAY, [("A", 4, "4")])])
    cache = analyse(settings, client)
    assert set(cache) == {"A"} and cache["A"]["units_sold_7d"] == 5


def _row(sku: str) -> SkuRow:
    now = datetime.now(timezone.utc)
    return SkuRow(sku=sku, title=None, platforms=["shopify"], units_sold_7d=0, units_sold_30d=0, units_sold_90d=0,
                  orders_30d=0, revenue_30d=Decimal(0), currency_code=None, inventory_available=None,
                  avg_daily_units_30d=Decimal(0), days_of_cover=None, last_sold_at=None, computed_at=now)


def test_a_failed_rebuild_leaves_the_previous_cache(settings):
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("A", 1, "1")])])
    before = analyse(settings, client)
    store = open_store(settings)
    try:
        with pytest.raises(Exception):  # the second "B" breaks the primary key after the DELETE and one insert
            store.replace_sku_cache(client, [_row("B"), _row("C"), _row("B")])
    finally:
        store.close()
    assert read_cache(settings, client) == before


def test_reads_in_batches_and_every_client(settings):
    client_a, shop_a, _ = new_ids()
    client_b, shop_b, _ = new_ids()
    add(settings, client_id=client_a)
    add(settings, client_id=client_b)
    store_records(settings, client_a, shop_a, "shopify", "orders",
                  [shopify_order(i, AS_OF - DAY, [(f"A{i % 3}", 1, "1")]) for i in range(11)])
    store_records(settings, client_b, shop_b, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("B", 2, "1")])])
    store_records(settings, client_a, shop_a, "shopify", "customers", [("c1", {"id": "c1", "sku": "NOT-A-SKU"})])

    store = open_store(settings)
    try:
        rows = list(store.iter_data(client_a, ("orders", "products", "inventory"), batch_size=4))
        assert len(rows) == 11 and len({r.external_id for r in rows}) == 11
        assert all(r.data_type == "orders" and isinstance(r.data, dict) for r in rows)
        report = analyse_client(store, client_a, AS_OF, batch_size=3)
        assert (report.records, report.skus) == (11, 3)
    finally:
        store.close()

    summary = run_analysis(settings, as_of=AS_OF)
    assert sorted(c.client_id for c in summary.clients) == sorted([client_a, client_b])
    assert {k: v["units_sold_7d"] for k, v in read_cache(settings, client_a).items()} == {"A0": 4, "A1": 4, "A2": 3}
    assert read_cache(settings, client_b)["B"]["units_sold_30d"] == 2


def test_client_without_data_gets_an_empty_cache(settings):
    client, _, _ = new_ids()
    assert analyse(settings, client) == {}


def test_an_older_cache_table_gets_the_missing_columns(settings):
    client, shop, _ = new_ids()
    table = sku_cache_table(client)
    execute(settings, f'CREATE TABLE "{table}" (sku text PRIMARY KEY, title text, units_sold_30d integer)')
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("A", 1, "1")])])
    assert analyse(settings, client)["A"]["days_of_cover"] is None


# -- the command ------------------------------------------------------------------------------------------
def _cli(settings, tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update(settings.env)
    return subprocess.run([sys.executable, str(REPO / "sku_analysis_cron.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_command_rebuilds_and_logs(tmp_path):
    settings = make_settings("sqlite", tmp_path)
    client, shop, _ = new_ids()
    store_records(settings, client, shop, "shopify", "orders", [shopify_order(1, AS_OF - DAY, [("A", 3, "3")])])
    done = _cli(settings, tmp_path, "--client-id", client.upper(), "--as-of", "2026-03-31T12:00:00Z", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["as_of"] == AS_OF.isoformat()
    assert summary["clients"] == [{"client_id": client, "success": True, "skus": 1, "records": 1,
                                   "seconds": summary["clients"][0]["seconds"], "error": None}]
    assert done.stderr == ""
    assert read_cache(settings, client)["A"]["units_sold_7d"] == 3
    log = (tmp_path / "logs" / "sku_analysis_cron.log").read_text()
    assert " - sku_analysis_cron - INFO - " in log and f"Client {client}: 1 SKUs" in log

    # Naive --as-of is UTC; console logging without --json.
    naive = _cli(settings, tmp_path, "--client-id", client, "--as-of", "2026-04-15T12:00:00")
    assert naive.returncode == 0 and "SKU analysis finished" in naive.stderr
    assert read_cache(settings, client)["A"]["units_sold_7d"] == 0


@pytest.mark.parametrize("args", [["--as-of", "yesterday"], ["--client-id", "not-a-uuid"]])
def test_command_refuses_bad_arguments(tmp_path, args):
    done = _cli(make_settings("sqlite", tmp_path), tmp_path, *args)
    assert done.returncode == 2 and done.stderr.startswith("error: ")

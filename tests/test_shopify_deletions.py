"""Shopify completeness end to end (engine, real fetcher, emulator over HTTP; SQLite and PostgreSQL): the
event feed marks deleted products (and their inventory rows), variants' inventory rows, customers and
orders; the audit block equals the emulator's counts; a quiet sync costs one request for the whole feed;
a feed too old to trust reconciles ids by bulk export; the SKU cache leaves the deleted products out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from emulators.shopify import ShopifyEmulator
from sync.engine import run_sync
from sync.ids import data_table
from sync.models import RunParams
from sync.sku.job import run_analysis
from sync.store import open_store
from sync.timeutil import iso_z, utcnow

from .engine_fixtures import add_client, make_settings, query
from .shopify_fixtures import FAST, UNLIMITED
from .sku_fixtures import read_cache

DOMAIN, TOKEN = "deletions.myshopify.com", "shpat_deletions"
DATA_TYPES = ("orders", "products", "customers", "inventory")


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request):
    return request.param


def settings_for(kind, emu, tmp_path, request, **env):
    dsn = request.getfixturevalue("fresh_pg_dsn") if kind == "postgres" else None
    return make_settings(kind, tmp_path, dsn, SHOPIFY_BASE_URL=emu.base_url, **FAST, **env)


def add_shop(settings) -> tuple[str, str]:
    return add_client(settings, "shopify", {"shop_domain": DOMAIN, "access_token": TOKEN}, name=DOMAIN)


def sync(settings, client_id):
    summary = run_sync(settings, RunParams(triggered_by="manual", force=True, client_id=client_id))
    assert len(summary.results) == 1
    result = summary.results[0]
    assert result.success, result.error_message
    return result


def marked(settings, client_id, data_type=None) -> set[str]:
    rows = query(settings, f'SELECT data_type, external_id FROM "{data_table(client_id)}" WHERE deleted_at IS NOT NULL')
    return {r[1] for r in rows if data_type is None or r[0] == data_type}


def audits(result) -> dict:
    return {t: result.streams[t].audit.as_json() for t in DATA_TYPES}


def expected_audits(shop, deleted: dict[str, int]) -> dict:
    counts = shop.counts()
    out = {t: {"platform": counts[t], "stored": counts[t], "missing": 0, "deleted": deleted.get(t, 0)}
           for t in ("orders", "products", "customers")}
    # Shopify counts no inventory levels: no platform figure on a delta, the stored live levels all the same.
    out["inventory"] = {"platform": None, "stored": counts["inventory"], "missing": None,
                        "deleted": deleted.get("inventory", 0)}
    return out


def levels_of(products: list[dict]) -> set[str]:
    items = {v["inventoryItem"]["id"] for p in products for v in p["variants"]}
    return items


def test_deleted_records_are_marked_and_the_audit_equals_the_emulators_counts(kind, tmp_path, request):
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=60, products=25, customers=20, locations=2, seed=11)
        settings = settings_for(kind, emu, tmp_path, request)
        client_id, credential_id = add_shop(settings)
        first = sync(settings, client_id)
        counts = shop.counts()
        # A first sync (bulk): the counts, and every inventory level as a snapshot.
        assert {t: first.streams[t].audit.as_json() for t in ("orders", "products", "customers")} == {
            t: {"platform": counts[t], "stored": counts[t], "missing": 0, "deleted": 0}
            for t in ("orders", "products", "customers")}
        assert first.streams["inventory"].audit.as_json() == {"platform": counts["inventory"],
                                                               "stored": counts["inventory"], "missing": 0,
                                                               "deleted": 0}

        doomed = [shop.data.products[n] for n in sorted(shop.data.products)[:7]]
        doomed_items = levels_of(doomed)
        doomed_levels = {lv["id"] for by_item in shop.data.levels.values() for lv in by_item.values()
                         if lv["item"]["id"] in doomed_items}
        products = emu.delete_products(DOMAIN, ids=[p["id"] for p in doomed])
        customers = emu.delete_customers(DOMAIN, 2) + emu.delete_customers(DOMAIN, 1, erased=True)
        orders = emu.delete_orders(DOMAIN, 2)
        assert (len(products), len(customers), len(orders)) == (7, 3, 2)

        second = sync(settings, client_id)
        assert audits(second) == expected_audits(shop, {"products": 7, "customers": 3, "orders": 2,
                                                        "inventory": len(doomed_levels)})
        assert marked(settings, client_id, "products") == set(products)
        assert marked(settings, client_id, "customers") == set(customers)
        assert marked(settings, client_id, "orders") == set(orders)
        assert marked(settings, client_id, "inventory") == doomed_levels

        # A variant deleted: its inventory rows go, its product is read again without it.
        variant = emu.delete_variants(DOMAIN, 1)[0]
        third = sync(settings, client_id)
        assert third.streams["products"].updated == 1
        assert audits(third)["inventory"]["deleted"] == 2  # one level per location
        assert audits(third)["products"] == {"platform": 18, "stored": 18, "missing": 0, "deleted": 0}
        assert variant not in str(query(settings, f'SELECT data FROM "{data_table(client_id)}" '
                                                  "WHERE data_type = 'products' AND deleted_at IS NULL"))

        # The SKU cache leaves the deleted products and their stock out.
        assert run_analysis(settings, client_id=client_id).exit_code == 0
        cache = read_cache(settings, client_id)
        for product in doomed:
            for v in product["variants"]:
                entry = cache.get(v["sku"])
                # Still there only when a live order sold it: then without stock.
                assert entry is None or (entry["inventory_available"] is None and entry["last_sold_at"] is not None)
        live = next(p for p in shop.data.products.values() if all(x["sku"] in cache for x in p["variants"]))
        assert cache[live["variants"][0]["sku"]]["inventory_available"] is not None


def test_a_quiet_sync_costs_one_request_for_the_deletion_feed(kind, tmp_path, request):
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=30, products=10, customers=10, locations=2, seed=5)
        settings = settings_for(kind, emu, tmp_path, request)
        client_id, _ = add_shop(settings)
        sync(settings, client_id)
        sync(settings, client_id)  # the first delta settles the page sizes
        before = dict(shop.stats.requests)
        quiet = sync(settings, client_id)
        sent = {k: v - before.get(k, 0) for k, v in shop.stats.requests.items() if v != before.get(k, 0)}
        # The connection test, one page per data type (the orders, products and customers pages ask their
        # total count in the same request) and the deletion feed: at most one more request per data type.
        assert sent == {"ShopInfo": 1, "Orders": 1, "Products": 1, "Customers": 1, "Inventory": 1, "DeletionEvents": 1}
        assert audits(quiet) == expected_audits(shop, {})


def test_a_feed_too_old_to_trust_reconciles_the_ids(kind, tmp_path, request):
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=30, products=12, customers=10, locations=2, seed=8)
        settings = settings_for(kind, emu, tmp_path, request)
        client_id, credential_id = add_shop(settings)
        sync(settings, client_id)
        products = emu.delete_products(DOMAIN, 3)
        orders = emu.delete_orders(DOMAIN, 2)
        shop.data.events.clear()  # a year has passed: Shopify no longer has their events
        # The integration was idle for 400 days.
        old = iso_z(utcnow() - timedelta(days=400))
        store = open_store(settings)
        try:
            integration = store.get_integration(credential_id)
            state = dict(integration.sync_state, deletions={"created_at": old})
        finally:
            store.close()
        _set_state(settings, credential_id, json.dumps(state))
        result = sync(settings, client_id)
        assert marked(settings, client_id, "products") == set(products)
        assert marked(settings, client_id, "orders") == set(orders)
        assert audits(result)["products"]["deleted"] == 3 and audits(result)["orders"]["deleted"] == 2
        assert audits(result) == expected_audits(shop, {"products": 3, "orders": 2,
                                                        "inventory": audits(result)["inventory"]["deleted"]})
        assert audits(result)["inventory"]["deleted"] > 0
        assert shop.stats.requests["NodesExist"] >= 1  # marked only once Shopify confirmed them gone


def _set_state(settings, credential_id: str, state_json: str) -> None:
    statement = "UPDATE client_api_credentials SET sync_state = ? WHERE credential_id = ?"
    if settings.store_kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(settings.sqlite_path)
        with conn:
            conn.execute(statement, (state_json, credential_id))
        conn.close()
    else:
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s").replace("= %s WHERE", "= %s::jsonb WHERE"),
                         (state_json, credential_id))

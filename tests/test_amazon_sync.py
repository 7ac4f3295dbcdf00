"""Acceptance of the Amazon fetcher through the engine into PostgreSQL, real sp_api client over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams
from sync.sku.job import run_analysis

from .amazon_fixtures import add_amazon, emulator, engine_settings
from .engine_fixtures import data_rows, integration_row, query, results
from .sku_fixtures import execute, iso, read_cache, store_records

ROOT = Path(__file__).resolve().parents[1]


def run(settings):
    summary = SyncEngine(settings).run(RunParams(force=True, platform="amazon"))
    assert len(summary.results) == 1
    return summary.results[0]


def stored(settings, client_id):
    rows = data_rows(settings, client_id)
    out: dict[str, dict[str, dict]] = {}
    for _, data_type, external_id, data in rows:
        out.setdefault(data_type, {})[external_id] = data if isinstance(data, dict) else json.loads(data)
    return out


def lines(order: dict) -> list[tuple]:
    """(SKU, quantity, line price) of an order in either API version's shape."""
    if "orderItems" in order:
        return [(i["product"]["sellerSku"], i["quantityOrdered"],
                 Decimal(i["product"]["price"]["unitPrice"]["amount"]) * i["quantityOrdered"])
                for i in order["orderItems"]]
    return [(i["SellerSKU"], i["QuantityOrdered"], Decimal(i["ItemPrice"]["Amount"])) for i in order["OrderItems"]]


def test_complete_sync_then_exactly_the_changed_orders(fresh_pg_dsn, tmp_path):
    # Real usage plans x60 (the emulator meters every operation); the v0 Orders API is removed.
    with emulator(time_scale=60) as emu:
        emu.add_seller("rt-big", orders=1000, listings=300)
        settings = engine_settings(emu, tmp_path, fresh_pg_dsn)
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-big"))

        first = run(settings)
        assert first.success, first.error_message  # no QuotaExceeded ever failed it
        expected = emu.counts("rt-big")
        assert {k: first.streams[k].new for k in expected} == expected == {
            "orders": 1000, "products": 300, "inventory": 300}
        rows = stored(settings, client_id)
        assert {k: len(v) for k, v in rows.items()} == expected
        assert rows["orders"] == emu.orders_v2026("rt-big")  # every order as Amazon returned it
        v0 = emu.orders_v0("rt-big")  # the emulator's own record of every item: SKU, quantity, price
        assert {oid: lines(o) for oid, o in rows["orders"].items()} == {oid: lines(o) for oid, o in v0.items()}
        assert Counter(len(o["orderItems"]) for o in rows["orders"].values()).keys() <= {1, 2, 3}
        assert emu.counters.calls["searchOrders"] == 10 and "getOrder" not in emu.counters.calls
        assert emu.counters.v0_orders() == 0

        before = {r[2]: r for r in last_synced(settings, client_id)}
        emu.reset_counters()
        again = run(settings)  # forced, at once: nothing changed, nothing is written
        assert again.success and all((c.new, c.updated) == (0, 0) for c in again.streams.values())
        assert again.streams["products"].unchanged == 300  # snapshots re-read in full, stored again: no
        assert {r[2]: r for r in last_synced(settings, client_id)} == before

        changed = emu.change_orders("rt-big", 15)
        added = emu.add_orders("rt-big", 5)
        emu.reset_counters()
        second = run(settings)
        assert second.success, second.error_message
        orders = second.streams["orders"]
        assert (orders.new, orders.updated, orders.unchanged) == (5, 15, 0)
        # The window (cursor - lookback .. now - 2.5 min) holds these 20 orders: one page, at most one more.
        assert emu.counters.calls["searchOrders"] <= 1 + 1
        assert "getOrder" not in emu.counters.calls and emu.counters.v0_orders() == 0  # no per-order call
        rows = stored(settings, client_id)
        assert len(rows["orders"]) == 1005 and rows["orders"] == emu.orders_v2026("rt-big")
        assert set(changed + added) <= set(rows["orders"])
        row = integration_row(settings, credential_id)
        assert row["status"] == "connected" and set(row["sync_state"]["orders"]) == {"last_updated_before"}


def last_synced(settings, client_id):
    return query(settings, f'SELECT data_type, credential_id, external_id, last_synced_at, record_hash FROM '
                           f'"{data_table(client_id)}"')


def test_fba_403_skips_inventory_and_the_rest_syncs(fresh_pg_dsn, tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-mfn", orders=20, listings=15, fba=False)
        settings = engine_settings(emu, tmp_path, fresh_pg_dsn)
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-mfn"))
        result = run(settings)
        assert result.success, result.error_message
        synced = results(settings, credential_id)[0]["data_types_synced"]
        assert "not enrolled in Fulfillment by Amazon" in synced["inventory"]["skipped"]
        assert (synced["orders"]["new"], synced["products"]["new"]) == (20, 15)
        assert {k: len(v) for k, v in stored(settings, client_id).items()} == {"orders": 20, "products": 15}
        assert integration_row(settings, credential_id)["status"] == "connected"


def test_fatal_report_fails_products_only_and_keeps_committed_data(fresh_pg_dsn, tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-fatal", orders=30, listings=20)
        settings = engine_settings(emu, tmp_path, fresh_pg_dsn, AMAZON_REPORT_REUSE_MINUTES="0")
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-fatal"))
        assert run(settings).success
        before = stored(settings, client_id)

        emu.set_report_outcome("rt-fatal", "FATAL")
        changed = emu.change_orders("rt-fatal", 4)
        result = run(settings)
        assert not result.success
        assert result.error_message.startswith("products: Amazon could not produce the listings report")
        assert "ended FATAL" in result.error_message
        assert result.streams["orders"].updated == 4 and result.streams["inventory"].unchanged == 20
        after = stored(settings, client_id)
        assert after["products"] == before["products"]  # nothing lost
        assert all(after["orders"][o]["lastUpdatedTime"] != before["orders"][o]["lastUpdatedTime"] for o in changed)
        row = integration_row(settings, credential_id)
        assert row["status"] == "error" and row["consecutive_failures"] == 1


def test_revoked_refresh_token_fails_the_integration_and_keeps_its_data(fresh_pg_dsn, tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-gone", orders=10, listings=5)
        settings = engine_settings(emu, tmp_path, fresh_pg_dsn)
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-gone"))
        assert run(settings).success
        state = integration_row(settings, credential_id)["sync_state"]
        before = stored(settings, client_id)

        emu.revoke("rt-gone")
        result = run(settings)
        assert not result.success
        assert "Amazon rejected the refresh token (invalid_grant)" in result.error_message
        assert "rt-gone" not in result.error_message
        row = integration_row(settings, credential_id)
        assert row["status"] == "error" and row["error_message"] == result.error_message
        assert row["sync_state"] == state
        assert stored(settings, client_id) == before


def test_incremental_on_sqlite_reads_the_changed_orders_in_one_page(tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-lite", orders=50, listings=5)
        settings = engine_settings(emu, tmp_path, None)
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-lite"))
        assert run(settings).success
        emu.change_orders("rt-lite", 3)
        emu.reset_counters()
        result = run(settings)
        assert result.success and (result.streams["orders"].new, result.streams["orders"].updated) == (0, 3)
        assert emu.counters.calls["searchOrders"] == 1 and emu.counters.v0_orders() == 0
        assert stored(settings, client_id)["orders"] == emu.orders_v2026("rt-lite")


def _set_orders_cursor(settings, credential_id: str, cursor: str) -> None:
    state = json.dumps({"orders": {"last_updated_before": cursor}})
    cast = "CAST(? AS jsonb)" if settings.store_kind == "postgres" else "?"
    execute(settings, f"UPDATE client_api_credentials SET sync_state = {cast} WHERE credential_id = ?",
            (state, credential_id))


def sku_truth(orders_v0: dict[str, dict], as_of: datetime) -> dict[str, dict]:
    """Units per window, 30-day revenue and orders per SKU, straight from the emulator's own orders."""
    out: dict[str, dict] = {}
    for order in orders_v0.values():
        if order["OrderStatus"] == "Canceled":
            continue
        placed = datetime.fromisoformat(order["PurchaseDate"].replace("Z", "+00:00"))
        for sku, qty, amount in lines(order):
            row = out.setdefault(sku, {"units_sold_7d": 0, "units_sold_30d": 0, "units_sold_90d": 0,
                                       "revenue_30d": Decimal(0), "orders_30d": set()})
            for days in (7, 30, 90):
                if as_of - timedelta(days=days) < placed <= as_of:
                    row[f"units_sold_{days}d"] += qty
            if as_of - timedelta(days=30) < placed <= as_of:
                row["revenue_30d"] += amount
                row["orders_30d"].add(order["AmazonOrderId"])
    for row in out.values():
        row["orders_30d"] = len(row["orders_30d"])
    return out


def assert_cache_is_the_truth(settings, client_id: str, truth: dict[str, dict]) -> None:
    as_of = datetime.now(timezone.utc)
    report = run_analysis(settings, client_id=client_id, as_of=as_of)
    assert report.exit_code == 0
    cache = read_cache(settings, client_id)
    keys = ("units_sold_7d", "units_sold_30d", "units_sold_90d", "revenue_30d", "orders_30d")
    assert {sku: {k: row[k] for k in keys} for sku, row in cache.items() if row["units_sold_90d"]} == \
        {sku: {k: row[k] for k in keys} for sku, row in truth.items() if row["units_sold_90d"]}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_orders_stored_in_the_v0_shape_count_and_a_re_read_replaces_them(kind, tmp_path, request):
    dsn = request.getfixturevalue("fresh_pg_dsn") if kind == "postgres" else None
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-old", orders=200, listings=20)
        settings = engine_settings(emu, tmp_path, dsn)
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-old"))
        # What an earlier version left behind: every order in the v0 shape, and the orders cursor.
        store_records(settings, client_id, credential_id, "amazon", "orders", emu.orders_v0("rt-old").items())
        _set_orders_cursor(settings, credential_id, iso(datetime.now(timezone.utc) - timedelta(minutes=3)))

        emu.change_orders("rt-old", 10)
        emu.add_orders("rt-old", 5)
        result = run(settings)
        assert result.success, result.error_message
        assert (result.streams["orders"].new, result.streams["orders"].updated) == (5, 10)
        rows = stored(settings, client_id)["orders"]
        shapes = Counter("v2026" if "orderId" in o else "v0" for o in rows.values())
        assert shapes == {"v2026": 15, "v0": 190}
        truth = sku_truth(emu.orders_v0("rt-old"), datetime.now(timezone.utc))
        assert_cache_is_the_truth(settings, client_id, truth)  # over the mixed table

        # The operator re-reads the client's order history (README: "Re-reading a data type").
        out = cli(settings, "reset-cursor", "--client-id", client_id, "--platform", "amazon", "--data-type", "orders",
                  "--due-now")
        assert out.returncode == 0, out.stderr
        assert f"Reset orders of {credential_id}" in out.stdout
        row = integration_row(settings, credential_id)
        assert "orders" not in row["sync_state"] and "products" in row["sync_state"]
        assert row["next_sync_at"] is None

        emu.reset_counters()
        again = run(settings)
        assert again.success, again.error_message
        orders = again.streams["orders"]
        assert (orders.new, orders.updated, orders.unchanged) == (0, 190, 15)
        rows = stored(settings, client_id)["orders"]
        assert rows == emu.orders_v2026("rt-old")  # every order in the new shape
        ids = [r[2] for r in data_rows(settings, client_id) if r[1] == "orders"]
        assert len(ids) == len(set(ids)) == 205  # none duplicated
        assert emu.counters.calls["searchOrders"] == 3 and emu.counters.v0_orders() == 0
        assert_cache_is_the_truth(settings, client_id, truth)


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update(settings.env)
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_buyer_data_only_with_the_setting_a_403_names_the_role_and_logs_hold_no_secret(fresh_pg_dsn, tmp_path):
    import logging
    import re

    from emulators.amazon import ROLE_ORDERS
    from sync.logs import Redactor, setup_logging

    with emulator(time_scale=600) as emu:
        emu.add_seller("Atzr|rt-pii-secret-refresh", orders=30, listings=5)
        secrets = emu.demo_secrets("Atzr|rt-pii-secret-refresh")
        paged = {"AMAZON_ORDERS_PAGE_SIZE": "10"}  # pages, so that pagination tokens are issued
        plain = engine_settings(emu, tmp_path, fresh_pg_dsn, LOG_LEVEL="DEBUG", **paged)
        client_id, credential_id = add_amazon(plain, secrets)
        redactor = Redactor(plain.secret_values())
        setup_logging("api_sync_cron", plain.log_dir, "DEBUG", redactor, console=False)
        try:
            def sync(settings):
                summary = SyncEngine(settings, redactor=redactor).run(RunParams(force=True, platform="amazon"))
                return summary.results[0]

            assert sync(plain).success
            rows = stored(plain, client_id)["orders"]
            assert len(rows) == 30 and not any({"buyer", "recipient"} & set(o) for o in rows.values())

            pii = engine_settings(emu, tmp_path, fresh_pg_dsn, AMAZON_ORDERS_PERSONAL_DATA="BUYER,RECIPIENT", **paged)
            cli(pii, "reset-cursor", "--credential-id", credential_id, "--data-type", "orders")
            result = sync(pii)
            assert result.success and result.streams["orders"].updated == 30  # now with the buyer sections
            rows = stored(pii, client_id)["orders"]
            assert rows == emu.orders_v2026("Atzr|rt-pii-secret-refresh",
                                            ("FULFILLMENT", "PROCEEDS", "BUYER", "RECIPIENT"))
            assert sum("buyerEmail" in o.get("buyer", {}) for o in rows.values()) > 0

            # SYNC_STORE_PII=false wins over the setting: the sections are not even asked for.
            private = engine_settings(emu, tmp_path, fresh_pg_dsn, AMAZON_ORDERS_PERSONAL_DATA="BUYER,RECIPIENT",
                                      SYNC_STORE_PII="false", **paged)
            cli(private, "reset-cursor", "--credential-id", credential_id, "--data-type", "orders")
            result = sync(private)
            assert result.success and result.streams["orders"].updated == 30
            assert not any({"buyer", "recipient"} & set(o) for o in stored(private, client_id)["orders"].values())

            emu.set_roles("Atzr|rt-pii-secret-refresh", {ROLE_ORDERS})  # the app lost its restricted role
            emu.change_orders("Atzr|rt-pii-secret-refresh", 2)
            result = sync(pii)
            assert not result.success and result.streams["products"].error is None  # only orders fails
            assert result.error_message.startswith("orders: Amazon denied searchOrders (403")
            assert "Direct-to-Consumer Shipping (Restricted)" in result.error_message
            assert integration_row(pii, credential_id)["error_message"] == result.error_message
        finally:
            root = logging.getLogger()
            for handler in [h for h in root.handlers if getattr(h, "_api_sync", False)]:
                root.removeHandler(handler)
                handler.close()
        log_text = (Path(plain.log_dir) / "api_sync_cron.log").read_text()
        assert "Direct-to-Consumer Shipping (Restricted)" in log_text  # the failure is logged...
        for secret in (secrets["refresh_token"], secrets["lwa_client_secret"], "rt-pii-secret-refresh"):
            assert secret not in log_text and secret not in result.error_message  # ...without any secret
        assert not re.search(r"Atza\|[A-Za-z0-9]", log_text)  # nor an access token
        tokens = list(emu._tokens._states)  # every pagination token the emulator issued
        assert tokens and not any(t in log_text for t in tokens)
        assert "@marketplace.amazon.com" not in log_text  # nor a buyer's e-mail


def test_quota_exceeded_and_an_expired_pagination_token_still_end_in_a_complete_sync(tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-rough", orders=450, listings=5)
        settings = engine_settings(emu, tmp_path, None, AMAZON_ORDERS_PAGE_SIZE="50")
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-rough"))
        emu.inject("throttle", "searchOrders", times=4, after=2)  # a QuotaExceeded burst in mid-listing
        emu.inject("expire_token", "searchOrders", after=5)  # then page 7's token has expired
        result = run(settings)
        assert result.success, result.error_message
        assert result.streams["orders"].new == 450
        assert stored(settings, client_id)["orders"] == emu.orders_v2026("rt-rough")
        assert emu.counters.throttled["searchOrders"] == 4
        # 9 pages; the refused 7th made the window be read again from its start: 6 + 1 + 9 answers
        assert emu.counters.calls["searchOrders"] == 6 + 1 + 9
        assert result.streams["orders"].unchanged == 6 * 50  # the re-read pages were absorbed by dedup


def test_a_backfill_stopped_mid_window_resumes_at_its_last_committed_page(tmp_path):
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-stop", orders=500, listings=5)
        settings = engine_settings(emu, tmp_path, None, AMAZON_ORDERS_PAGE_SIZE="50", AMAZON_MAX_RETRIES="1")
        client_id, credential_id = add_amazon(settings, emu.demo_secrets("rt-stop"))
        emu.inject("error503", "searchOrders", times=2, after=4)  # Amazon fails for good at page 5 of 10
        first = run(settings)
        assert not first.success and first.error_message.startswith("orders: Amazon kept failing on searchOrders")
        assert first.streams["orders"].new == 4 * 50  # the committed pages stay
        saved = integration_row(settings, credential_id)["sync_state"]["orders"]
        assert set(saved) == {"window"} and saved["window"]["token"]  # where the window stands, no cursor yet

        emu.reset_counters()
        second = run(settings)
        assert second.success, second.error_message
        assert (second.streams["orders"].new, second.streams["orders"].unchanged) == (300, 0)
        # pages 5 to 10 of the saved window, then one page for what changed since it ended: not from the start
        assert emu.counters.calls["searchOrders"] == 6 + 1
        assert stored(settings, client_id)["orders"] == emu.orders_v2026("rt-stop")
        assert set(integration_row(settings, credential_id)["sync_state"]["orders"]) == {"last_updated_before"}

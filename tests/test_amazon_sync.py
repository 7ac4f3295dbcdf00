"""Acceptance of the Amazon fetcher through the engine into PostgreSQL, real sp_api client over HTTP."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams

from .amazon_fixtures import add_amazon, emulator, engine_settings
from .engine_fixtures import data_rows, integration_row, query, results


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

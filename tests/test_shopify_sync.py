"""Shopify end to end: the engine, the real fetcher and the emulator over HTTP, into PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet

from emulators.shopify import ShopifyEmulator
from sync.config import Settings
from sync.engine import run_sync
from sync.ids import data_table
from sync.models import RunParams
from sync.store import open_store
from tests.engine_fixtures import add_client, query
from tests.shopify_fixtures import FAST, UNLIMITED

KEY = Fernet.generate_key().decode()
DATA_TYPES = ("orders", "products", "customers", "inventory")


def settings_for(emu: ShopifyEmulator, dsn: str, tmp_path, **env: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": dsn, "CREDENTIALS_ENCRYPTION_KEY": KEY, "LOG_DIR": str(tmp_path / "logs"),
                              "SHOPIFY_BASE_URL": emu.base_url, **FAST, **env}, load_dotenv=False)


def add_shop_integration(settings: Settings, domain: str, token: str) -> tuple[str, str]:
    return add_client(settings, "shopify", {"shop_domain": domain, "access_token": token}, name=domain)


def sync(settings: Settings, client_id: str):
    summary = run_sync(settings, RunParams(triggered_by="manual", force=True, client_id=client_id))
    assert len(summary.results) == 1
    return summary.results[0]


def stored_counts(settings: Settings, client_id: str) -> dict[str, tuple[int, int]]:
    rows = query(settings, f'SELECT data_type, count(*), count(DISTINCT external_id) FROM "{data_table(client_id)}" '
                           "GROUP BY data_type")
    return {r[0]: (r[1], r[2]) for r in rows}


def stored_hashes(settings: Settings, client_id: str) -> set[tuple[str, str, str]]:
    rows = query(settings, f'SELECT data_type, external_id, record_hash FROM "{data_table(client_id)}"')
    return {tuple(r) for r in rows}


def sync_state(settings: Settings, credential_id: str) -> dict:
    store = open_store(settings)
    try:
        return store.get_integration(credential_id).sync_state
    finally:
        store.close()


@pytest.fixture(scope="module")
def big_shop():
    """A 5,000-order shop with products, customers and two locations, shared by the tests below."""
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop("big-shop.myshopify.com", "shpat_big_shop", orders=5000, products=300, customers=1000,
                     locations=2, seed=5)
        yield emu


@pytest.mark.long  # ~20 s each: run by .ci/run's long suites
def test_a_5000_order_shop_paged_then_incremental_and_by_bulk(big_shop, fresh_pg_dsn, tmp_path):
    emu, domain = big_shop, "big-shop.myshopify.com"
    shop = emu.shop(domain)
    settings = settings_for(emu, fresh_pg_dsn, tmp_path, SHOPIFY_BULK="off")
    client_id, credential_id = add_shop_integration(settings, domain, "shpat_big_shop")

    first = sync(settings, client_id)
    assert first.success, first.error_message
    expected = shop.counts()
    assert expected["orders"] == 5000 and expected["inventory"] > 0
    assert stored_counts(settings, client_id) == {t: (expected[t], expected[t]) for t in DATA_TYPES}
    assert all(first.streams[t].new == expected[t] for t in DATA_TYPES)
    assert set(sync_state(settings, credential_id)) == set(DATA_TYPES) | {"deletions"}  # and the deletion feed's

    # The same shop's first sync through bulk operations (SHOPIFY_BULK=auto) stores the same rows.
    bulk = settings_for(emu, fresh_pg_dsn, tmp_path)
    bulk_client, bulk_credential = add_shop_integration(bulk, domain, "shpat_big_shop")
    by_bulk = sync(bulk, bulk_client)
    assert by_bulk.success, by_bulk.error_message
    assert shop.stats.bulk_started == len(DATA_TYPES) + 1  # orders in two halves
    assert stored_hashes(bulk, bulk_client) == stored_hashes(settings, client_id)
    assert set(sync_state(bulk, bulk_credential)) == set(DATA_TYPES) | {"deletions"}

    # No changes: one request per data type (its count riding along for the audit), the connection test and
    # the deletion feed.
    before = shop.stats.total_requests
    quiet = sync(settings, client_id)
    assert quiet.success and all(quiet.streams[t].new == quiet.streams[t].updated == 0 for t in DATA_TYPES)
    assert shop.stats.total_requests - before == 1 + len(DATA_TYPES) + 1

    # 20 orders change, 10 are added: exactly 10 new and 20 updated.
    emu.touch_orders(domain, 20)
    emu.add_orders(domain, 10)
    second = sync(settings, client_id)
    assert second.success, second.error_message
    assert (second.streams["orders"].new, second.streams["orders"].updated) == (10, 20)
    assert stored_counts(settings, client_id)["orders"] == (5010, 5010)
    # The bulk-synced integration catches up incrementally with the same counts (a small delta pages).
    catch_up = sync(bulk, bulk_client)
    assert (catch_up.streams["orders"].new, catch_up.streams["orders"].updated) == (10, 20)
    assert shop.stats.bulk_started == len(DATA_TYPES) + 1
    assert stored_hashes(bulk, bulk_client) == stored_hashes(settings, client_id)


def test_bulk_result_cut_short_is_detected_and_the_cursor_stays(fresh_pg_dsn, tmp_path):
    domain, token = "cut-short.myshopify.com", "shpat_cut_short"
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(domain, token, orders=400, products=30, customers=50)
        emu.cut_bulk_short(domain, 5)
        settings = settings_for(emu, fresh_pg_dsn, tmp_path, SHOPIFY_PAGE_RECORDS="100")
        client_id, credential_id = add_shop_integration(settings, domain, token)
        failed = sync(settings, client_id)
        assert not failed.success
        assert "announced" in failed.streams["orders"].error
        assert "orders" not in sync_state(settings, credential_id)
        emu.cut_bulk_short(domain, 0)
        again = sync(settings, client_id)
        assert again.success, again.error_message
        assert stored_counts(settings, client_id)["orders"] == (400, 400)
        assert "orders" in sync_state(settings, credential_id)


def test_missing_scope_skips_one_data_type_and_a_bad_token_fails(fresh_pg_dsn, tmp_path):
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop("scoped.myshopify.com", "shpat_scoped", orders=30, products=10, customers=10)
        emu.deny("scoped.myshopify.com", "customers")
        settings = settings_for(emu, fresh_pg_dsn, tmp_path, SHOPIFY_BULK="off")
        client_id, _ = add_shop_integration(settings, "scoped.myshopify.com", "shpat_scoped")
        result = sync(settings, client_id)
        assert result.success, result.error_message
        assert "read_customers" in result.streams["customers"].skipped
        assert result.streams["orders"].new == 30

        bad_client, bad_credential = add_shop_integration(settings, "scoped.myshopify.com", "shpat_revoked_token")
        bad = sync(settings, bad_client)
        assert not bad.success
        # (the engine redacts every secrets value, the shop domain included, from stored messages)
        assert "Shopify rejected the access token for" in bad.error_message
        assert "shpat_revoked_token" not in bad.error_message
        store = open_store(settings)
        try:
            assert store.get_integration(bad_credential).status == "error"
        finally:
            store.close()


def test_without_read_all_orders_the_60_days_shopify_shows_are_stored_and_the_rest_is_said(fresh_pg_dsn, tmp_path):
    # Without read_all_orders Shopify shows an app only the orders of the last 60 days, with no error, and
    # counts only those: the audit cannot see the gap. The connection test reads the app's scopes, and the
    # orders' result says what is hidden and what to do; once granted, a re-read brings the whole history.
    domain, token = "recent-only.myshopify.com", "shpat_recent_only"
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(domain, token, orders=60, products=5, customers=5)
        emu.withhold_scope(domain, "read_all_orders")
        recent = {order["id"] for order in shop.orders()}
        assert 0 < len(recent) < 60
        settings = settings_for(emu, fresh_pg_dsn, tmp_path)
        client_id, credential_id = add_shop_integration(settings, domain, token)
        result = sync(settings, client_id)
        assert result.success, result.error_message
        orders = result.data_types_synced()["orders"]
        assert orders["new"] == len(recent) and orders["audit"]["platform"] == len(recent)
        assert "read_all_orders" in orders["note"] and "60 days" in orders["note"] and "***" not in orders["note"]
        assert all("note" not in entry for name, entry in result.data_types_synced().items() if name != "orders")
        stored = query(settings, f'SELECT external_id FROM "{data_table(client_id)}" WHERE data_type = \'orders\'')
        assert {row[0] for row in stored} == recent

        shop.scopes.add("read_all_orders")  # the merchant approved it
        store = open_store(settings)
        try:
            assert store.reset_cursors(credential_id, ["orders"], True, datetime.now(timezone.utc))
        finally:
            store.close()
        result = sync(settings, client_id)
        orders = result.data_types_synced()["orders"]
        assert result.success and "note" not in orders
        assert (orders["new"], orders["unchanged"], orders["audit"]["stored"]) == (60 - len(recent), len(recent), 60)


def test_first_sync_runs_the_exports_together_and_ungrouped_equals_grouped(fresh_pg_dsn, tmp_path):
    """The four exports (orders in two halves) run at once, each is stored as it completes, and the
    ungrouped output (children shuffled, some before their parent) stores exactly what grouped output does."""
    from emulators.shopify.bulk import overlapping

    domain, token = "together.myshopify.com", "shpat_together"
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(domain, token, orders=600, products=60, customers=150, locations=3, seed=9)
        emu.set_bulk_timing(domain, seconds=1.0, objects_per_second=4000)
        shop.bulk_shuffle_window = 200
        settings = settings_for(emu, fresh_pg_dsn, tmp_path)
        client_id, credential_id = add_shop_integration(settings, domain, token)
        first = sync(settings, client_id)
        assert first.success, first.error_message
        log = emu.bulk_log(domain)
        assert sorted(e.root for e in log) == ["customers", "locations", "orders", "orders", "products"]
        assert overlapping(log) == 5
        expected = shop.counts()
        assert stored_counts(settings, client_id) == {t: (expected[t], expected[t]) for t in DATA_TYPES}
        assert set(sync_state(settings, credential_id)) == set(DATA_TYPES) | {"deletions"}  # and the deletion feed's

        grouped = settings_for(emu, fresh_pg_dsn, tmp_path, SHOPIFY_BULK_GROUP_OBJECTS="true")
        grouped_client, _ = add_shop_integration(grouped, domain, token)
        assert sync(grouped, grouped_client).success
        assert stored_hashes(grouped, grouped_client) == stored_hashes(settings, client_id)


@pytest.mark.long  # ~20 s each: run by .ci/run's long suites
def test_at_restore_rate_50_a_small_delta_pages_a_large_one_exports_and_a_quiet_sync_is_cheap(fresh_pg_dsn, tmp_path):
    """Paging 1,200 changed orders at 50 points/s would take about ten minutes by Shopify's figures; the
    estimate sends them to a bulk export and the sync takes seconds. 30 changed orders page. A sync with
    nothing changed sends one request per data type plus the connection test, and after the first sync
    no request is refused for cost (THROTTLED or MAX_COST_EXCEEDED)."""
    import time

    domain, token = "rate-fifty.myshopify.com", "shpat_rate_fifty"
    with ShopifyEmulator(restore_rate=50, bucket_size=1000) as emu:
        shop = emu.add_shop(domain, token, orders=1300, products=20, customers=30, locations=2, seed=3)
        settings = settings_for(emu, fresh_pg_dsn, tmp_path, SYNC_LOOKBACK_MINUTES="0")
        client_id, _ = add_shop_integration(settings, domain, token)
        assert sync(settings, client_id).success  # first sync: bulk exports
        exports, refused = len(emu.bulk_log(domain)), (shop.stats.throttled, shop.stats.max_cost_exceeded)

        before = shop.stats.total_requests
        quiet = sync(settings, client_id)
        assert quiet.success and all(c.new == c.updated == 0 for c in quiet.streams.values())
        # The connection test, one request per data type (its count riding along for the audit) and one for
        # the deletion feed: completeness costs at most one more request per data type.
        assert shop.stats.total_requests - before == 1 + len(DATA_TYPES) + 1

        emu.touch_orders(domain, 30)
        small = sync(settings, client_id)
        assert small.success and small.streams["orders"].updated == 30
        assert len(emu.bulk_log(domain)) == exports  # paged

        emu.touch_orders(domain, 1200)
        started = time.monotonic()
        large = sync(settings, client_id)
        seconds = time.monotonic() - started
        assert large.success and large.streams["orders"].updated >= 1200
        assert seconds <= 90, f"1,200 changed orders took {seconds:.0f} s"
        assert len(emu.bulk_log(domain)) > exports  # exported
        assert (shop.stats.throttled, shop.stats.max_cost_exceeded) == refused

"""The Shopify fetcher against the emulator, without the engine: completeness, incremental reads,
retries and throttling, access errors, bulk operations and their checks."""

from __future__ import annotations

import time

import pytest

from emulators.shopify import ShopifyEmulator
from sync.errors import AuthError, DataTypeSkipped, IncompleteDataError, PlatformError
from sync.hashing import canonical_json
from sync.platforms.shopify import queries
from tests.shopify_fixtures import UNLIMITED, connect, drain, last_state, request

DOMAIN, TOKEN = "fetch-test.myshopify.com", "shpat_fetch_test_secret_value"


@pytest.fixture
def emu():
    with ShopifyEmulator(**UNLIMITED) as emulator:
        emulator.add_shop(DOMAIN, TOKEN, orders=200, products=45, customers=60, locations=2)
        yield emulator


def test_connection_test_names_the_shop(emu):
    assert connect(emu, DOMAIN, TOKEN).test().startswith("Fetch Test (fetch-test.myshopify.com")


def test_rejected_token_is_an_auth_error_without_the_token(emu):
    with pytest.raises(AuthError) as info:
        connect(emu, DOMAIN, "shpat_wrong_token_value").test()
    assert f"Shopify rejected the access token for {DOMAIN}" in str(info.value)
    assert "shpat_wrong_token_value" not in str(info.value)


def test_paged_sync_is_complete_with_every_child(emu):
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    shop = emu.shop(DOMAIN)
    _, orders = drain(conn, request("orders"))
    assert len(orders) == len(shop.data.orders)
    for order in shop.data.orders.values():
        stored = orders[order["id"]].data
        assert [li["id"] for li in stored["lineItems"]] == [li["id"] for li in order["lineItems"]]
        assert stored["cancelledAt"] == order["cancelledAt"]
    assert any(len(o.data["lineItems"]) > 5 for o in orders.values()), "nested pagination not exercised"
    _, products = drain(conn, request("products"))
    assert len(products) == len(shop.data.products)
    assert any(len(p.data["variants"]) > 10 for p in products.values())
    assert all(v["sku"] and v["inventoryItem"]["id"] for p in products.values() for v in p.data["variants"])
    _, customers = drain(conn, request("customers"))
    assert len(customers) == len(shop.data.customers)
    pages, levels = drain(conn, request("inventory"))
    assert len(levels) == shop.counts()["inventory"]
    quantities = next(iter(levels.values())).data["quantities"]
    assert {q["name"] for q in quantities} >= {"available", "on_hand"}
    assert all(p.state is None for p in pages[:-1]) and pages[-1].state  # unordered: cursor at the end only


def test_incremental_read_from_the_cursor(emu):
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    pages, _ = drain(conn, request("orders"))
    state = last_state(pages)
    touched = set(emu.touch_orders(DOMAIN, 5))
    added = set(emu.add_orders(DOMAIN, 3))
    pages, records = drain(conn, request("orders", state))
    assert touched | added <= set(records)
    assert len(records) < 40  # the delta and the lookback overlap, not the shop
    assert last_state(pages)["updated_at"] >= max(records[i].data["updatedAt"] for i in touched | added)


def test_unchanged_orders_with_long_children_are_not_refetched(emu):
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    _, records = drain(conn, request("orders"))
    versions = {r.external_id: r.updated_at for r in records.values()}
    before = emu.shop(DOMAIN).stats.requests["OrderLineItems"]
    pages, again = drain(conn, request("orders", stored=lambda ids: {i: versions[i] for i in ids}))
    skipped = sum(p.skipped_unchanged for p in pages)
    assert skipped == sum(1 for r in records.values() if len(r.data["lineItems"]) > 5) > 0
    assert len(again) + skipped == len(records)
    assert emu.shop(DOMAIN).stats.requests["OrderLineItems"] == before


def test_transient_faults_are_retried(emu):
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off", SHOPIFY_TIMEOUT_SECONDS="0.3")
    emu.inject("429", retry_after=0.3, operation="Customers")
    emu.inject("5xx", times=2, status=502, operation="Customers")
    emu.inject("drop", operation="Customers")
    emu.inject("slow", delay=1.0, operation="Customers")
    started = time.monotonic()
    _, customers = drain(conn, request("customers"))
    assert len(customers) == 60
    assert time.monotonic() - started >= 0.3  # Retry-After honoured
    assert emu.shop(DOMAIN).stats.requests["Customers"] == 6


def test_an_internal_error_inside_a_200_is_retried(emu):
    """Shopify reports a failure of its GraphQL layer as HTTP 200 with INTERNAL_SERVER_ERROR (not a 500);
    it is as transient as a 500 and must not fail the data type."""
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    emu.inject("internal", times=2, operation="Customers")
    _, customers = drain(conn, request("customers"))
    assert len(customers) == 60
    assert emu.shop(DOMAIN).stats.requests["Customers"] >= 3


def test_retries_run_out_with_a_clear_error(emu):
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off", SHOPIFY_MAX_RETRIES="2")
    emu.inject("5xx", times=5, status=503, operation="Products")
    with pytest.raises(PlatformError) as info:
        drain(conn, request("products"))
    assert "did not answer Products" in str(info.value) and "after 3 attempts" in str(info.value)
    assert TOKEN not in str(info.value)


def test_throttled_answers_are_waited_out():
    with ShopifyEmulator(restore_rate=4000, bucket_size=1000) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=150, products=5, customers=5)
        conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
        emu.set_throttle(DOMAIN, available=0)
        _, orders = drain(conn, request("orders"))
        assert len(orders) == 150
        assert emu.shop(DOMAIN).stats.throttled >= 1
        assert conn.client.throttled_answers == emu.shop(DOMAIN).stats.throttled


def test_missing_scope_skips_the_data_type(emu):
    emu.deny(DOMAIN, "customers")
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    with pytest.raises(DataTypeSkipped) as info:
        drain(conn, request("customers"))
    assert "read_customers" in str(info.value) and DOMAIN in str(info.value)
    _, orders = drain(conn, request("orders"))
    assert orders


def test_bulk_first_sync_gives_the_same_records_as_paging(emu):
    paged = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
    bulk = connect(emu, DOMAIN, TOKEN)  # auto: a first sync runs bulk operations
    for data_type in ("orders", "products", "customers", "inventory"):
        _, by_page = drain(paged, request(data_type))
        pages, by_bulk = drain(bulk, request(data_type))
        assert set(by_page) == set(by_bulk), data_type
        for key, record in by_page.items():
            assert canonical_json(record.data) == canonical_json(by_bulk[key].data), (data_type, key)
        assert all(p.state is None for p in pages[:-1]) and pages[-1].state
    # Five operations: orders in two halves by creation time (free slots), one for each other data type.
    assert emu.shop(DOMAIN).stats.bulk_started == 5
    assert sorted(e.root for e in emu.bulk_log(DOMAIN)) == ["customers", "locations", "orders", "orders", "products"]


def test_bulk_result_cut_short_stores_nothing_and_keeps_the_cursor(emu):
    """With ungrouped output a missing line may be any order's line item: no record of an export whose
    file lacks announced lines is handed over, so none is stored incomplete."""
    emu.shop(DOMAIN).bulk_cut_short = 3
    conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_PAGE_RECORDS="50")
    pages = []
    with pytest.raises(IncompleteDataError) as info:
        for page in conn.fetch(request("orders")):
            pages.append(page)
    assert "announced" in str(info.value) and "nothing was stored" in str(info.value)
    assert pages == []


def test_failed_bulk_operation_keeps_the_cursor(emu):
    emu.shop(DOMAIN).bulk_fail = True
    conn = connect(emu, DOMAIN, TOKEN)
    with pytest.raises(IncompleteDataError) as info:
        list(conn.fetch(request("products")))
    assert "FAILED" in str(info.value)


def test_a_delta_that_would_page_too_long_is_read_by_bulk_and_a_small_one_pages():
    """Bulk or paging by the estimated paging time: the delta's count, the points a record cost on the
    first page, the bucket's restore rate. At 20 points/s, 120 changed orders would page for about two
    minutes; 8 would not."""
    with ShopifyEmulator(restore_rate=20, bucket_size=2000) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=200, products=10, customers=5)
        pages, _ = drain(connect(emu, DOMAIN, TOKEN), request("orders", lookback_minutes=0))  # first: bulk
        state = last_state(pages)
        assert len(emu.bulk_log(DOMAIN)) == 2
        small = set(emu.touch_orders(DOMAIN, 8))
        before = emu.shop(DOMAIN).stats.requests["Orders"]
        pages, records = drain(connect(emu, DOMAIN, TOKEN), request("orders", state, lookback_minutes=0))
        assert small <= set(records) and len(emu.bulk_log(DOMAIN)) == 2  # paged
        assert emu.shop(DOMAIN).stats.requests["Orders"] - before == 1  # the count rode on the first page
        state = last_state(pages)
        changed = set(emu.touch_orders(DOMAIN, 120))
        pages, records = drain(connect(emu, DOMAIN, TOKEN), request("orders", state, lookback_minutes=0))
        assert changed <= set(records)
        assert [e.root for e in emu.bulk_log(DOMAIN)] == ["orders"] * 4  # two halves, twice
        state = last_state(pages)
        assert state["points_per_record"] > 10  # measured on the first page, kept for the next sync


def test_pages_shrink_to_what_shopifys_refusal_says_fits_and_the_next_sync_starts_there():
    with ShopifyEmulator(**UNLIMITED, max_query_cost=300) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=60, products=5, customers=5)
        conn = connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off")
        pages, orders = drain(conn, request("orders"))
        assert len(orders) == 60
        assert emu.shop(DOMAIN).stats.max_cost_exceeded == 1  # the error's cost and maxCost size the page
        state = last_state(pages)
        assert 1 <= state["page_sizes"]["Orders"] < queries.ORDERS_PAGE
        emu.touch_orders(DOMAIN, 10)
        drain(connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off"), request("orders", state))
        assert emu.shop(DOMAIN).stats.max_cost_exceeded == 1  # remembered: no refusal the next time


def test_page_sizes_follow_shopifys_requested_cost_and_are_remembered():
    """Shopify's own requestedQueryCost is often far below the documented formula: pages grow to what
    the answers say fits (at most 250), and the next sync starts at that size."""
    with ShopifyEmulator(**UNLIMITED, requested_cost_scale=0.1) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=600, products=5, customers=5)
        pages, orders = drain(connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off"), request("orders"))
        assert len(orders) == 600
        sizes = [v["first"] for op, v in emu.shop(DOMAIN).stats.sent if op == "Orders"]
        assert sizes[0] == queries.ORDERS_PAGE and all(200 <= n <= 250 for n in sizes[1:]) and len(sizes) <= 5
        state = last_state(pages)
        assert state["page_sizes"]["Orders"] == sizes[-1]
        emu.touch_orders(DOMAIN, 300)
        drain(connect(emu, DOMAIN, TOKEN, SHOPIFY_BULK="off"), request("orders", state))
        later = [v["first"] for op, v in emu.shop(DOMAIN).stats.sent if op == "Orders"][len(sizes):]
        assert later[0] == state["page_sizes"]["Orders"]


def test_when_other_operations_hold_the_slots_the_export_waits_and_retries(emu):
    from sync.platforms.shopify import queries

    shop = emu.shop(DOMAIN)
    shop.bulk_seconds = 0.5
    shop.bulk_limit = 1  # every slot the app may use is taken by the one below
    with shop.lock:
        leftover = shop.run_bulk(queries.BULK_CUSTOMERS.render(None))  # an earlier run's operation
    assert leftover["userErrors"] == []
    _, orders = drain(connect(emu, DOMAIN, TOKEN), request("orders"))
    assert len(orders) == len(shop.data.orders)
    log = emu.bulk_log(DOMAIN)
    assert [e.root for e in log] == ["customers", "orders", "orders"]
    assert log[0].finished <= log[1].started and log[1].finished <= log[2].started  # one at a time
    assert shop.stats.requests["BulkRun"] > 3  # refused (LIMIT_REACHED) while the slot was held, then retried
    assert shop.stats.requests["BulkRunning"] == 1  # whose operations hold the slots: asked once

"""The Shopify emulator answers as Shopify documents it: auth, validation, search, pagination, cost and
throttling, access denied, bulk operations and injected faults."""

from __future__ import annotations

import json
import time

import pytest
import requests

from emulators.shopify import ShopifyEmulator
from sync.platforms.shopify import queries
from tests.shopify_fixtures import UNLIMITED

DOMAIN, TOKEN = "emu-test.myshopify.com", "shpat_emu_test"


@pytest.fixture(scope="module")
def emu():
    with ShopifyEmulator(**UNLIMITED) as emulator:
        emulator.add_shop(DOMAIN, TOKEN, orders=120, products=25, customers=40, locations=2)
        yield emulator


def post(emu, query, variables=None, token=TOKEN, version="2026-10"):
    return requests.post(f"{emu.base_url}/admin/api/{version}/graphql.json",
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": token}, timeout=10)


def orders_page(emu, **variables):
    base = {"first": 20, "withCount": False, "lineItemsFirst": 5, "query": None, "after": None}
    answer = post(emu, queries.ORDERS, {**base, **variables})
    assert answer.status_code == 200
    return answer.json()


def test_unknown_token_gets_shopifys_401(emu):
    answer = post(emu, queries.SHOP, token="shpat_nobody")
    assert answer.status_code == 401
    assert answer.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_shop_query_and_cost_extension(emu):
    answer = post(emu, queries.SHOP)
    body = answer.json()
    assert body["data"]["shop"]["myshopifyDomain"] == DOMAIN
    assert answer.headers["X-Shopify-API-Version"] == "2026-10"
    cost = body["extensions"]["cost"]
    assert set(cost) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


def test_an_invalid_document_is_refused_like_shopify(emu):
    body = post(emu, "{ orders(first: 1) { nodes { id noSuchField } } }").json()
    assert "data" not in body and "noSuchField" in body["errors"][0]["message"]


def test_a_connection_needs_first_or_last(emu):
    body = post(emu, "{ orders { nodes { id } } }").json()
    assert body["errors"][0]["message"] == "you must provide one of first or last"


def test_cursor_pagination_sorted_by_updated_at_covers_every_order_once(emu):
    seen, after, previous = [], None, ""
    while True:
        page = orders_page(emu, after=after)["data"]["orders"]
        for node in page["nodes"]:
            assert node["updatedAt"] >= previous
            previous = node["updatedAt"]
            seen.append(node["id"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 120


def test_search_filter_and_count(emu):
    all_orders = sorted(o["updatedAt"] for o in emu.shop(DOMAIN).data.orders.values())
    pivot = all_orders[100]
    body = orders_page(emu, query=f"updated_at:>='{pivot}'", withCount=True, first=40, lineItemsFirst=1)
    expected = sum(1 for t in all_orders if t >= pivot)
    assert body["data"]["ordersCount"] == {"count": expected, "precision": "EXACT"}
    assert len(body["data"]["orders"]["nodes"]) == expected
    assert all(n["updatedAt"] >= pivot for n in body["data"]["orders"]["nodes"])


def test_nested_connection_pages(emu):
    shop = emu.shop(DOMAIN)
    big = next(o for o in shop.data.orders.values() if len(o["lineItems"]) > 5)
    first = post(emu, queries.ORDER_LINE_ITEMS, {"id": big["id"], "first": 5}).json()["data"]["order"]["lineItems"]
    assert first["pageInfo"]["hasNextPage"]
    rest = post(emu, queries.ORDER_LINE_ITEMS, {"id": big["id"], "first": 100,
                                                "after": first["pageInfo"]["endCursor"]}).json()
    ids = [n["id"] for n in first["nodes"]] + [n["id"] for n in rest["data"]["order"]["lineItems"]["nodes"]]
    assert ids == [li["id"] for li in big["lineItems"]]


def test_max_cost_exceeded(emu):
    body = orders_page(emu, first=250, lineItemsFirst=250)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED" and error["extensions"]["maxCost"] == 1000


def test_throttled_when_the_bucket_is_short_then_restored():
    with ShopifyEmulator(restore_rate=500, bucket_size=1000) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=30, products=5, customers=5)
        first = orders_page(emu)
        requested = first["extensions"]["cost"]["requestedQueryCost"]
        assert requested > 500
        emu.set_throttle(DOMAIN, available=0)
        throttled = orders_page(emu)
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        status = throttled["extensions"]["cost"]["throttleStatus"]
        assert status["restoreRate"] == 500 and status["currentlyAvailable"] < requested
        time.sleep((requested - status["currentlyAvailable"]) / 500 + 0.05)
        assert "errors" not in orders_page(emu)
        assert emu.shop(DOMAIN).stats.throttled == 1


def test_access_denied_for_a_missing_scope():
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=3, products=2, customers=2)
        emu.deny(DOMAIN, "customers")
        body = post(emu, queries.CUSTOMERS, {"first": 10, "withCount": False}).json()
        assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
        assert body["data"] is None


def wait_bulk(emu, op_id):
    for _ in range(200):
        node = post(emu, queries.BULK_STATUS, {"id": op_id}).json()["data"]["bulkOperation"]
        if node["status"] == "COMPLETED":
            return node
        time.sleep(0.05)
    raise AssertionError(f"bulk operation still {node['status']}")


def run_bulk(emu, query, group=False):
    return post(emu, queries.BULK_RUN, {"query": query, "groupObjects": group}).json()["data"]["bulkOperationRunQuery"]


def test_bulk_operation_writes_jsonl_with_parent_ids(emu):
    run = run_bulk(emu, queries.BULK_ORDERS.render(None), group=True)
    assert run["userErrors"] == []
    node = wait_bulk(emu, run["bulkOperation"]["id"])
    lines = [json.loads(line) for line in requests.get(node["url"], timeout=10).content.splitlines()]
    assert len(lines) == int(node["objectCount"])
    roots = [line for line in lines if "__parentId" not in line]
    assert len(roots) == int(node["rootObjectCount"]) == 120
    children = [line for line in lines if "__parentId" in line]
    assert {c["__parentId"] for c in children} <= {r["id"] for r in roots}
    assert all("lineItems" not in r for r in roots)


def test_five_bulk_operations_at_once_and_the_sixth_is_refused():
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=10, products=3, customers=3)
        emu.shop(DOMAIN).bulk_seconds = 30.0
        started = [run_bulk(emu, queries.BULK_CUSTOMERS.render(None)) for _ in range(5)]
        assert all(r["userErrors"] == [] for r in started)
        sixth = run_bulk(emu, queries.BULK_CUSTOMERS.render(None))
        assert sixth["bulkOperation"] is None
        assert sixth["userErrors"] == [{"field": None, "code": "LIMIT_REACHED",
                                        "message": "Bulk operations limit reached. Please try again later."}]
        listed = post(emu, queries.BULK_RUNNING).json()["data"]["bulkOperations"]["nodes"]
        assert [n["id"] for n in listed] == [r["bulkOperation"]["id"] for r in reversed(started)]  # newest first
        assert {n["status"] for n in listed} == {"RUNNING"}
        cancel = post(emu, queries.BULK_CANCEL, {"id": started[0]["bulkOperation"]["id"]}).json()
        assert cancel["data"]["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELED"
        assert run_bulk(emu, queries.BULK_CUSTOMERS.render(None))["userErrors"] == []


def test_bulk_query_must_hold_a_connection(emu):
    assert run_bulk(emu, "{ shop { name } }")["userErrors"][0]["message"] == \
        "Bulk queries must contain at least one connection."


def test_faults_429_5xx_drop():
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=3, products=2, customers=2)
        emu.inject("429", retry_after=1.5)
        emu.inject("5xx", status=503)
        emu.inject("drop")
        answer = post(emu, queries.SHOP)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "1.5"
        assert post(emu, queries.SHOP).status_code == 503
        with pytest.raises(requests.ConnectionError):
            post(emu, queries.SHOP)
        assert post(emu, queries.SHOP).status_code == 200


def test_two_shops_on_one_emulator_are_told_apart_by_token():
    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop("one.myshopify.com", "tok-one", orders=3)
        emu.add_shop("two.myshopify.com", "tok-two", orders=7)
        for token, count in (("tok-one", 3), ("tok-two", 7)):
            body = post(emu, "{ ordersCount { count } }", token=token).json()
            assert body["data"]["ordersCount"]["count"] == count


def test_reference_schema_validation_when_given():
    from tests.shopify_fixtures import reference_schema

    with ShopifyEmulator(**UNLIMITED, reference_schema=reference_schema()) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=2)
        assert "errors" not in post(emu, queries.SHOP).json()
        # A real field the subset lacks passes the reference, then the subset refuses it: never silently.
        body = post(emu, "{ shop { email } }").json()
        assert body["errors"] and "email" in body["errors"][0]["message"]
        body = post(emu, "{ shop { noSuchField } }").json()
        assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.parametrize("asked, served", [("2026-10", "2026-10"), ("2026-01", "2026-01"), ("2025-01", "2026-01"),
                                           ("2024-04", "2026-01"), ("unstable", "unstable")])
def test_a_supported_version_is_served_and_an_unsupported_one_falls_forward(emu, asked, served):
    answer = post(emu, queries.SHOP, version=asked)
    assert answer.status_code == 200 and answer.headers["X-Shopify-API-Version"] == served


def _lines_of(node):
    return [json.loads(line) for line in requests.get(node["url"], timeout=10).content.splitlines()]


def test_bulk_output_is_ungrouped_unless_asked_and_both_hold_the_same_objects(emu):
    emu.shop(DOMAIN).bulk_shuffle_window = 50
    ungrouped = _lines_of(wait_bulk(emu, run_bulk(emu, queries.BULK_ORDERS.render(None))["bulkOperation"]["id"]))
    grouped = _lines_of(wait_bulk(emu, run_bulk(emu, queries.BULK_ORDERS.render(None), group=True)
                                  ["bulkOperation"]["id"]))
    key = lambda line: json.dumps(line, sort_keys=True)  # noqa: E731
    assert sorted(map(key, ungrouped)) == sorted(map(key, grouped))

    def children_before_parent(lines):
        seen, early = set(), 0
        for line in lines:
            if "__parentId" in line and line["__parentId"] not in seen:
                early += 1
            seen.add(line["id"])
        return early

    assert children_before_parent(grouped) == 0
    assert children_before_parent(ungrouped) > 0  # a child may come before its parent


def test_exports_take_start_up_plus_objects_at_a_rate_and_the_log_shows_them_overlap():
    from emulators.shopify.bulk import overlapping

    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=100, products=10, customers=50)
        emu.set_bulk_timing(DOMAIN, seconds=0.3, objects_per_second=500)
        ids = [run_bulk(emu, queries.BULK_CUSTOMERS.render(None))["bulkOperation"]["id"] for _ in range(3)]
        started = time.monotonic()
        for op_id in ids:
            wait_bulk(emu, op_id)
        log = emu.bulk_log(DOMAIN)
        assert [e.root for e in log] == ["customers"] * 3 and {e.status for e in log} == {"COMPLETED"}
        assert all(e.finished - e.started >= 0.3 + 50 / 500 for e in log)
        assert overlapping(log) == 3
        assert time.monotonic() - started < 3 * (0.3 + 50 / 500)


def test_requested_and_actual_cost_follow_the_cost_scale():
    body = {"first": 20, "withCount": False, "lineItemsFirst": 5, "query": None, "after": None}
    with ShopifyEmulator(**UNLIMITED, requested_cost_scale=0.1) as emu:
        emu.add_shop(DOMAIN, TOKEN, orders=30)
        cost = post(emu, queries.ORDERS, body).json()["extensions"]["cost"]
        assert cost["requestedQueryCost"] == round(queries.REQUESTED_COST["Orders"] * 0.1)
        assert 1 <= cost["actualQueryCost"] <= cost["requestedQueryCost"]

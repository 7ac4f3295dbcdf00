"""The SP-API emulator answers as the public models say: envelopes, rules, errors, usage plans, faults."""

from __future__ import annotations

import gzip
import re
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from emulators.amazon import (ROLE_ORDERS, USAGE_PLANS, V0_ORDERS_LEDGER, V0_ORDERS_OPERATIONS, AmazonEmulator,
                              V0Ledger)
from sync.platforms.amazon.ratelimit import DOCUMENTED_LIMITS

from .amazon_fixtures import DE, GB, US, model, validate

ORDERS = "orders_2026-01-01.json"
ORDERS_V0 = "ordersV0.json"
REPORTS = "reports_2021-06-30.json"
INVENTORY = "fbaInventory.json"
SELLERS = "sellers.json"
# model -> (its operationIds, the prefix of the emulator's names for them)
OPERATIONS = {ORDERS: (("searchOrders", "getOrder"), ""),
              ORDERS_V0: (tuple(op[3:] for op in V0_ORDERS_OPERATIONS), "v0."),
              REPORTS: (("getReports", "createReport", "getReport", "getReportDocument"), ""),
              INVENTORY: (("getInventorySummaries",), ""), SELLERS: (("getMarketplaceParticipations",), "")}
ALL_SECTIONS = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,FULFILLMENT_ORDERS"
SEARCH = "/orders/2026-01-01/orders"
SCALE = 5000  # the module emulator's time scale: searchOrders' 0.0056/s becomes 28/s


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def emu():
    with AmazonEmulator(time_scale=SCALE, report_processing_seconds=0.6, inventory_page_size=7,
                        next_token_ttl=0.5) as emu:
        emu.add_seller("rt-us", orders=30, listings=12)
        emu.add_seller("rt-eu", orders=5, listings=9, marketplaces=[GB, DE])
        emu.add_seller("rt-nofba", orders=3, listings=4, fba=False)
        yield emu


def token(emu, refresh_token="rt-us") -> dict[str, str]:
    secrets = emu.demo_secrets(refresh_token)
    r = httpx.post(emu.lwa_token_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                            "client_id": secrets["lwa_app_id"],
                                            "client_secret": secrets["lwa_client_secret"]})
    assert r.status_code == 200, r.text
    return {"x-amz-access-token": r.json()["access_token"]}


def get(emu, path, params=None, refresh_token="rt-us", **kw):
    return httpx.get(emu.url + path, params=params, headers=token(emu, refresh_token), **kw)


def test_usage_plans_match_the_models():
    """Rates and bursts in the emulator and in the client's pacing table come from the models' tables."""
    checked = set()
    for name, (operations, prefix) in OPERATIONS.items():
        doc = model(name)
        for ops in doc["paths"].values():
            for op in ops.values():
                if not isinstance(op, dict) or op.get("operationId") not in operations:
                    continue
                rate, burst = re.findall(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", op["description"])[0]
                plan = USAGE_PLANS[prefix + op["operationId"]]
                assert (plan.rate, plan.burst) == (float(rate), int(burst)), op["operationId"]
                checked.add(prefix + op["operationId"])
                if not prefix:  # the client paces what it calls; it calls no v0 operation
                    assert DOCUMENTED_LIMITS[op["operationId"]] == (float(rate), int(burst))
    assert checked == set(USAGE_PLANS)
    assert not set(DOCUMENTED_LIMITS) & {"getOrders", "getOrderItems", "createRestrictedDataToken"}


def test_lwa_grants_and_errors(emu):
    secrets = emu.demo_secrets("rt-us")
    form = {"grant_type": "refresh_token", "refresh_token": "rt-us", "client_id": secrets["lwa_app_id"],
            "client_secret": secrets["lwa_client_secret"]}
    ok = httpx.post(emu.lwa_token_url, data=form).json()
    assert ok["token_type"] == "bearer" and ok["expires_in"] == 3600 and ok["access_token"].startswith("Atza|")
    bad = httpx.post(emu.lwa_token_url, data={**form, "refresh_token": "nope"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant" and bad.json()["error_description"]
    wrong = httpx.post(emu.lwa_token_url, data={**form, "client_secret": "x"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    missing = httpx.post(emu.lwa_token_url, data={k: v for k, v in form.items() if k != "client_id"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_without_a_valid_access_token_every_operation_is_403(emu):
    r = httpx.get(emu.url + "/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": "Atza|forged"})
    assert r.status_code == 403
    validate(SELLERS, "GetMarketplaceParticipationsResponse", r.json())
    assert r.json()["errors"][0]["code"] == "Unauthorized"


def test_marketplace_participations(emu):
    r = get(emu, "/sellers/v1/marketplaceParticipations", refresh_token="rt-eu")
    assert r.status_code == 200 and r.headers["x-amzn-RateLimit-Limit"]
    validate(SELLERS, "GetMarketplaceParticipationsResponse", r.json())
    assert [p["marketplace"]["id"] for p in r.json()["payload"]] == [GB, DE]


def _search(emu, params, refresh_token="rt-us"):
    """Every page of a searchOrders listing: the first with `params`, the next ones with the token added."""
    pages = [get(emu, SEARCH, params, refresh_token)]
    while pages[-1].status_code == 200 and pages[-1].json().get("pagination"):
        pages.append(get(emu, SEARCH, {**params, "paginationToken": pages[-1].json()["pagination"]["nextToken"]},
                         refresh_token))
    return pages


def test_search_orders_pages_validate_and_cover_every_order_with_its_items(emu):
    after = _iso(datetime.now(timezone.utc) - timedelta(days=200))
    params = {"lastUpdatedAfter": after, "maxResultsPerPage": 7, "includedData": ALL_SECTIONS}
    pages = _search(emu, params)
    assert len(pages) == 5 and all(p.status_code == 200 for p in pages)
    for page in pages:
        validate(ORDERS, "SearchOrdersResponse", page.json())
        assert page.headers["x-amzn-RateLimit-Limit"] == f"{0.0056 * SCALE:g}"
        assert len(page.json()["orders"]) <= 7 and page.json()["lastUpdatedBefore"]
    assert "pagination" not in pages[-1].json()  # "absent from the response" on the last page
    seen = {o["orderId"]: o for p in pages for o in p.json()["orders"]}
    assert len(seen) == 30
    v0 = emu.orders_v0("rt-us")
    assert set(seen) == set(v0)
    for order_id, order in seen.items():  # the same orders as v0 serves, items inline
        old = v0[order_id]
        assert order["createdTime"] == old["PurchaseDate"] and order["lastUpdatedTime"] == old["LastUpdateDate"]
        assert [(i["product"]["sellerSku"], i["quantityOrdered"]) for i in order["orderItems"]] == \
            [(i["SellerSKU"], i["QuantityOrdered"]) for i in old["OrderItems"]]
        for item, old_item in zip(order["orderItems"], old["OrderItems"]):
            unit = item["product"]["price"]["unitPrice"]
            assert float(unit["amount"]) * item["quantityOrdered"] == pytest.approx(float(old_item["ItemPrice"]["Amount"]))
        status = {"Shipped": "SHIPPED", "Unshipped": "UNSHIPPED", "Canceled": "CANCELLED"}[old["OrderStatus"]]
        assert order["fulfillment"]["fulfillmentStatus"] == status
        assert order["proceeds"]["grandTotal"]["amount"] == old["OrderTotal"]["Amount"]
        assert order["recipient"]["deliveryAddress"]["countryCode"] == "US"
    assert seen == emu.orders_v2026("rt-us", tuple(ALL_SECTIONS.split(",")))


def test_included_data_chooses_the_sections(emu):
    after = _iso(datetime.now(timezone.utc) - timedelta(days=200))
    bare = get(emu, SEARCH, {"lastUpdatedAfter": after}).json()["orders"]
    assert {k for o in bare for k in o} == {"orderId", "createdTime", "lastUpdatedTime", "programs", "salesChannel",
                                             "orderItems"}
    assert all("proceeds" not in i and "fulfillment" not in i for o in bare for i in o["orderItems"])
    some = get(emu, SEARCH, {"lastUpdatedAfter": after, "includedData": "FULFILLMENT,PROCEEDS"}).json()["orders"]
    assert all({"fulfillment", "proceeds"} <= set(o) and not {"buyer", "recipient"} & set(o) for o in some)


def test_get_order_validates_and_matches_the_search(emu):
    order_id = sorted(emu.orders_v0("rt-us"))[0]
    r = get(emu, f"{SEARCH}/{order_id}", {"includedData": "FULFILLMENT,PROCEEDS"})
    assert r.status_code == 200 and r.headers["x-amzn-RateLimit-Limit"] == f"{0.5 * SCALE:g}"
    validate(ORDERS, "GetOrderResponse", r.json())
    assert r.json()["order"] == emu.orders_v2026("rt-us")[order_id]
    missing = get(emu, f"{SEARCH}/111-0000000-0000000")
    assert missing.status_code == 404 and missing.headers["x-amzn-RateLimit-Limit"]
    validate(ORDERS, "ErrorList", missing.json())


@pytest.mark.parametrize("params, fragment", [
    ({}, "Exactly one of createdAfter and lastUpdatedAfter"),
    ({"createdAfter": "2024-01-01T00:00:00Z", "lastUpdatedAfter": "2024-01-01T00:00:00Z"}, "Exactly one"),
    ({"createdAfter": "2024-01-01T00:00:00Z", "lastUpdatedBefore": "2024-02-01T00:00:00Z"}, "cannot be provided"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "createdBefore": "2024-02-01T00:00:00Z"}, "cannot be provided"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "lastUpdatedBefore": "NOW"}, "two minutes"),
    ({"lastUpdatedAfter": "2024-02-01T00:00:00Z", "lastUpdatedBefore": "2024-01-01T00:00:00Z"}, "equal to or after"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "maxResultsPerPage": 101}, "between 1 and 100"),
    ({"lastUpdatedAfter": "yesterday"}, "ISO 8601"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "marketplaceIds": DE}, "Invalid marketplaceIds"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "includedData": "EVERYTHING"}, "Invalid includedData"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "fulfillmentStatuses": "Shipped"}, "Invalid fulfillmentStatuses"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "MarketplaceIds": US}, "Unknown parameter: MarketplaceIds"),
    ({"lastUpdatedAfter": "2024-01-01T00:00:00Z", "paginationToken": "forged"}, "Invalid paginationToken"),
])
def test_search_orders_rules(emu, params, fragment):
    if params.get("lastUpdatedBefore") == "NOW":
        params = {**params, "lastUpdatedBefore": _iso(datetime.now(timezone.utc) - timedelta(seconds=60))}
    r = get(emu, SEARCH, params)
    assert r.status_code == 400 and r.headers["x-amzn-RateLimit-Limit"]
    validate(ORDERS, "ErrorList", r.json())
    error = r.json()["errors"][0]
    assert error["code"] == "InvalidInput" and fragment in error["message"], error


def test_a_next_page_must_repeat_the_other_parameters(emu):
    params = {"lastUpdatedAfter": _iso(datetime.now(timezone.utc) - timedelta(days=200)), "maxResultsPerPage": 10}
    first = get(emu, SEARCH, params).json()
    token = first["pagination"]["nextToken"]
    alone = get(emu, SEARCH, {"paginationToken": token})
    assert alone.status_code == 400 and "does not match" in alone.json()["errors"][0]["message"]
    other = get(emu, SEARCH, {**params, "lastUpdatedAfter": "2024-01-01T00:00:00Z", "paginationToken": token})
    assert other.status_code == 400
    # maxResultsPerPage and includedData may change between pages
    ok = get(emu, SEARCH, {**params, "maxResultsPerPage": 50, "includedData": "FULFILLMENT", "paginationToken": token})
    assert ok.status_code == 200 and len(ok.json()["orders"]) == 20 and "pagination" not in ok.json()
    assert all("fulfillment" in o for o in ok.json()["orders"])


def test_pagination_tokens_expire():
    with AmazonEmulator(time_scale=1000, pagination_token_ttl=0.3) as emu:
        emu.add_seller("rt-us", orders=12)
        params = {"lastUpdatedAfter": _iso(datetime.now(timezone.utc) - timedelta(days=200)), "maxResultsPerPage": 5}
        token_ = get(emu, SEARCH, params).json()["pagination"]["nextToken"]
        assert get(emu, SEARCH, {**params, "paginationToken": token_}).status_code == 200
        time.sleep(0.4)
        late = get(emu, SEARCH, {**params, "paginationToken": token_})
        assert late.status_code == 400 and "expired" in late.json()["errors"][0]["message"]
        validate(ORDERS, "ErrorList", late.json())
    with AmazonEmulator(time_scale=1000) as emu:  # tokens of 24 hours; the fault expires one on demand
        emu.add_seller("rt-us", orders=12)
        fresh = get(emu, SEARCH, params).json()["pagination"]["nextToken"]
        emu.inject("expire_token", "searchOrders")
        assert get(emu, SEARCH, params).status_code == 200  # a first page carries no token: the fault waits
        assert get(emu, SEARCH, {**params, "paginationToken": fresh}).status_code == 400
        assert get(emu, SEARCH, {**params, "paginationToken": fresh}).status_code == 200


def test_personal_data_needs_its_role(emu):
    after = _iso(datetime.now(timezone.utc) - timedelta(days=200))
    pii = get(emu, SEARCH, {"lastUpdatedAfter": after, "includedData": "BUYER,RECIPIENT,FULFILLMENT"}).json()["orders"]
    shipped = [o for o in pii if o["fulfillment"]["fulfillmentStatus"] in ("UNSHIPPED", "SHIPPED")]
    assert shipped and all(o["buyer"]["buyerName"] and o["recipient"]["deliveryAddress"]["addressLine1"] for o in shipped)
    assert all(("buyerEmail" in o["buyer"]) == (o["fulfillment"]["fulfilledBy"] == "MERCHANT") for o in shipped)
    emu.set_roles("rt-eu", {ROLE_ORDERS})
    try:
        plain = get(emu, SEARCH, {"lastUpdatedAfter": after, "includedData": "FULFILLMENT"}, "rt-eu")
        assert plain.status_code == 200
        for section, role in (("BUYER", "Tax Invoicing"), ("RECIPIENT", "Direct-to-Consumer Shipping")):
            denied = get(emu, SEARCH, {"lastUpdatedAfter": after, "includedData": section}, "rt-eu")
            assert denied.status_code == 403 and "x-amzn-RateLimit-Limit" not in denied.headers
            validate(ORDERS, "ErrorList", denied.json())
            assert denied.json()["errors"][0]["code"] == "Unauthorized" and role in denied.json()["errors"][0]["details"]
        emu.set_roles("rt-eu", set())
        assert get(emu, SEARCH, {"lastUpdatedAfter": after}, "rt-eu").status_code == 403
    finally:
        emu.set_roles("rt-eu", {ROLE_ORDERS, "Direct-to-Consumer Shipping (Restricted)"})


def test_orders_older_than_two_years_are_not_shown():
    with AmazonEmulator(time_scale=1000) as emu:
        emu.add_seller("rt-old", orders=40, order_days=1000)
        shown = {o["orderId"] for p in _search(emu, {"createdAfter": "2015-01-01T00:00:00Z"}, "rt-old")
                 for o in p.json()["orders"]}
        placed = {oid: datetime.fromisoformat(o["PurchaseDate"].replace("Z", "+00:00"))
                  for oid, o in emu.orders_v0("rt-old").items()}
        limit = datetime.now(timezone.utc) - timedelta(days=730)
        assert shown == {oid for oid, at in placed.items() if at >= limit} and 0 < len(shown) < 40
        assert shown == set(emu.orders_v2026("rt-old"))


def test_v0_orders_operations_answer_as_removed_by_default():
    before = V0_ORDERS_LEDGER.counts()
    probes = V0Ledger()  # this test's own ledger: the suite's one must only ever count the project's calls
    with AmazonEmulator(time_scale=1000, ledger=probes) as emu:
        emu.add_seller("rt-us", orders=3)
        order_id = sorted(emu.orders_v0("rt-us"))[0]
        paths = ["/orders/v0/orders", f"/orders/v0/orders/{order_id}", f"/orders/v0/orders/{order_id}/orderItems",
                 f"/orders/v0/orders/{order_id}/buyerInfo", f"/orders/v0/orders/{order_id}/address",
                 f"/orders/v0/orders/{order_id}/orderItems/buyerInfo"]
        for path in paths:
            r = get(emu, path, {"MarketplaceIds": US, "LastUpdatedAfter": "2024-01-01T00:00:00Z"})
            assert r.status_code == 404, path
            validate(ORDERS_V0, "GetOrdersResponse", r.json())
            assert "removes it on 2027-03-27" in r.json()["errors"][0]["message"]
        assert emu.counters.v0_orders() == 6
        assert {op: emu.counters.calls[op] for op in V0_ORDERS_OPERATIONS} == dict.fromkeys(V0_ORDERS_OPERATIONS, 1)
    assert probes.counts() == dict.fromkeys(V0_ORDERS_OPERATIONS, 1)  # what the suite's ledger would have seen
    assert V0_ORDERS_LEDGER.counts() == before


def test_v0_orders_when_served_are_the_same_orders():
    with AmazonEmulator(time_scale=1000, v0_orders_removed=False, ledger=None, order_items_page_size=2) as emu:
        emu.add_seller("rt-us", orders=30)
        params = {"MarketplaceIds": US, "LastUpdatedAfter": _iso(datetime.now(timezone.utc) - timedelta(days=200)),
                  "MaxResultsPerPage": 7}
        seen, r = [], get(emu, "/orders/v0/orders", params)
        while True:
            assert r.status_code == 200, r.text
            validate(ORDERS_V0, "GetOrdersResponse", r.json())
            seen += [o["AmazonOrderId"] for o in r.json()["payload"]["Orders"]]
            if not r.json()["payload"].get("NextToken"):
                break
            r = get(emu, "/orders/v0/orders", {"MarketplaceIds": US, "NextToken": r.json()["payload"]["NextToken"]})
        assert sorted(seen) == sorted(emu.orders_v2026("rt-us"))
        order_id, order = max(emu.orders_v0("rt-us").items(), key=lambda kv: len(kv[1]["OrderItems"]))
        items, next_token = [], None
        while True:
            r = get(emu, f"/orders/v0/orders/{order_id}/orderItems", {"NextToken": next_token} if next_token else None)
            validate(ORDERS_V0, "GetOrderItemsResponse", r.json())
            items += r.json()["payload"]["OrderItems"]
            next_token = r.json()["payload"].get("NextToken")
            if not next_token:
                break
        assert items == order["OrderItems"]
        for path, definition in (("", "GetOrderResponse"), ("/buyerInfo", "GetOrderBuyerInfoResponse"),
                                 ("/address", "GetOrderAddressResponse"),
                                 ("/orderItems/buyerInfo", "GetOrderItemsBuyerInfoResponse")):
            r = get(emu, f"/orders/v0/orders/{order_id}{path}")
            assert r.status_code == 200, path
            validate(ORDERS_V0, definition, r.json())
        emu.set_v0_orders_removed(True)
        assert get(emu, f"/orders/v0/orders/{order_id}").status_code == 404


def test_report_lifecycle_and_documents(emu):
    bad = httpx.post(emu.url + "/reports/2021-06-30/reports", headers=token(emu, "rt-eu"),
                     json={"reportType": "GET_NOT_A_REPORT", "marketplaceIds": [DE]})
    assert bad.status_code == 400
    validate(REPORTS, "ErrorList", bad.json())
    for marketplace, compressed, encoding in ((GB, False, "utf-8"), (DE, True, "cp1252")):
        created = httpx.post(emu.url + "/reports/2021-06-30/reports", headers=token(emu, "rt-eu"),
                             json={"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [marketplace]})
        assert created.status_code == 202
        validate(REPORTS, "CreateReportResponse", created.json())
        report_id = created.json()["reportId"]
        statuses = []
        while True:
            report = get(emu, f"/reports/2021-06-30/reports/{report_id}", refresh_token="rt-eu").json()
            validate(REPORTS, "Report", report)
            statuses.append(report["processingStatus"])
            if report["processingStatus"] == "DONE":
                break
            time.sleep(0.03)
        assert len(statuses) > 1 and set(statuses[:-1]) <= {"IN_QUEUE", "IN_PROGRESS"}
        listed = get(emu, "/reports/2021-06-30/reports", {"reportTypes": "GET_MERCHANT_LISTINGS_ALL_DATA",
                                                          "marketplaceIds": marketplace}, refresh_token="rt-eu")
        validate(REPORTS, "GetReportsResponse", listed.json())
        assert report_id in [r["reportId"] for r in listed.json()["reports"]]
        meta = get(emu, f"/reports/2021-06-30/documents/{report['reportDocumentId']}", refresh_token="rt-eu").json()
        validate(REPORTS, "ReportDocument", meta)
        assert ("compressionAlgorithm" in meta) == compressed
        assert meta["url"].startswith(emu.url)  # served by the emulator itself, no token needed
        raw = httpx.get(meta["url"]).content
        text = (gzip.decompress(raw) if compressed else raw).decode(encoding)
        lines = text.splitlines()
        assert lines[0].split("\t")[:4] == ["item-name", "item-description", "listing-id", "seller-sku"]
        assert len(lines) == 1 + 9
    assert "€" in text and "“Öko”" in text  # the German report really is windows-1252, not Latin-1


def test_inventory_pages_token_expiry_and_fba_403(emu):
    params = {"details": "true", "granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}
    r = get(emu, "/fba/inventory/v1/summaries", params)
    assert r.status_code == 200
    validate(INVENTORY, "GetInventorySummariesResponse", r.json())
    first = r.json()
    assert len(first["payload"]["inventorySummaries"]) == 7 and "inventoryDetails" in first["payload"]["inventorySummaries"][0]
    nxt = get(emu, "/fba/inventory/v1/summaries", {**params, "nextToken": first["pagination"]["nextToken"]})
    assert nxt.status_code == 200 and "pagination" not in nxt.json()
    validate(INVENTORY, "GetInventorySummariesResponse", nxt.json())
    time.sleep(0.6)  # this emulator's tokens live 0.5 s (Amazon's: 30 s)
    expired = get(emu, "/fba/inventory/v1/summaries", {**params, "nextToken": first["pagination"]["nextToken"]})
    assert expired.status_code == 400 and "expired" in expired.json()["errors"][0]["message"]
    nofba = get(emu, "/fba/inventory/v1/summaries", params, refresh_token="rt-nofba")
    assert nofba.status_code == 403
    validate(INVENTORY, "GetInventorySummariesResponse", nofba.json())
    missing = get(emu, "/fba/inventory/v1/summaries", {k: v for k, v in params.items() if k != "marketplaceIds"})
    assert missing.status_code == 400


def test_search_orders_burst_then_quota_exceeded():
    with AmazonEmulator(time_scale=1) as emu:
        emu.add_seller("rt", orders=1)
        headers = token(emu, "rt")
        params = {"lastUpdatedAfter": "2025-01-01T00:00:00Z"}
        answers = [httpx.get(emu.url + SEARCH, params=params, headers=headers) for _ in range(21)]
        assert [a.status_code for a in answers] == [200] * 20 + [429]
        assert answers[0].headers["x-amzn-RateLimit-Limit"] == "0.0056"
        validate(ORDERS, "ErrorList", answers[-1].json())
        assert answers[-1].json()["errors"][0]["code"] == "QuotaExceeded"
        assert emu.counters.throttled["searchOrders"] == 1


def test_burst_then_quota_exceeded_with_the_documented_body():
    with AmazonEmulator(time_scale=1) as emu:
        emu.add_seller("rt", orders=1)
        headers = token(emu, "rt")
        answers = [httpx.get(emu.url + "/sellers/v1/marketplaceParticipations", headers=headers) for _ in range(16)]
        assert [a.status_code for a in answers] == [200] * 15 + [429]
        assert answers[-1].json() == {"errors": [{"code": "QuotaExceeded", "message":
                                                  "You exceeded your quota for the requested resource.", "details": ""}]}
        assert answers[-1].headers["x-amzn-RateLimit-Limit"] == "0.016"
        validate(SELLERS, "GetMarketplaceParticipationsResponse", answers[-1].json())
        assert emu.counters.throttled["getMarketplaceParticipations"] == 1


def test_injected_faults(emu):
    emu.inject("error500", "getMarketplaceParticipations")
    emu.inject("error503", "getMarketplaceParticipations")
    emu.inject("throttle", "getMarketplaceParticipations")
    codes = [get(emu, "/sellers/v1/marketplaceParticipations").status_code for _ in range(4)]
    assert codes == [500, 503, 429, 200]
    emu.inject("drop", "getMarketplaceParticipations")
    with pytest.raises(httpx.RemoteProtocolError):
        get(emu, "/sellers/v1/marketplaceParticipations")
    emu.inject("slow", "getMarketplaceParticipations", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        get(emu, "/sellers/v1/marketplaceParticipations", timeout=0.2)


def test_revoked_refresh_token_stops_lwa_and_issued_tokens():
    with AmazonEmulator() as emu:
        emu.add_seller("rt-r")
        headers = token(emu, "rt-r")
        emu.revoke("rt-r")
        assert httpx.get(emu.url + "/sellers/v1/marketplaceParticipations", headers=headers).status_code == 403
        secrets = emu.demo_secrets("rt-r")
        r = httpx.post(emu.lwa_token_url, data={"grant_type": "refresh_token", "refresh_token": "rt-r",
                                                "client_id": secrets["lwa_app_id"],
                                                "client_secret": secrets["lwa_client_secret"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_the_benchmarks_least_times_follow_the_usage_plans():
    from benchmarks.bench_amazon_pacing import least_seconds, v0_calls, v2026_calls

    # 400 orders: v0 needs 4 getOrders pages and 400 getOrderItems calls (370 beyond the burst of 30, at 0.5/s)
    assert least_seconds(v0_calls(400), 60) == (pytest.approx(370 / (0.5 * 60)), "v0.getOrderItems")
    assert least_seconds(v2026_calls(400), 60) == (0.0, "searchOrders")  # 4 pages fit in the burst of 20
    # 5,000 orders: 50 searchOrders pages, 30 of them beyond the burst, at 0.0056/s
    assert least_seconds(v2026_calls(5000), 60) == (pytest.approx(30 / (0.0056 * 60)), "searchOrders")
    assert least_seconds(v0_calls(5000), 60)[0] == pytest.approx(4970 / (0.5 * 60))

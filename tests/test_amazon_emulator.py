"""The SP-API emulator answers as the public models say: envelopes, rules, errors, usage plans, faults."""

from __future__ import annotations

import gzip
import re
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from emulators.amazon import USAGE_PLANS, AmazonEmulator
from sync.platforms.amazon.ratelimit import DOCUMENTED_LIMITS

from .amazon_fixtures import DE, GB, US, model, validate

ORDERS = "ordersV0.json"
REPORTS = "reports_2021-06-30.json"
INVENTORY = "fbaInventory.json"
SELLERS = "sellers.json"
OPERATIONS = {ORDERS: ("getOrders", "getOrderItems"),
              REPORTS: ("getReports", "createReport", "getReport", "getReportDocument"),
              INVENTORY: ("getInventorySummaries",), SELLERS: ("getMarketplaceParticipations",)}


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def emu():
    with AmazonEmulator(time_scale=1000, report_processing_seconds=0.15, order_items_page_size=2,
                        inventory_page_size=7, next_token_ttl=0.5) as emu:
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
    for name, operations in OPERATIONS.items():
        doc = model(name)
        for ops in doc["paths"].values():
            for op in ops.values():
                if not isinstance(op, dict) or op.get("operationId") not in operations:
                    continue
                rate, burst = re.findall(r"\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", op["description"])[0]
                plan = USAGE_PLANS[op["operationId"]]
                assert (plan.rate, plan.burst) == (float(rate), int(burst)), op["operationId"]
                assert DOCUMENTED_LIMITS[op["operationId"]] == (float(rate), int(burst))


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


def test_get_orders_pages_validate_and_cover_every_order(emu):
    after = _iso(datetime.now(timezone.utc) - timedelta(days=200))
    params = {"MarketplaceIds": US, "LastUpdatedAfter": after, "MaxResultsPerPage": 7}
    seen = []
    r = get(emu, "/orders/v0/orders", params)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        validate(ORDERS, "GetOrdersResponse", body)
        seen += [o["AmazonOrderId"] for o in body["payload"]["Orders"]]
        assert len(body["payload"]["Orders"]) <= 7 and body["payload"]["LastUpdatedBefore"]
        if not body["payload"].get("NextToken"):
            break
        r = get(emu, "/orders/v0/orders", {"MarketplaceIds": US, "NextToken": body["payload"]["NextToken"]})
    assert sorted(seen) == sorted(emu.orders("rt-us")) and len(seen) == 30


@pytest.mark.parametrize("params, fragment", [
    ({"LastUpdatedAfter": "2024-01-01T00:00:00Z"}, "MarketplaceIds"),
    ({"MarketplaceIds": US}, "Either CreatedAfter or LastUpdatedAfter"),
    ({"MarketplaceIds": US, "CreatedAfter": "2024-01-01T00:00:00Z", "LastUpdatedAfter": "2024-01-01T00:00:00Z"},
     "cannot be set"),
    ({"MarketplaceIds": US, "LastUpdatedAfter": "2024-01-01T00:00:00Z", "CreatedBefore": "2024-02-01T00:00:00Z"},
     "cannot be set"),
    ({"MarketplaceIds": US, "LastUpdatedAfter": "2024-01-01T00:00:00Z", "LastUpdatedBefore": "NOW"},
     "two minutes"),
    ({"MarketplaceIds": US, "LastUpdatedAfter": "2024-02-01T00:00:00Z", "LastUpdatedBefore": "2024-01-01T00:00:00Z"},
     "equal to or after"),
    ({"MarketplaceIds": US, "LastUpdatedAfter": "2024-01-01T00:00:00Z", "MaxResultsPerPage": 101}, "between 1 and 100"),
    ({"MarketplaceIds": US, "LastUpdatedAfter": "yesterday"}, "ISO 8601"),
    ({"MarketplaceIds": DE, "LastUpdatedAfter": "2024-01-01T00:00:00Z"}, "Invalid MarketplaceIds"),
])
def test_get_orders_rules(emu, params, fragment):
    if params.get("LastUpdatedBefore") == "NOW":
        params = {**params, "LastUpdatedBefore": _iso(datetime.now(timezone.utc) - timedelta(seconds=60))}
    r = get(emu, "/orders/v0/orders", params)
    assert r.status_code == 400
    validate(ORDERS, "GetOrdersResponse", r.json())
    error = r.json()["errors"][0]
    assert error["code"] == "InvalidInput" and fragment in error["message"], error


def test_order_items_paginate_and_validate(emu):
    order_id, order = max(emu.orders("rt-us").items(), key=lambda kv: len(kv[1]["OrderItems"]))
    items, next_token = [], None
    while True:
        r = get(emu, f"/orders/v0/orders/{order_id}/orderItems", {"NextToken": next_token} if next_token else None)
        assert r.status_code == 200
        validate(ORDERS, "GetOrderItemsResponse", r.json())
        items += r.json()["payload"]["OrderItems"]
        next_token = r.json()["payload"].get("NextToken")
        if not next_token:
            break
    assert items == order["OrderItems"]
    missing = get(emu, "/orders/v0/orders/111-0000000-0000000/orderItems")
    assert missing.status_code == 404
    validate(ORDERS, "GetOrderItemsResponse", missing.json())


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

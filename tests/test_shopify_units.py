"""Small pieces of the Shopify fetcher in isolation: pacing arithmetic, secrets, bulk reassembly."""

from __future__ import annotations

import json

import pytest

from sync.errors import CredentialError, IncompleteDataError
from sync.platforms.shopify import ShopifyPlatform, normalize_domain
from sync.platforms.shopify.bulk import BulkOutcome, LineCount, assemble, check_complete, parse_lines
from sync.platforms.shopify.throttle import CostPacer


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def status(available: float, rate: float = 50.0, maximum: float = 2000.0, requested: int = 843) -> dict:
    return {"requestedQueryCost": requested, "actualQueryCost": 500,
            "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate}}


def test_pacer_waits_exactly_for_the_missing_points():
    clock = FakeClock()
    pacer = CostPacer(clock=clock, sleep=clock.sleep)
    pacer.observe("Orders", status(100))
    pacer.before("Orders")
    assert clock.slept == [pytest.approx((843 - 100) / 50)]
    clock.slept.clear()
    pacer.observe("Orders", status(900))
    pacer.before("Orders")  # enough points: no wait
    assert clock.slept == []


def test_pacer_counts_the_refill_since_the_last_answer():
    clock = FakeClock()
    pacer = CostPacer(clock=clock, sleep=clock.sleep)
    pacer.observe("Orders", status(300))
    clock.now += 6.0  # 300 points restored meanwhile
    pacer.before("Orders")
    assert clock.slept == [pytest.approx((843 - 600) / 50)]


def test_throttled_answer_waits_for_the_requested_cost_at_the_restore_rate():
    clock = FakeClock()
    pacer = CostPacer(clock=clock, sleep=clock.sleep)
    pacer.throttled("Orders", {"requestedQueryCost": 843, "actualQueryCost": None,
                               "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 43,
                                                  "restoreRate": 100}})
    assert clock.slept == [pytest.approx((843 - 43 + 1) / 100)]


def test_unknown_state_never_waits():
    clock = FakeClock()
    pacer = CostPacer(clock=clock, sleep=clock.sleep, expected={"Orders": 843})
    pacer.before("Orders")
    assert clock.slept == []


@pytest.mark.parametrize("raw, expected", [
    ("shop.myshopify.com", "shop.myshopify.com"),
    ("https://Shop.myshopify.com/", "shop.myshopify.com"),
    ("  my-shop.myshopify.com/admin ", "my-shop.myshopify.com"),
])
def test_shop_domain_is_normalized(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("secrets", [
    {"shop_domain": "shop.myshopify.com"},
    {"shop_domain": "not a domain", "access_token": "shpat_x"},
    {"shop_domain": "shop.myshopify.com", "access_token": "two words"},
])
def test_bad_secrets_are_refused_without_echoing_them(secrets):
    with pytest.raises(CredentialError) as info:
        ShopifyPlatform().validate_secrets(secrets)
    assert "shpat_x" not in str(info.value) and "two words" not in str(info.value)


def lines(*rows: dict) -> list[bytes]:
    return [json.dumps(r).encode() for r in rows]


def test_bulk_children_go_back_under_their_parent():
    count = LineCount()
    rows = parse_lines(lines(
        {"id": "gid://shopify/Order/1", "updatedAt": "2024-01-01T00:00:00Z"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/Order/2", "updatedAt": "2024-01-02T00:00:00Z"},
    ), count)
    orders = list(assemble(rows, {"LineItem": "lineItems"}))
    assert [o["id"] for o in orders] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]
    assert [li["id"] for li in orders[0]["lineItems"]] == ["gid://shopify/LineItem/11", "gid://shopify/LineItem/12"]
    assert orders[1]["lineItems"] == [] and "__parentId" not in orders[0]["lineItems"][0]
    assert (count.objects, count.roots) == (4, 2)
    outcome = BulkOutcome("gid://shopify/BulkOperation/1", "COMPLETED", None, 4, 2, "u", None)
    check_complete(outcome, count, "orders", "shop.myshopify.com")
    with pytest.raises(IncompleteDataError):
        check_complete(BulkOutcome("x", "COMPLETED", None, 5, 2, "u", None), count, "orders", "shop")


def test_a_child_away_from_its_parent_is_refused():
    rows = parse_lines(lines(
        {"id": "gid://shopify/Order/1"}, {"id": "gid://shopify/Order/2"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},
    ), LineCount())
    with pytest.raises(IncompleteDataError):
        list(assemble(rows, {"LineItem": "lineItems"}))


def test_a_damaged_line_is_refused():
    with pytest.raises(IncompleteDataError):
        list(parse_lines([b'{"id": "gid://shopify/Order/1"', b"{}"], LineCount()))


# --- cursors of unordered reads: never past what a long read may have missed --------------------------------
class _StubClient:
    shop = "stub.myshopify.com"

    def __init__(self, lines=(), answers=()):
        self.lines, self.answers = list(lines), list(answers)

    def stream_lines(self, url):
        yield from self.lines

    def execute(self, document, variables=None, *, operation):
        return self.answers.pop(0)


class _StubBulk:
    def __init__(self, outcome):
        self.outcome = outcome

    def run(self, query, what):
        return self.outcome


def _request(data_type, state=None, started_at=None):
    from datetime import datetime, timedelta, timezone

    from sync.models import StreamRequest

    return StreamRequest(data_type, state, timedelta(minutes=10),
                         started_at or datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc), lambda ids: {})


def test_bulk_cursor_never_passes_the_operations_start():
    """A bulk operation scans the shop for minutes or hours and is no snapshot: an order changed after
    the scan passed it is absent from the file, while an order changed later still (not yet scanned)
    is in it. The cursor must not jump past the operation's start, or the first change is never read."""
    from sync.platforms.shopify.options import ShopifyOptions
    from sync.platforms.shopify.streams import ORDERS, ShopStreams

    created = "2026-01-01T12:00:05Z"
    rows = [{"id": f"gid://shopify/Order/{i}", "updatedAt": ts}
            for i, ts in enumerate(["2025-12-01T00:00:00Z", "2026-01-01T14:30:00Z"], 1)]
    outcome = BulkOutcome(id="gid://shopify/BulkOperation/1", status="COMPLETED", error_code=None, object_count=2,
                          root_object_count=2, url="https://files.example/result.jsonl", partial_data_url=None,
                          created_at=created)
    streams = ShopStreams(_StubClient([json.dumps(r).encode() for r in rows]), ShopifyOptions(), _StubBulk(outcome))
    pages = list(streams.sorted_stream(ORDERS, _request("orders")))
    assert sum(len(p.records) for p in pages) == 2
    assert pages[-1].state["updated_at"] <= created


def test_paged_inventory_cursor_never_passes_the_syncs_start():
    """Levels come location by location, in no updatedAt order: a level changed in a location already
    read is missed while a later location shows a newer change; the cursor stays at the read's start."""
    from sync.platforms.shopify.options import ShopifyOptions
    from sync.platforms.shopify.streams import ShopStreams

    page_info = {"hasNextPage": False, "endCursor": None}
    level = {"id": "gid://shopify/InventoryLevel/1?inventory_item_id=7", "updatedAt": "2026-01-01T13:45:00Z",
             "item": {"id": "gid://shopify/InventoryItem/7", "sku": "A"}, "quantities": []}
    answer = {"locations": {"pageInfo": page_info, "nodes": [
        {"id": "gid://shopify/Location/1", "name": "L1", "isActive": True,
         "inventoryLevels": {"pageInfo": page_info, "nodes": [level]}}]}}
    streams = ShopStreams(_StubClient(answers=[answer]), ShopifyOptions(bulk="off"), _StubBulk(None))
    pages = list(streams.inventory_stream(_request("inventory", {"updated_at": "2026-01-01T11:00:00Z"})))
    assert [r.external_id for p in pages for r in p.records] == [level["id"]]
    assert pages[-1].state["updated_at"] <= "2026-01-01T12:00:00Z"


def test_the_served_api_version_is_remembered():
    from emulators.shopify import ShopifyEmulator

    from tests.shopify_fixtures import UNLIMITED, connect

    with ShopifyEmulator(**UNLIMITED) as emu:
        emu.add_shop("v.myshopify.com", "shpat_v_secret_token")
        conn = connect(emu, "v.myshopify.com", "shpat_v_secret_token")
        conn.test()
        from sync.config import DEFAULT_SHOPIFY_API_VERSION

        assert conn.client.served_version == DEFAULT_SHOPIFY_API_VERSION

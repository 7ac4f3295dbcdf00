"""Small pieces of the Shopify fetcher in isolation: pacing arithmetic, secrets, bulk reassembly."""

from __future__ import annotations

import json

import pytest

from sync.errors import CredentialError, IncompleteDataError
from sync.platforms.shopify import ShopifyPlatform, normalize_domain
from sync.platforms.shopify.bulk import BulkOutcome, check_complete
from sync.platforms.shopify.spool import LineCount, Spool
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


def spooled(*rows: dict) -> tuple[Spool, LineCount]:
    spool, count = Spool(), LineCount()
    spool.add(lines(*rows), count)
    return spool, count


def test_ungrouped_children_go_back_under_their_parent_wherever_they_come():
    spool, count = spooled(
        {"id": "gid://shopify/LineItem/12", "__parentId": "gid://shopify/Order/1"},  # before its parent
        {"id": "gid://shopify/Order/1", "updatedAt": "2024-01-01T00:00:00Z"},
        {"id": "gid://shopify/Order/2", "updatedAt": "2024-01-02T00:00:00Z"},
        {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/1"},  # after another root
    )
    try:
        spool.check_orphans("orders", "shop")
        orders = list(spool.roots_with_children({"LineItem": "lineItems"}))
        assert [o["id"] for o in orders] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]
        assert [li["id"] for li in orders[0]["lineItems"]] == ["gid://shopify/LineItem/12", "gid://shopify/LineItem/11"]
        assert orders[1]["lineItems"] == [] and "__parentId" not in orders[0]["lineItems"][0]
        assert (count.objects, count.roots) == (4, 2)
        outcome = BulkOutcome("gid://shopify/BulkOperation/1", "COMPLETED", None, 4, 2, "u", None)
        check_complete([outcome], count, "orders", "shop.myshopify.com")
        with pytest.raises(IncompleteDataError):
            check_complete([BulkOutcome("x", "COMPLETED", None, 5, 2, "u", None)], count, "orders", "shop")
        # two parts of one export count together
        check_complete([BulkOutcome("a", "COMPLETED", None, 3, 1, "u", None),
                        BulkOutcome("b", "COMPLETED", None, 1, 1, "u", None)], count, "orders", "shop")
    finally:
        spool.close()
    import os

    assert not os.path.exists(spool.path)


def test_inventory_levels_come_with_their_location():
    spool, _ = spooled(
        {"id": "gid://shopify/InventoryLevel/5?inventory_item_id=1", "__parentId": "gid://shopify/Location/2"},
        {"id": "gid://shopify/Location/1", "name": "A"}, {"id": "gid://shopify/Location/2", "name": "B"},
        {"id": "gid://shopify/InventoryLevel/6?inventory_item_id=1", "__parentId": "gid://shopify/Location/1"},
    )
    try:
        pairs = [(p["name"], c["id"].split("?")[0]) for p, c in spool.children_with_parents()]
        assert pairs == [("B", "gid://shopify/InventoryLevel/5"), ("A", "gid://shopify/InventoryLevel/6")]
    finally:
        spool.close()


def test_a_child_whose_parent_is_not_in_the_file_is_refused():
    spool, _ = spooled({"id": "gid://shopify/Order/1"},
                       {"id": "gid://shopify/LineItem/11", "__parentId": "gid://shopify/Order/9"})
    try:
        with pytest.raises(IncompleteDataError) as info:
            spool.check_orphans("orders", "shop")
        assert "1 object(s) whose parent is not in the file" in str(info.value)
    finally:
        spool.close()


def test_a_damaged_line_is_refused():
    spool = Spool()
    try:
        with pytest.raises(IncompleteDataError):
            spool.add([b'{"id": "gid://shopify/Order/1"', b"{}"], LineCount())
    finally:
        spool.close()


# --- cursors of unordered reads: never past what a long read may have missed --------------------------------
class _StubClient:
    shop = "stub.myshopify.com"
    served_version = "2026-10"

    def __init__(self, answers=()):
        self.answers = list(answers)

    def execute(self, document, variables=None, *, operation):
        return self.answers.pop(0)

    def execute_with_cost(self, document, variables=None, *, operation, expected_cost=None):
        return self.answers.pop(0), None


class _StubExports:
    """An export already complete: its spool and outcomes, as BulkExports hands them over."""

    concurrency = 1

    def __init__(self, export=None):
        self.export = export

    def submit(self, key, parts):
        return self.export

    def ready(self, exports):
        return iter([e.key for e in exports])

    def take(self, key):
        return self.export


def _request(data_type, state=None, started_at=None):
    from datetime import datetime, timedelta, timezone

    from sync.models import Cursor, StreamRequest

    return StreamRequest(data_type, Cursor.of(state, timedelta(minutes=10)),
                         started_at or datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc), lambda ids: {})


def test_bulk_cursor_never_passes_the_operations_start():
    """A bulk operation scans the shop for minutes or hours and is no snapshot: an order changed after
    the scan passed it is absent from the file, while an order changed later still (not yet scanned)
    is in it. The cursor must not jump past the operation's start, or the first change is never read."""
    from sync.platforms.shopify.bulk import Export
    from sync.platforms.shopify.options import ShopifyOptions
    from sync.platforms.shopify.streams import ORDERS, ShopStreams

    created = "2026-01-01T12:00:05Z"
    spool, _ = spooled(*[{"id": f"gid://shopify/Order/{i}", "updatedAt": ts}
                         for i, ts in enumerate(["2025-12-01T00:00:00Z", "2026-01-01T14:30:00Z"], 1)])
    export = Export("orders", ["{ orders { edges { node { id } } } }"])
    export.outcomes = [BulkOutcome(id="gid://shopify/BulkOperation/1", status="COMPLETED", error_code=None,
                                   object_count=2, root_object_count=2, url="https://files.example/result.jsonl",
                                   partial_data_url=None, created_at=created)]
    export.spool = spool
    export.done.set()
    # After the export, one request for Shopify's count (the audit's figure).
    streams = ShopStreams(_StubClient([{"ordersCount": {"count": 2, "precision": "EXACT"}}]), ShopifyOptions(),
                          _StubExports(export))
    pages = list(streams.sorted_stream(ORDERS, _request("orders")))
    assert sum(len(p.records) for p in pages) == 2
    assert pages[-1].state["updated_at"] <= created
    assert pages[-1].census.count == 2


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
    streams = ShopStreams(_StubClient(answers=[answer]), ShopifyOptions(bulk="off"), _StubExports())
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


def test_page_size_from_the_requested_cost_and_from_a_refusal():
    from sync.platforms.shopify.pagesize import PageSizer, Sizes, paging_seconds

    sizer = PageSizer(20)
    sizer.observe({"requestedQueryCost": 82, "throttleStatus": {"maximumAvailable": 2000}}, 20)
    assert sizer.size == 231 and sizer.expected_cost() == pytest.approx(231 * 4.1)  # 950 / 4.1 points
    sizer.observe({"requestedQueryCost": 10, "throttleStatus": {"maximumAvailable": 2000}}, 231)
    assert sizer.size == 250  # never past Shopify's page maximum
    sizer.observe({"requestedQueryCost": 1000, "throttleStatus": {"maximumAvailable": 500}}, 250)
    assert sizer.size == 118  # a bucket smaller than the query maximum is the budget: 475 / 4
    assert sizer.refused(2000, 100, 300) and sizer.size == 14  # 285 / 20 points
    assert not PageSizer(1).refused(5000, 1)
    sizes = Sizes.from_state({"Orders": 20}, {"page_sizes": {"Orders": 180, "Bogus": 3}, "points_per_record": 4.5})
    assert sizes.sizer("Orders").size == 180 and "Bogus" not in sizes.sizers
    assert sizes.state() == {"page_sizes": {"Orders": 180}, "points_per_record": 4.5}
    assert paging_seconds(1200, 27.5, 50) == pytest.approx(660)

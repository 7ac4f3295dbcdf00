"""The Amazon fetcher with the real sp_api client against the emulator, without the engine."""

from __future__ import annotations

import pytest
import sp_api.auth.access_token_client as sp_auth
from sp_api.auth._core import build_cache_key

from sync.errors import AuthError, ConfigError, CredentialError, DataTypeSkipped, PlatformError
from sync.platforms.amazon import AmazonPlatform
from sync.platforms.amazon.ratelimit import RateLimiter
from sync.platforms.amazon.timeutil import parse
from sync.platforms.amazon.tuning import AmazonTuning

from .amazon_fixtures import DE, GB, US, direct_settings, drain, emulator, request


def connect(emu, refresh_token, **env):
    return AmazonPlatform().connect(emu.demo_secrets(refresh_token), direct_settings(emu, **env))


# ----- pacing (no network) ----------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_bucket_spends_the_burst_then_paces_at_the_announced_rate():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(30):
        limiter.acquire("getOrderItems")
    assert clock.now == 0.0  # burst 30
    limiter.acquire("getOrderItems")
    assert clock.now == pytest.approx(2.0)  # documented 0.5/s
    limiter.observe("getOrderItems", "30")  # x-amzn-RateLimit-Limit of a time-scaled emulator
    start = clock.now
    for _ in range(30):
        limiter.acquire("getOrderItems")
    assert clock.now - start == pytest.approx(1.0, abs=0.04)
    assert limiter.throttled("getOrderItems") == pytest.approx(1 / 30)
    start = clock.now
    limiter.acquire("getOrderItems")
    assert clock.now - start == pytest.approx(1 / 30)  # a 429 empties the bucket
    limiter.observe("getOrderItems", "garbage")
    assert limiter.rate("getOrderItems") == 30


def test_tuning_knobs_are_validated():
    assert AmazonTuning.from_env({}).orders_page_size == 100
    assert AmazonTuning.from_env({"AMAZON_MAX_RETRIES": "3"}).max_retries == 3
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_PAGE_SIZE"):
        AmazonTuning.from_env({"AMAZON_ORDERS_PAGE_SIZE": "500"})
    with pytest.raises(ConfigError, match="AMAZON_HTTP_TIMEOUT_SECONDS"):
        AmazonTuning.from_env({"AMAZON_HTTP_TIMEOUT_SECONDS": "soon"})


def test_secrets_are_validated_without_echoing_them():
    platform = AmazonPlatform()
    good = {"refresh_token": "Atzr|x", "lwa_app_id": "a", "lwa_client_secret": "s", "marketplace_ids": [US]}
    platform.validate_secrets(good)
    with pytest.raises(CredentialError, match="marketplace_ids"):
        platform.validate_secrets({**good, "marketplace_ids": US})
    with pytest.raises(CredentialError, match="several regions"):
        platform.validate_secrets({**good, "marketplace_ids": [US, DE]})
    with pytest.raises(CredentialError) as err:
        platform.validate_secrets({**good, "refresh_token": ""})
    assert "Atzr" not in str(err.value)


# ----- connection test and tokens ---------------------------------------------------------------------
def test_connection_test_names_the_marketplaces():
    with emulator() as emu:
        emu.add_seller("rt-eu", marketplaces=[GB, DE])
        conn = connect(emu, "rt-eu")
        try:
            assert conn.test() == "Amazon seller in GB, DE"
        finally:
            conn.close()


def test_revoked_refresh_token_is_not_masked_by_the_library_token_cache():
    with emulator() as emu:
        emu.add_seller("rt-revoked")
        emu.revoke("rt-revoked")
        # A token the library's module-level cache would hand out for this refresh token:
        sp_auth.cache[build_cache_key("rt-revoked")] = {"access_token": "Atza|stale", "expires_in": 3600}
        try:
            conn = connect(emu, "rt-revoked")
            with pytest.raises(AuthError) as err:
                conn.test()
            conn.close()
        finally:
            sp_auth.cache.pop(build_cache_key("rt-revoked"), None)
        message = str(err.value)
        assert message.startswith("Amazon rejected the refresh token (invalid_grant)")
        secrets = emu.demo_secrets("rt-revoked")
        assert secrets["refresh_token"] not in message and secrets["lwa_client_secret"] not in message


def test_revocation_mid_sync_is_an_auth_error():
    with emulator() as emu:
        emu.add_seller("rt-mid", orders=5)
        conn = connect(emu, "rt-mid")
        try:
            conn.test()
            emu.revoke("rt-mid")
            with pytest.raises(AuthError, match="invalid_grant"):
                drain(conn.fetch(request("orders")))
        finally:
            conn.close()


def test_tokens_are_never_shared_between_connections_or_emulators():
    """Same refresh token on two emulators (as after a restart on another port), two sellers on one."""
    with emulator() as first, emulator() as second:
        for emu in (first, second):
            emu.add_seller("rt-same", orders=2)
        first.add_seller("rt-other", orders=1)
        conns = [connect(first, "rt-same"), connect(second, "rt-same"), connect(first, "rt-other")]
        try:
            for conn in conns:
                conn.test()
            assert [c.clients.tokens.fetches for c in conns] == [1, 1, 1]
            tokens = {c.clients.tokens._token["access_token"] for c in conns}
            assert len(tokens) == 3
            assert not any(k == build_cache_key("rt-same") for k in sp_auth.cache)  # module cache untouched
        finally:
            for conn in conns:
                conn.close()


def test_wrong_app_secret_is_named_without_the_secret():
    with emulator() as emu:
        emu.add_seller("rt-app")
        secrets = {**emu.demo_secrets("rt-app"), "lwa_client_secret": "amzn1.oa2-cs.v1.wrongwrongwrong"}
        conn = AmazonPlatform().connect(secrets, direct_settings(emu))
        with pytest.raises(AuthError, match="invalid_client") as err:
            conn.test()
        conn.close()
        assert "wrongwrong" not in str(err.value)


# ----- orders -------------------------------------------------------------------------------------------
def test_orders_skip_items_of_unchanged_orders_and_set_the_cursor_last():
    with emulator(order_items_page_size=2, time_scale=600) as emu:
        emu.add_seller("rt-o", orders=250, listings=10)
        everything = emu.orders("rt-o")
        stored = {oid: parse(o["LastUpdateDate"]) for oid, o in list(everything.items())[:100]}
        conn = connect(emu, "rt-o", AMAZON_ORDERS_WINDOW_DAYS="3650")  # one slice: pages as getOrders gives
        try:
            records, pages = drain(conn.fetch(request("orders", stored=stored)))
        finally:
            conn.close()
        assert len(pages) == 3 and [p.state is None for p in pages] == [True, True, False]
        assert set(pages[-1].state) == {"last_updated_before"}
        assert sum(p.skipped_unchanged for p in pages) == 100
        assert {r.external_id for r in records} == set(everything) - set(stored)
        for record in records:  # every item, across getOrderItems pages (2 per page here)
            assert record.data == everything[record.external_id]
            assert record.updated_at == parse(record.data["LastUpdateDate"])
        assert set(emu.counters.order_items_ids) == set(everything) - set(stored)


def test_orders_window_follows_the_cursor_minus_lookback():
    with emulator() as emu:
        emu.add_seller("rt-w", orders=40)
        conn = connect(emu, "rt-w")
        try:
            _, pages = drain(conn.fetch(request("orders")))
            cursor = pages[-1].state
            assert drain(conn.fetch(request("orders", state=cursor)))[0] == []
            changed = set(emu.change_orders("rt-w", 3)) | set(emu.add_orders("rt-w", 2))
            records, _ = drain(conn.fetch(request("orders", state=cursor)))
            assert {r.external_id for r in records} == changed
        finally:
            conn.close()


def test_transient_faults_are_retried_until_the_data_is_complete():
    with emulator(order_items_page_size=2, time_scale=600) as emu:
        emu.add_seller("rt-f", orders=60, listings=5)
        emu.inject("throttle", "getOrders", times=2)
        emu.inject("throttle", "getOrderItems", times=3)
        emu.inject("error500", "getOrderItems")
        emu.inject("error503", "getOrders")
        emu.inject("drop", "getOrderItems")
        emu.inject("gateway502", "getOrders")  # an HTML page: the library alone would call it an empty answer
        emu.inject("gateway502", "getOrderItems")
        emu.inject("slow", "getOrderItems", delay=1.0)
        emu.inject("error503", "lwaToken")
        conn = connect(emu, "rt-f", AMAZON_HTTP_TIMEOUT_SECONDS="0.5")
        try:
            records, _ = drain(conn.fetch(request("orders")))
            assert len(records) == 60
            assert conn.caller.retries["getOrders"] >= 3 and conn.caller.retries["getOrderItems"] >= 6
        finally:
            conn.close()


def test_exhausted_retries_give_a_clear_platform_error():
    with emulator() as emu:
        emu.add_seller("rt-x", orders=3)
        emu.inject("error503", "getOrders", times=10)
        conn = connect(emu, "rt-x", AMAZON_MAX_RETRIES="2")
        try:
            with pytest.raises(PlatformError, match=r"kept failing on getOrders \(HTTP 503 ServiceUnavailable\) after 3"):
                drain(conn.fetch(request("orders")))
        finally:
            conn.close()


# ----- listings -----------------------------------------------------------------------------------------
def test_listings_decode_utf8_and_gzip_windows_1252_reports():
    with emulator() as emu:
        emu.add_seller("rt-l", listings=300, marketplaces=[GB, DE])
        conn = connect(emu, "rt-l")
        try:
            records, pages = drain(conn.fetch(request("products")))
        finally:
            conn.close()
        assert len(records) == 600 and all(len(p.records) <= 250 for p in pages)
        assert [p.state is None for p in pages][-1] is False and all(p.state is None for p in pages[:-1])
        rows = emu.seller("rt-l").seeder.data.listings
        by_id = {r.external_id: r.data for r in records}
        assert by_id["SKU-00001"] == {**rows[GB][0], "marketplace-id": GB}
        assert by_id["SKU-00001|" + DE] == {**rows[DE][0], "marketplace-id": DE}
        names = {d["item-name"] for d in by_id.values()}
        assert "Geschenkbox – 5 € #5" in names and "Trinkflasche “Öko” #4" in names


@pytest.mark.parametrize("outcome", ["FATAL"])
def test_report_that_does_not_finish_is_a_clear_error(outcome):
    with emulator() as emu:
        emu.add_seller("rt-fatal", listings=5)
        emu.set_report_outcome("rt-fatal", outcome)
        conn = connect(emu, "rt-fatal")
        try:
            with pytest.raises(PlatformError, match=f"could not produce the listings report .* ended {outcome}"):
                drain(conn.fetch(request("products")))
        finally:
            conn.close()


def test_a_marketplace_without_listings_is_an_empty_snapshot_not_an_error():
    """Amazon cancels a report on its own when there is no data to return (Reports API model:
    processingStatus CANCELLED). A seller with no listings in one marketplace still syncs the others."""
    with emulator() as emu:
        emu.add_seller("rt-empty", listings=30, marketplaces=[GB, DE])
        emu.seller("rt-empty").seeder.data.listings[DE] = []
        conn = connect(emu, "rt-empty")
        try:
            records, pages = drain(conn.fetch(request("products")))
        finally:
            conn.close()
        assert len(records) == 30 and all("|" not in r.external_id for r in records)
        assert pages[-1].state and set(pages[-1].state["report_ids"]) == {GB, DE}


def test_a_retry_reuses_the_report_already_requested():
    with emulator(report_processing_seconds=0.5) as emu:
        emu.add_seller("rt-reuse", listings=20)
        emu.inject("error503", "getReportDocument", times=5)
        conn = connect(emu, "rt-reuse", AMAZON_MAX_RETRIES="1")
        try:
            with pytest.raises(PlatformError):
                drain(conn.fetch(request("products")))
        finally:
            conn.close()
        assert emu.counters.created_reports == 1
        emu.faults.clear()
        conn = connect(emu, "rt-reuse")
        try:
            records, _ = drain(conn.fetch(request("products")))
        finally:
            conn.close()
        assert len(records) == 20 and emu.counters.created_reports == 1  # the same report, not a new one


# ----- inventory ----------------------------------------------------------------------------------------
def test_inventory_one_record_per_marketplace_and_sku():
    with emulator(inventory_page_size=50) as emu:
        emu.add_seller("rt-inv", listings=120, marketplaces=[GB, DE])
        conn = connect(emu, "rt-inv")
        try:
            records, pages = drain(conn.fetch(request("inventory")))
        finally:
            conn.close()
        assert len(records) == 240 and len(pages) == 7  # 3 + 3 pages of 50, then the snapshot's state
        assert [p.state is not None for p in pages] == [False] * 6 + [True] and not pages[-1].records
        first = next(r for r in records if r.external_id == "SKU-00001")
        assert first.data["marketplaceId"] == GB and "fulfillableQuantity" in first.data["inventoryDetails"]
        assert any(r.external_id == "SKU-00001|" + DE for r in records)


def test_not_enrolled_in_fba_skips_inventory_with_the_reason():
    with emulator() as emu:
        emu.add_seller("rt-mfn", orders=2, listings=3, fba=False)
        conn = connect(emu, "rt-mfn")
        try:
            with pytest.raises(DataTypeSkipped, match="not enrolled in Fulfillment by Amazon"):
                drain(conn.fetch(request("inventory")))
        finally:
            conn.close()


def test_expired_inventory_token_restarts_the_marketplace():
    with emulator(inventory_page_size=10, next_token_ttl=0.3) as emu:
        emu.add_seller("rt-exp", listings=25)
        conn = connect(emu, "rt-exp")
        try:
            conn.test()
            emu.inject("slow", "getInventorySummaries", times=1, delay=0.0)  # the first page is prompt
            emu.inject("slow", "getInventorySummaries", times=1, delay=0.5)  # the second one too late
            records, _ = drain(conn.fetch(request("inventory")))
        finally:
            conn.close()
        assert {r.external_id for r in records} == {f"SKU-{i:05d}" for i in range(1, 26)}
        # 3 pages, the expired second one, then 3 pages again from the start
        assert emu.counters.calls["getInventorySummaries"] == 5


# ----- buyer PII ----------------------------------------------------------------------------------------
def test_buyer_pii_only_with_a_restricted_data_token_when_configured():
    from .amazon_fixtures import validate

    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-pii", orders=12)
        conn = connect(emu, "rt-pii")
        try:
            plain, _ = drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        assert not any("BuyerInfo" in r.data or "ShippingAddress" in r.data for r in plain)
        assert "createRestrictedDataToken" not in emu.counters.calls

        conn = connect(emu, "rt-pii", AMAZON_RESTRICTED_DATA_ELEMENTS="buyerInfo,shippingAddress")
        try:
            records, _ = drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        assert len(records) == 12 and all(r.data["BuyerInfo"]["BuyerEmail"] for r in records)
        assert all(r.data["OrderItems"] for r in records)  # getOrderItems went with the LWA token
        assert emu.counters.calls["createRestrictedDataToken"] == 1
        for r in records:
            order = {k: v for k, v in r.data.items() if k != "OrderItems"}
            validate("ordersV0.json", "Order", order)
    with pytest.raises(ConfigError, match="AMAZON_RESTRICTED_DATA_ELEMENTS"):
        AmazonTuning.from_env({"AMAZON_RESTRICTED_DATA_ELEMENTS": "creditCard"})


def test_fba_in_some_marketplaces_only_skips_the_others():
    with emulator() as emu:
        emu.add_seller("rt-part", listings=8, marketplaces=[GB, DE], fba=[DE])
        conn = connect(emu, "rt-part")
        try:
            records, pages = drain(conn.fetch(request("inventory")))
        finally:
            conn.close()
        assert {r.external_id for r in records} == {f"SKU-{i:05d}|{DE}" for i in range(1, 9)}
        assert pages[-1].state is not None and emu.counts("rt-part")["inventory"] == 8


def test_access_tokens_are_renewed_before_they_expire():
    with emulator(access_token_ttl=1, time_scale=120) as emu:
        emu.add_seller("rt-ttl", orders=120)
        conn = connect(emu, "rt-ttl")
        try:
            conn.test()
            records, _ = drain(conn.fetch(request("orders")))  # ~1.5 s of paced getOrderItems
            assert len(records) == 120
            assert conn.clients.tokens.fetches >= 2 and "getOrderItems" not in conn.caller.retries
        finally:
            conn.close()


def test_an_unanswered_connection_test_says_so():
    with emulator() as emu:
        emu.add_seller("rt-slow")
        emu.inject("slow", "getMarketplaceParticipations", times=3, delay=0.6)
        conn = connect(emu, "rt-slow", AMAZON_HTTP_TIMEOUT_SECONDS="0.2", AMAZON_MAX_RETRIES="2")
        try:
            with pytest.raises(PlatformError, match=r"did not answer getMarketplaceParticipations within 0.2 s"):
                conn.test()
        finally:
            conn.close()


def test_no_fba_inventory_at_all_is_a_skip_too():
    with emulator() as emu:
        emu.add_seller("rt-empty", listings=0)
        conn = connect(emu, "rt-empty")
        try:
            with pytest.raises(DataTypeSkipped, match="returned no FBA inventory"):
                drain(conn.fetch(request("inventory")))
        finally:
            conn.close()


def test_a_first_sync_moves_the_cursor_slice_by_slice():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-slices", orders=80)  # spread over the last 90 days
        conn = connect(emu, "rt-slices", AMAZON_ORDERS_WINDOW_DAYS="30", AMAZON_ORDERS_INITIAL_DAYS="120")
        try:
            records, pages = drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        assert sorted(r.external_id for r in records) == sorted(emu.orders("rt-slices"))
        states = [p.state["last_updated_before"] for p in pages if p.state]
        assert len(states) == 4 and states == sorted(states)  # 120 days in 30-day slices, oldest first
        assert emu.counters.calls["getOrders"] == 4


# ----- report document decoding (no network) -------------------------------------------------------------
@pytest.mark.parametrize("declared, body, expected", [
    # Japanese flat files are Windows-31J (cp932) even when labelled Shift_JIS: ① and ～ are not in Shift_JIS.
    ("Shift_JIS", "seller-sku\titem-name\nJP-1\t丸数字①～\n".encode("cp932"), "丸数字①～"),
    # ISO-8859-1 labels mean windows-1252 (as browsers read them): € is 0x80, not a control character.
    ("ISO-8859-1", "seller-sku\titem-name\nFR-1\tBoîte – 5 €\n".encode("cp1252"), "Boîte – 5 €"),
    # North American documents say `charset=utf8`; a byte-order mark must not become part of the first column.
    ("utf8", "\ufeffitem-name\tseller-sku\nBottle\tUS-1\n".encode("utf-8"), None),
])
def test_a_declared_charset_is_read_as_what_amazon_actually_writes(declared, body, expected):
    import io

    from sync.platforms.amazon.documents import DownloadedDocument, choose_encoding, iter_rows

    doc = DownloadedDocument(io.BytesIO(body), declared)
    rows = list(iter_rows(doc, choose_encoding(doc, "A1VC38T7YXB528" if declared == "Shift_JIS" else DE)))
    assert rows[0]["item-name"] == (expected or "Bottle")


def test_next_pages_of_orders_repeat_the_filters_with_the_token():
    """Orders model: "NextToken doesn't affect any filters that you include in your request; it only impacts
    the pagination"; its sandbox example of a next page sends the filter with the NextToken (and so does
    python-amazon-sp-api's load_all_pages). A next page asked with the token alone relies on undocumented
    behaviour."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from sync.models import StreamRequest
    from sync.platforms.amazon.orders import fetch_orders

    class Orders:
        restricted_data_token = None

        def __init__(self):
            self.calls = []

        def get_orders(self, **params):
            self.calls.append(params)
            token = None if "NextToken" in params else "tok-2"
            return SimpleNamespace(payload={"Orders": [], **({"NextToken": token} if token else {})}, headers={})

    class Caller:
        def call(self, operation, fn):
            return fn()

    client = Orders()
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    req = StreamRequest("orders", {"last_updated_before": "2026-01-01T11:00:00Z"}, timedelta(minutes=10), now,
                        lambda ids: {})
    list(fetch_orders(Caller(), client, req, [US], AmazonTuning(), None, now=lambda: now))
    first, second = client.calls
    assert second["NextToken"] == "tok-2"
    assert {k: v for k, v in second.items() if k != "NextToken"} == first

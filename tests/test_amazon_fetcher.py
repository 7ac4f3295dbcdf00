"""The Amazon fetcher with the real sp_api client against the emulator, without the engine."""

from __future__ import annotations

import pytest
import sp_api.auth.access_token_client as sp_auth
from sp_api.auth._core import build_cache_key

from sync.errors import AuthError, ConfigError, CredentialError, DataTypeSkipped, PlatformError
from sync.platforms.amazon import AmazonPlatform
from sync.platforms.amazon.ratelimit import RateLimiter
from sync.timeutil import parse
from sync.platforms.amazon.options import AmazonOptions

from .amazon_fixtures import DE, GB, US, direct_settings, drain, emulator, request, validate

ORDERS = "orders_2026-01-01.json"


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
    for _ in range(20):
        limiter.acquire("searchOrders")
    assert clock.now == 0.0  # burst 20
    limiter.acquire("searchOrders")
    assert clock.now == pytest.approx(1 / 0.0056)  # documented 0.0056/s: one call every ~3 minutes
    limiter.observe("searchOrders", "30")  # x-amzn-RateLimit-Limit of a time-scaled emulator
    start = clock.now
    for _ in range(30):
        limiter.acquire("searchOrders")
    assert clock.now - start == pytest.approx(1.0, abs=0.04)
    assert limiter.throttled("searchOrders") == pytest.approx(1 / 30)
    start = clock.now
    limiter.acquire("searchOrders")
    assert clock.now - start == pytest.approx(1 / 30)  # a 429 empties the bucket
    limiter.observe("searchOrders", "garbage")
    assert limiter.rate("searchOrders") == 30


def test_tuning_knobs_are_validated():
    default = AmazonOptions.from_env({})
    assert default.orders_page_size == 100 and default.orders_window_days == 0
    assert default.included_data == ("FULFILLMENT", "PROCEEDS")  # what the SKU analysis and a dashboard read
    assert AmazonOptions.from_env({"AMAZON_MAX_RETRIES": "3"}).max_retries == 3
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_PAGE_SIZE"):
        AmazonOptions.from_env({"AMAZON_ORDERS_PAGE_SIZE": "500"})
    with pytest.raises(ConfigError, match="AMAZON_HTTP_TIMEOUT_SECONDS"):
        AmazonOptions.from_env({"AMAZON_HTTP_TIMEOUT_SECONDS": "soon"})
    # FULFILLMENT always (the order status), other sections as asked, personal ones only through their setting
    assert AmazonOptions.from_env({"AMAZON_ORDERS_INCLUDED_DATA": "proceeds,packages"}).included_data == \
        ("FULFILLMENT", "PROCEEDS", "PACKAGES")
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_PERSONAL_DATA"):
        AmazonOptions.from_env({"AMAZON_ORDERS_INCLUDED_DATA": "PROCEEDS,BUYER"})
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_INCLUDED_DATA accepts"):
        AmazonOptions.from_env({"AMAZON_ORDERS_INCLUDED_DATA": "EVERYTHING"})
    assert AmazonOptions.from_env({"AMAZON_ORDERS_PERSONAL_DATA": "recipient, BUYER"}).personal_sections == \
        ("BUYER", "RECIPIENT")
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_PERSONAL_DATA accepts"):
        AmazonOptions.from_env({"AMAZON_ORDERS_PERSONAL_DATA": "PAYMENT"})
    # the v0 setting still means what it meant; SYNC_STORE_PII=false never asks for personal data
    assert AmazonOptions.from_env({"AMAZON_RESTRICTED_DATA_ELEMENTS": "shippingAddress"}).personal_sections == \
        ("RECIPIENT",)
    with pytest.raises(ConfigError, match="AMAZON_RESTRICTED_DATA_ELEMENTS"):
        AmazonOptions.from_env({"AMAZON_RESTRICTED_DATA_ELEMENTS": "creditCard"})
    for env in ({"AMAZON_ORDERS_PERSONAL_DATA": "BUYER,RECIPIENT"}, {"AMAZON_RESTRICTED_DATA_ELEMENTS": "buyerInfo"}):
        assert AmazonOptions.from_env({**env, "SYNC_STORE_PII": "false"}).included_data == ("FULFILLMENT", "PROCEEDS")
    with pytest.raises(ConfigError, match="SYNC_STORE_PII"):
        AmazonOptions.from_env({"AMAZON_ORDERS_PERSONAL_DATA": "BUYER", "SYNC_STORE_PII": "maybe"})


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
def test_orders_come_with_all_their_items_and_the_cursor_moves_with_the_last_page():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-o", orders=250, listings=10)
        truth = emu.orders_v2026("rt-o")
        conn = connect(emu, "rt-o")
        try:
            records, pages = drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        assert [len(p.records) for p in pages] == [100, 100, 50]
        # Earlier pages commit where the window stands (a killed sync resumes there); the last one the cursor.
        assert [set(p.state) for p in pages] == [{"window"}, {"window"}, {"last_updated_before"}]
        assert pages[0].state["window"]["token"] != pages[1].state["window"]["token"]
        assert {r.external_id: r.data for r in records} == truth  # as Amazon returned them
        for record in records:
            assert record.updated_at == parse(record.data["lastUpdatedTime"])
            assert record.data["orderItems"] and record.data["fulfillment"]["fulfillmentStatus"]
            validate(ORDERS, "Order", record.data)
        assert emu.counters.calls == {"searchOrders": 3}  # no per-order call, no v0


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


def test_a_killed_backfill_resumes_at_its_last_committed_page():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-k", orders=230)
        conn = connect(emu, "rt-k", AMAZON_ORDERS_PAGE_SIZE="50")
        try:
            pages = conn.fetch(request("orders"))
            first, second = next(pages), next(pages)  # the process dies after committing two pages
            pages.close()
            emu.reset_counters()
            records, rest = drain(conn.fetch(request("orders", state=second.state)))
        finally:
            conn.close()
        # pages 3, 4 and 5 of the saved window (not the whole window again), then one page for what changed
        # since that window ended
        assert emu.counters.calls["searchOrders"] == 3 + 1
        got = [r.external_id for r in first.records + second.records + records]
        assert sorted(got) == sorted(emu.orders_v2026("rt-k"))
        states = [p.state for p in rest]
        assert states[2] == {"last_updated_before": second.state["window"]["before"]}
        assert states[3]["last_updated_before"] >= states[2]["last_updated_before"] and len(states) == 4


def test_an_expired_pagination_token_reads_the_window_again():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-e", orders=120)
        conn = connect(emu, "rt-e", AMAZON_ORDERS_PAGE_SIZE="50")
        try:
            emu.inject("expire_token", "searchOrders")  # the second page's token has expired
            records, pages = drain(conn.fetch(request("orders")))
            assert {r.external_id for r in records} == set(emu.orders_v2026("rt-e"))
            assert emu.counters.calls["searchOrders"] == 1 + 1 + 3  # page 1, the refused page 2, pages 1-3
            assert pages[-1].state and set(pages[-1].state) == {"last_updated_before"}

            # A position saved more than a day ago is not even tried: the window is read from its start.
            emu.reset_counters()
            stale = {"window": {**pages[0].state["window"], "issued_at": "2020-01-01T00:00:00Z"}}
            again, _ = drain(conn.fetch(request("orders", state=stale)))
            assert {r.external_id for r in again} == set(emu.orders_v2026("rt-e"))
            assert emu.counters.calls["searchOrders"] == 3 + 1  # the window, then what changed since it ended
        finally:
            conn.close()


def test_transient_faults_are_retried_until_the_data_is_complete():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-f", orders=60, listings=5)
        emu.inject("error500", "searchOrders")
        emu.inject("error503", "searchOrders")
        emu.inject("drop", "searchOrders")
        emu.inject("gateway502", "searchOrders")  # an HTML page: the library alone would call it an empty answer
        emu.inject("slow", "searchOrders", delay=1.0)
        emu.inject("error503", "lwaToken")
        conn = connect(emu, "rt-f", AMAZON_HTTP_TIMEOUT_SECONDS="0.5", AMAZON_ORDERS_PAGE_SIZE="20")
        try:
            records, _ = drain(conn.fetch(request("orders")))
            assert {r.external_id for r in records} == set(emu.orders_v2026("rt-f"))
            retried = conn.caller.retries["searchOrders"]
            assert retried >= 5
            # QuotaExceeded in mid-listing (after the first answer announced the time-scaled rate: before it, a
            # 429 waits for the documented 0.0056/s, three minutes) is waited out too.
            emu.inject("throttle", "searchOrders", times=3, after=1)
            records, _ = drain(conn.fetch(request("orders")))
            assert {r.external_id for r in records} == set(emu.orders_v2026("rt-f"))
            assert conn.caller.retries["searchOrders"] == retried + 3 and emu.counters.throttled["searchOrders"] == 3
        finally:
            conn.close()


def test_exhausted_retries_give_a_clear_platform_error():
    with emulator() as emu:
        emu.add_seller("rt-x", orders=3)
        emu.inject("error503", "searchOrders", times=10)
        conn = connect(emu, "rt-x", AMAZON_MAX_RETRIES="2")
        try:
            with pytest.raises(PlatformError, match=r"kept failing on searchOrders \(HTTP 503 ServiceUnavailable\) after 3"):
                drain(conn.fetch(request("orders")))
        finally:
            conn.close()


def test_an_app_without_the_orders_role_skips_orders():
    with emulator() as emu:
        emu.add_seller("rt-norole", orders=3, roles=set())
        conn = connect(emu, "rt-norole")
        try:
            with pytest.raises(DataTypeSkipped, match="Inventory and Order Tracking"):
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
def test_personal_data_only_when_asked_for_and_allowed():
    with emulator(time_scale=600) as emu:
        emu.add_seller("rt-pii", orders=12)
        for env in ({}, {"AMAZON_ORDERS_PERSONAL_DATA": "BUYER,RECIPIENT", "SYNC_STORE_PII": "false"}):
            conn = connect(emu, "rt-pii", **env)
            try:
                plain, _ = drain(conn.fetch(request("orders")))
            finally:
                conn.close()
            assert len(plain) == 12 and not any({"buyer", "recipient"} & set(r.data) for r in plain), env

        conn = connect(emu, "rt-pii", AMAZON_ORDERS_PERSONAL_DATA="BUYER,RECIPIENT")
        try:
            records, _ = drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        assert {r.external_id: r.data for r in records} == emu.orders_v2026(
            "rt-pii", ("FULFILLMENT", "PROCEEDS", "BUYER", "RECIPIENT"))
        assert all(r.data["recipient"]["deliveryAddress"]["countryCode"] for r in records)
        assert any(r.data.get("buyer", {}).get("buyerName") for r in records)
        for r in records:
            validate(ORDERS, "Order", r.data)
        assert "createRestrictedDataToken" not in emu.counters.calls  # v2026 grants personal data by role


@pytest.mark.parametrize("sections, role", [("BUYER", "Tax Invoicing (Restricted)"),
                                            ("RECIPIENT", "Direct-to-Consumer Shipping (Restricted)")])
def test_personal_data_without_its_role_fails_orders_naming_the_role(sections, role):
    from emulators.amazon import ROLE_ORDERS

    with emulator() as emu:
        emu.add_seller("rt-role", orders=4, roles={ROLE_ORDERS})
        conn = connect(emu, "rt-role", AMAZON_ORDERS_PERSONAL_DATA=sections)
        try:
            with pytest.raises(PlatformError) as err:
                drain(conn.fetch(request("orders")))
        finally:
            conn.close()
        message = str(err.value)
        assert not isinstance(err.value, DataTypeSkipped)
        assert "403" in message and role in message and "AMAZON_ORDERS_PERSONAL_DATA" in message
        secrets = emu.demo_secrets("rt-role")
        assert secrets["refresh_token"] not in message and "Atza|" not in message


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
    with emulator(access_token_ttl=1, time_scale=300) as emu:
        emu.add_seller("rt-ttl", orders=110)
        conn = connect(emu, "rt-ttl", AMAZON_ORDERS_PAGE_SIZE="5")
        try:
            conn.test()
            records, _ = drain(conn.fetch(request("orders")))  # 22 pages: ~1.2 s of paced searchOrders
            assert len(records) == 110
            assert conn.clients.tokens.fetches >= 2 and "searchOrders" not in conn.caller.retries
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
        assert sorted(r.external_id for r in records) == sorted(emu.orders_v2026("rt-slices"))
        states = [p.state["last_updated_before"] for p in pages if p.state]
        assert len(states) == 4 and states == sorted(states)  # 120 days in 30-day slices, oldest first
        assert emu.counters.calls["searchOrders"] == 4


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


class FakeOrders:
    """An Orders client answering from a script (for answers the emulator never gives)."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def search_orders(self, **params):
        from types import SimpleNamespace

        self.calls.append(params)
        body = dict(self.answers.pop(0))
        return SimpleNamespace(payload={k: v for k, v in body.items() if k != "pagination"},
                               pagination=body.get("pagination"), headers={})


class DirectCaller:
    def call(self, operation, fn):
        return fn()


def _fetch_fake(client, state=None):
    from datetime import datetime, timedelta, timezone

    from sync.models import Cursor, StreamRequest
    from sync.platforms.amazon.orders import fetch_orders

    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    req = StreamRequest("orders", Cursor.of(state, timedelta(minutes=10), "last_updated_before"), now,
                        lambda ids: {})
    return list(fetch_orders(DirectCaller(), client, req, [US], AmazonOptions(), now=lambda: now))


def test_next_pages_of_orders_repeat_every_parameter_with_the_token():
    """searchOrders: "All other parameters must be provided with the same values that were provided with the
    request that generated this token"."""
    order = {"orderId": "1", "createdTime": "2026-01-01T00:00:00Z", "lastUpdatedTime": "2026-01-01T00:00:00Z",
             "salesChannel": {"channelName": "AMAZON"}, "orderItems": []}
    client = FakeOrders([{"orders": [order], "pagination": {"nextToken": "tok-2"}}, {"orders": []}])
    pages = _fetch_fake(client, {"last_updated_before": "2026-01-01T11:00:00Z"})
    first, second = client.calls
    assert second["paginationToken"] == "tok-2"
    assert {k: v for k, v in second.items() if k != "paginationToken"} == first
    assert first == {"lastUpdatedAfter": "2026-01-01T10:50:00Z", "lastUpdatedBefore": "2026-01-01T11:57:30Z",
                     "marketplaceIds": [US], "maxResultsPerPage": 100, "includedData": ["FULFILLMENT", "PROCEEDS"]}
    assert pages[0].state["last_updated_before"] == "2026-01-01T11:00:00Z"  # the cursor waits for the last page


@pytest.mark.parametrize("answer", [{"Orders": []}, {"orders": [{"orderId": "1"}]},
                                    {"orders": [{"orderItems": []}]}])
def test_a_malformed_answer_stops_orders_without_moving_the_cursor(answer):
    from sync.errors import IncompleteDataError

    with pytest.raises(IncompleteDataError, match="cursor stays where it was"):
        _fetch_fake(FakeOrders([answer]))

"""SYNC_STORE_PII=false: customers and orders of both platforms stored without names, e-mail addresses, phone
numbers and street addresses (ids, country, totals and line items kept); the hash is taken after removal, so
switching the setting counts each affected record once as updated, and then never again."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from emulators.amazon.order_shapes import to_v2026
from emulators.shopify import ShopifyEmulator
from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams
from sync.personal import split_paths, without_paths
from sync.platforms.amazon.personal import PERSONAL_DATA as AMAZON_PERSONAL
from sync.platforms.shopify.personal import PERSONAL_DATA as SHOPIFY_PERSONAL
from sync.store import open_store

from .amazon_fixtures import emulator as amazon_emulator
from .engine_fixtures import make_settings, query
from .shopify_fixtures import FAST
from .test_fault_matrix import _add

ALL = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT")


def _stored(settings, client_id: str, data_type: str) -> dict[str, dict]:
    rows = query(settings, f'SELECT external_id, data FROM "{data_table(client_id)}" WHERE data_type = ?',
                 (data_type,))
    return {r[0]: (r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in rows}


def _sync(settings, client_id: str):
    summary = SyncEngine(settings).run(RunParams(force=True, client_id=client_id), workers=1)
    assert summary.failed == 0, summary.as_json()
    return summary.results[0]


def _reset(settings, credential_id: str, data_types: list[str]) -> None:
    store = open_store(settings)
    try:
        store.reset_cursors(credential_id, data_types, True, datetime.now(timezone.utc))
    finally:
        store.close()


def _with(settings, **env: str):
    """The same settings with some variables changed (the user editing .env between two runs)."""
    return type(settings).from_env({**dict(settings.env), **env}, load_dotenv=False)


def test_amazon_order_paths_remove_the_person_and_keep_the_order():
    seeded = {"AmazonOrderId": "113-0000001-0000001", "PurchaseDate": "2026-11-01T10:00:00Z",
              "LastUpdateDate": "2026-11-02T10:00:00Z", "MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped",
              "FulfillmentChannel": "MFN", "OrderTotal": {"Amount": "25.00", "CurrencyCode": "USD"}}
    items = [{"OrderItemId": "1", "ASIN": "B000000001", "SellerSKU": "SKU-1", "Title": "A thing", "QuantityOrdered": 2,
              "QuantityShipped": 0, "ItemPrice": {"Amount": "25.00", "CurrencyCode": "USD"}}]
    order = to_v2026(seeded, items, ALL)
    order["orderItems"][0].setdefault("fulfillment", {})["packing"] = {"giftOption": {"giftMessage": "Love, Sam",
                                                                                      "giftWrapLevel": "Classic"}}
    assert order["buyer"]["buyerEmail"] and order["recipient"]["deliveryAddress"]["addressLine1"]
    clean = without_paths(order, split_paths(AMAZON_PERSONAL["orders"]))
    assert clean["buyer"] == {}
    assert clean["recipient"]["deliveryAddress"] == {k: v for k, v in order["recipient"]["deliveryAddress"].items()
                                                     if k in ("city", "stateOrRegion", "countryCode", "addressType")}
    assert clean["orderItems"][0]["fulfillment"]["packing"]["giftOption"] == {"giftWrapLevel": "Classic"}
    for kept in ("orderId", "createdTime", "proceeds", "salesChannel"):
        assert clean[kept] == order[kept]
    assert clean["orderItems"][0]["product"] == order["orderItems"][0]["product"]
    text = json.dumps(clean)
    assert "Buyer " not in text and "@" not in text and "Main Street" not in text and "555" not in text
    assert without_paths(order, []) is order  # nothing asked, nothing copied


def test_shopify_customers_without_personal_data_and_switching_counts_each_once(tmp_path):
    with ShopifyEmulator(restore_rate=1e9, bucket_size=1e9) as emu:
        domain, token = f"pii-{uuid.uuid4().hex[:8]}.myshopify.com", f"shpat_{uuid.uuid4().hex}"
        emu.add_shop(domain, token, orders=12, products=4, customers=15)
        emu.set_bulk_timing(domain, seconds=0.02)
        with_pii = make_settings("sqlite", tmp_path, SHOPIFY_BASE_URL=emu.base_url, **FAST)
        client_id, credential_id = _add(with_pii, "shopify", {"shop_domain": domain, "access_token": token})
        _sync(with_pii, client_id)
        before = _stored(with_pii, client_id, "customers")
        people = [c for c in before.values() if c.get("defaultEmailAddress") or c.get("firstName")]
        assert len(before) == 15 and people

        without = _with(with_pii, SYNC_STORE_PII="false")
        _reset(without, credential_id, ["customers", "orders"])
        switched = _sync(without, client_id)
        customers = _stored(without, client_id, "customers")
        # Each customer that held personal data is rewritten once, as updated; the others are untouched.
        affected = sum(1 for c in before.values() if without_paths(c, split_paths(SHOPIFY_PERSONAL["customers"])) != c)
        assert (switched.streams["customers"].updated, switched.streams["customers"].new) == (affected, 0)
        assert switched.streams["customers"].unchanged == 15 - affected
        assert switched.streams["orders"].updated == 0  # orders hold no buyer data to remove
        for customer in customers.values():
            assert not {"firstName", "lastName", "displayName", "defaultEmailAddress", "defaultPhoneNumber"} & set(customer)
            assert "zip" not in (customer.get("defaultAddress") or {})
            assert customer["id"] and "amountSpent" in customer
        text = json.dumps(customers)
        for person in people:
            for value in (person.get("firstName"), person.get("lastName"),
                          (person.get("defaultEmailAddress") or {}).get("emailAddress"),
                          (person.get("defaultPhoneNumber") or {}).get("phoneNumber")):
                assert not value or value not in text
        assert any((c.get("defaultAddress") or {}).get("countryCodeV2") for c in customers.values())
        orders = _stored(without, client_id, "orders")
        assert len(orders) == 12 and all(o["lineItems"] and o["totalPriceSet"] for o in orders.values())

        # Read again in full: the hash was taken after removal, so nothing changes any more.
        _reset(without, credential_id, ["customers"])
        again = _sync(without, client_id)
        assert (again.streams["customers"].updated, again.streams["customers"].unchanged) == (0, 15)


def test_amazon_orders_without_personal_data_and_switching_counts_each_once(tmp_path):
    with amazon_emulator(time_scale=600, report_processing_seconds=0.05) as emu:
        refresh_token = f"Atzr|{uuid.uuid4().hex}"
        emu.add_seller(refresh_token, orders=25, listings=3)
        with_pii = make_settings("sqlite", tmp_path, AMAZON_SP_API_BASE_URL=emu.sp_api_base_url,
                                 AMAZON_LWA_TOKEN_URL=emu.lwa_token_url, AMAZON_ORDERS_PERSONAL_DATA="BUYER,RECIPIENT",
                                 AMAZON_RETRY_BASE_SECONDS="0.01", AMAZON_REPORT_POLL_SECONDS="0.05",
                                 AMAZON_REPORT_POLL_MAX_SECONDS="0.1")
        client_id, credential_id = _add(with_pii, "amazon", emu.demo_secrets(refresh_token))
        _sync(with_pii, client_id)
        before = _stored(with_pii, client_id, "orders")
        assert len(before) == 25 and any("buyer" in o for o in before.values())
        emails = {o["buyer"]["buyerEmail"] for o in before.values() if (o.get("buyer") or {}).get("buyerEmail")}
        assert emails

        without = _with(with_pii, SYNC_STORE_PII="false")
        _reset(without, credential_id, ["orders"])
        switched = _sync(without, client_id)
        orders = _stored(without, client_id, "orders")
        # Every order carried a personal section (the recipient's, at least its city): each is rewritten once.
        assert (switched.streams["orders"].updated, switched.streams["orders"].new) == (25, 0)
        text = json.dumps(orders)
        assert not any(e in text for e in emails) and "Main Street" not in text
        for order in orders.values():
            assert "buyer" not in order and "recipient" not in order
            assert order["orderId"] and order["orderItems"] and order["salesChannel"]["marketplaceId"]
        assert orders == emu.orders_v2026(refresh_token)  # what Amazon sends without the personal sections

        _reset(without, credential_id, ["orders"])
        again = _sync(without, client_id)
        assert (again.streams["orders"].updated, again.streams["orders"].unchanged) == (0, 25)

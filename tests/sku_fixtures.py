"""Hand-made stored records in the platforms' shapes, written through the stores' real write path,
and the SKU cache read back with its values normalized across PostgreSQL and SQLite."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

from sync.dedup import stage
from sync.ids import sku_cache_table
from sync.models import Record, WorkerId
from sync.store import open_store

from .engine_fixtures import query

TEST_WORKER = WorkerId("test", 0, "00000000-0000-4000-8000-000000000000", 0)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shopify_order(order_id: int, created_at: datetime, lines: Iterable[tuple], *, cancelled: bool = False,
                  test: bool = False, currency: str = "USD", shape: str = "list") -> tuple[str, dict]:
    """lines: (sku, quantity, discounted total[, title])."""
    items = []
    for n, line in enumerate(lines):
        sku, qty, amount = line[:3]
        items.append({
            "id": f"gid://shopify/LineItem/{order_id}{n}", "name": line[3] if len(line) > 3 else f"Item {sku}",
            "sku": sku, "quantity": qty, "currentQuantity": qty, "variant": {"id": f"gid://shopify/ProductVariant/{n}"},
            "originalUnitPriceSet": {"shopMoney": {"amount": "99.00", "currencyCode": currency}},
            "discountedTotalSet": {"shopMoney": {"amount": str(amount), "currencyCode": currency}},
        })
    if shape == "nodes":
        line_items: Any = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": items}
    elif shape == "edges":
        line_items = {"edges": [{"node": i} for i in items]}
    else:
        line_items = items
    gid = f"gid://shopify/Order/{order_id}"
    return gid, {
        "id": gid, "name": f"#{order_id}", "createdAt": iso(created_at), "updatedAt": iso(created_at),
        "processedAt": iso(created_at), "cancelledAt": iso(created_at) if cancelled else None,
        "cancelReason": "CUSTOMER" if cancelled else None, "currencyCode": currency, "test": test,
        "lineItems": line_items,
    }


def amazon_order(order_id: str, purchased_at: datetime, items: Iterable[tuple], *, status: str = "Shipped",
                 currency: str = "USD") -> tuple[str, dict]:
    """items: (sku, quantity, item price or None[, title])."""
    order_items = []
    for n, item in enumerate(items):
        sku, qty, amount = item[:3]
        entry = {"ASIN": f"B0{n:08d}", "SellerSKU": sku, "OrderItemId": f"{order_id}-{n}", "QuantityOrdered": qty,
                 "QuantityShipped": qty if status == "Shipped" else 0, "Title": item[3] if len(item) > 3 else None}
        if amount is not None:
            entry["ItemPrice"] = {"CurrencyCode": currency, "Amount": str(amount)}
        order_items.append(entry)
    return order_id, {
        "AmazonOrderId": order_id, "PurchaseDate": iso(purchased_at), "LastUpdateDate": iso(purchased_at),
        "OrderStatus": status, "MarketplaceId": "ATVPDKIKX0DER", "OrderItems": order_items,
    }


def amazon_order_v2026(order_id: str, created_at: datetime, items: Iterable[tuple], *, status: str = "SHIPPED",
                       currency: str = "USD") -> tuple[str, dict]:
    """An Orders API v2026-01-01 order. items: (sku, quantity, unit price or None[, title])."""
    order_items = []
    for n, item in enumerate(items):
        sku, qty, unit = item[:3]
        product: dict = {"asin": f"B0{n:08d}", "sellerSku": sku, "title": item[3] if len(item) > 3 else None,
                         "condition": {"conditionType": "NEW"}}
        if unit is not None:
            product["price"] = {"unitPrice": {"amount": str(unit), "currencyCode": currency}}
        order_items.append({"orderItemId": f"{order_id}-{n}", "quantityOrdered": qty, "product": product,
                            "fulfillment": {"quantityFulfilled": qty if status == "SHIPPED" else 0}})
    return order_id, {
        "orderId": order_id, "createdTime": iso(created_at), "lastUpdatedTime": iso(created_at), "programs": [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT"}, "orderItems": order_items,
    }


def shopify_product(product_id: int, title: str, variants: Iterable[tuple[str, str]]) -> tuple[str, dict]:
    gid = f"gid://shopify/Product/{product_id}"
    return gid, {"id": gid, "title": title, "variants": {"nodes": [
        {"id": f"gid://shopify/ProductVariant/{product_id}{n}", "sku": sku, "title": vtitle}
        for n, (sku, vtitle) in enumerate(variants)]}}


def amazon_listing(sku: str, name: str) -> tuple[str, dict]:
    return sku, {"seller-sku": sku, "item-name": name, "price": "10.00", "quantity": "", "marketplace-id": "ATVPDKIKX0DER"}


def shopify_level(sku: str, item: int, location: int, available: int, *, active: bool = True) -> tuple[str, dict]:
    level = f"gid://shopify/InventoryLevel/{item}?inventory_item_id={item}&location_id={location}"
    return level, {
        "id": level, "updatedAt": "2026-03-01T00:00:00Z", "item": {"id": f"gid://shopify/InventoryItem/{item}", "sku": sku},
        "quantities": [{"name": "available", "quantity": available}, {"name": "on_hand", "quantity": available + 5}],
        "location": {"id": f"gid://shopify/Location/{location}", "name": f"Warehouse {location}", "isActive": active},
    }


def amazon_stock(sku: str, fulfillable: int, marketplace: str = "ATVPDKIKX0DER", primary: bool = True,
                 name: str | None = None) -> tuple[str, dict]:
    return (sku if primary else f"{sku}|{marketplace}"), {
        "asin": "B000000001", "fnSku": "X0001", "sellerSku": sku, "condition": "NewItem", "productName": name,
        "lastUpdatedTime": "2026-03-01T00:00:00Z", "totalQuantity": fulfillable + 3, "marketplaceId": marketplace,
        "inventoryDetails": {"fulfillableQuantity": fulfillable, "inboundWorkingQuantity": 0},
    }


def direct(settings):
    """Settings that reach the tables directly: for the Supabase REST store, the PostgreSQL database behind
    it (its DSN rides along in the test settings' env as `_TEST_PG_DSN`)."""
    if settings.store_kind != "supabase":
        return settings
    from sync.config import Settings

    env = {k: v for k, v in settings.env.items() if not k.startswith("SUPABASE")}
    env["DATABASE_URL"] = settings.env["_TEST_PG_DSN"]
    return Settings.from_env(env, load_dotenv=False)


def store_records(settings, client_id: str, credential_id: str, platform: str, data_type: str,
                  records: Iterable[tuple[str, dict]]) -> None:
    # Written straight into the tables (for the REST store, page writes need a claimed integration).
    store = open_store(direct(settings))
    try:
        store.ensure_schema()
        store.ensure_data_table(client_id)
        staged = stage(Record(external_id=i, data=d) for i, d in records).rows
        with store.page_transaction(client_id, credential_id, platform, data_type, TEST_WORKER) as tx:
            stored = tx.stored_hashes(list(staged))
            tx.write([r for i, r in staged.items() if i not in stored], [r for i, r in staged.items() if i in stored],
                     datetime.now(timezone.utc))
    finally:
        store.close()


def execute(settings, sql: str, params: tuple = ()) -> None:
    """One committed statement, on any store."""
    settings = direct(settings)
    if settings.store_kind == "postgres":
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
        return
    import sqlite3

    conn = sqlite3.connect(settings.sqlite_path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def new_ids() -> tuple[str, str, str]:
    """A client id and two credential ids (its Shopify and Amazon integrations)."""
    return str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def _num(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def read_cache(settings, client_id: str) -> dict[str, dict[str, Any]]:
    columns = ("sku", "title", "platforms", "units_sold_7d", "units_sold_30d", "units_sold_90d", "orders_30d",
               "revenue_30d", "currency_code", "inventory_available", "avg_daily_units_30d", "days_of_cover",
               "last_sold_at", "computed_at")
    rows = query(direct(settings), f'SELECT {", ".join(columns)} FROM "{sku_cache_table(client_id)}" ORDER BY sku')
    out = {}
    for raw in rows:
        row = dict(zip(columns, raw))
        if isinstance(row["platforms"], str):
            row["platforms"] = json.loads(row["platforms"])
        for key in ("revenue_30d", "avg_daily_units_30d", "days_of_cover"):
            row[key] = _num(row[key])
        for key in ("last_sold_at", "computed_at"):
            row[key] = _time(row[key])
        out[row["sku"]] = row
    return out

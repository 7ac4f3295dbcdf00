"""What a stored record says about SKUs: sale lines, catalogue titles, stock. One function per shape.

The records are stored as the platforms returned them (SPEC section 2):
- Shopify `orders`: GraphQL Admin API `Order` nodes; line items under `lineItems`, either as a list
  (bulk export, assembled) or as a connection (`{"nodes": [...]}` or `{"edges": [{"node": ...}]}`).
- Amazon `orders`: Orders API v2026-01-01 `Order` objects, their items under `orderItems`; rows stored
  before that in the Orders API v0 shape (getOrders `Order` + getOrderItems items under `OrderItems`) stay
  readable until the order is read again.
- Shopify `products`: `Product` nodes with `variants` (same three shapes); Amazon `products`: rows of
  the GET_MERCHANT_LISTINGS_ALL_DATA report (`seller-sku`, `item-name`).
- Shopify `inventory`: one inventory level (item x location) with `item { sku }` and
  `quantities [{name, quantity}]`; Amazon `inventory`: FBA `InventorySummary` objects
  (`sellerSku`, `inventoryDetails.fulfillableQuantity`), one per marketplace.

Rules (SPEC section 2): a sale is dated by when its order was placed (Shopify `createdAt`, Amazon
`createdTime`, v0 rows `PurchaseDate`); its revenue is the line's discounted total (Shopify
`discountedTotalSet.shopMoney`, Amazon `product.price.unitPrice` x `quantityOrdered`, v0 rows `ItemPrice`,
which v0 gave for the whole line); cancelled orders (Shopify `cancelledAt`, Amazon
`fulfillment.fulfillmentStatus == "CANCELLED"`, v0 rows `OrderStatus == "Canceled"`) and Shopify test orders
do not count. Units are the ordered quantity (Shopify `quantity`, Amazon `quantityOrdered` / v0
`QuantityOrdered`), matching the revenue figure, which refunds do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping

from .. import timeutil

# Stored records are decoded JSON, so their objects are dicts: `isinstance(x, dict)` rather than
# `Mapping` (an ABC check, several times slower, on the analysis's hottest path).

SHOPIFY_DEFAULT_VARIANT_TITLE = "Default Title"
AMAZON_CANCELLED = {"canceled", "cancelled"}


@dataclass(frozen=True, slots=True)
class SaleLine:
    sku: str
    platform: str
    placed_at: datetime
    units: int
    revenue: Decimal | None  # None: the platform gave no price (e.g. an Amazon order still Pending)
    currency: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Order:
    """An order that counts as a sale: when it was placed and its lines that carry a SKU."""

    placed_at: datetime
    lines: list[SaleLine]
    lines_without_sku: int = 0


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    sku: str
    platform: str
    title: str | None


@dataclass(frozen=True, slots=True)
class Stock:
    """Units available to sell of one SKU in one stock pool.

    A pool is where one quantity lives: a Shopify inventory item at a location, or an Amazon seller's
    FBA stock. Amazon reports the same pooled FBA stock again in each marketplace of a region, so
    within a pool the largest figure counts, and pools add up.
    """

    sku: str
    platform: str
    pool: str
    available: int
    title: str | None = None


class Skip(Exception):
    """This record does not count (cancelled, test order, no date): `reason` names why, for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- small readers ----------------------------------------------------------------------------------------
def nodes(value: Any) -> Iterator[Mapping[str, Any]]:
    """The elements of a list, a GraphQL connection's `nodes`, or its `edges[].node`."""
    if isinstance(value, dict):
        if isinstance(value.get("nodes"), list):
            value = value["nodes"]
        elif isinstance(value.get("edges"), list):
            value = [e.get("node") for e in value["edges"] if isinstance(e, dict)]
        else:
            return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def text(value: Any) -> str | None:
    if value is None:
        return None
    value = (value if type(value) is str else str(value)).strip()
    return value or None


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return timeutil.parse(value)
    except ValueError:
        return None


def decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def whole(value: Any) -> int | None:
    if type(value) is int:  # the usual case: a JSON integer
        return value
    number = decimal(value)
    return None if number is None else int(number)


def _path(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# -- orders -------------------------------------------------------------------------------------------------
def shopify_order(data: Mapping[str, Any]) -> Order:
    if data.get("cancelledAt"):
        raise Skip("cancelled")
    if data.get("test") is True:
        raise Skip("test order")
    placed_at = parse_time(data.get("createdAt")) or parse_time(data.get("processedAt"))
    if placed_at is None:
        raise Skip("no order date")
    order_currency = text(data.get("currencyCode"))
    lines, missing = [], 0
    for item in nodes(data.get("lineItems")):
        sku = text(item.get("sku")) or text(_path(item, "variant", "sku"))
        if sku is None:
            missing += 1
            continue
        money = _path(item, "discountedTotalSet", "shopMoney") or {}
        lines.append(SaleLine(
            sku=sku, platform="shopify", placed_at=placed_at, units=whole(item.get("quantity")) or 0,
            revenue=decimal(money.get("amount")), currency=text(money.get("currencyCode")) or order_currency,
            title=text(item.get("name")) or text(item.get("title")),
        ))
    return Order(placed_at=placed_at, lines=lines, lines_without_sku=missing)


def amazon_order(data: Mapping[str, Any]) -> Order:
    """An Amazon order in either stored shape: v2026-01-01 (`orderId`) or v0 (`AmazonOrderId`)."""
    if "orderId" in data or "orderItems" in data:
        return _amazon_order_v2026(data)
    return _amazon_order_v0(data)


def _amazon_order_v2026(data: Mapping[str, Any]) -> Order:
    if str(_path(data, "fulfillment", "fulfillmentStatus") or "").strip().upper() == "CANCELLED":
        raise Skip("cancelled")
    placed_at = parse_time(data.get("createdTime"))
    if placed_at is None:
        raise Skip("no order date")
    order_currency = text(_path(data, "proceeds", "grandTotal", "currencyCode"))
    lines, missing = [], 0
    for item in nodes(data.get("orderItems")):
        product = item.get("product") if isinstance(item.get("product"), dict) else {}
        sku = text(product.get("sellerSku"))
        if sku is None:
            missing += 1
            continue
        units = whole(item.get("quantityOrdered")) or 0
        unit_price = _path(product, "price", "unitPrice") or {}
        amount = decimal(unit_price.get("amount")) if isinstance(unit_price, dict) else None
        lines.append(SaleLine(
            sku=sku, platform="amazon", placed_at=placed_at, units=units,
            revenue=None if amount is None else amount * units,
            currency=(text(unit_price.get("currencyCode")) if isinstance(unit_price, dict) else None) or order_currency,
            title=text(product.get("title")),
        ))
    return Order(placed_at=placed_at, lines=lines, lines_without_sku=missing)


def _amazon_order_v0(data: Mapping[str, Any]) -> Order:
    if str(data.get("OrderStatus") or "").strip().lower() in AMAZON_CANCELLED:
        raise Skip("cancelled")
    placed_at = parse_time(data.get("PurchaseDate"))
    if placed_at is None:
        raise Skip("no order date")
    items = data.get("OrderItems")
    if isinstance(items, dict):  # a getOrderItems payload stored whole
        items = items.get("OrderItems")
    order_currency = text(_path(data, "OrderTotal", "CurrencyCode"))
    lines, missing = [], 0
    for item in nodes(items):
        sku = text(item.get("SellerSKU"))
        if sku is None:
            missing += 1
            continue
        price = item.get("ItemPrice") if isinstance(item.get("ItemPrice"), dict) else {}
        lines.append(SaleLine(
            sku=sku, platform="amazon", placed_at=placed_at, units=whole(item.get("QuantityOrdered")) or 0,
            revenue=decimal(price.get("Amount")), currency=text(price.get("CurrencyCode")) or order_currency,
            title=text(item.get("Title")),
        ))
    return Order(placed_at=placed_at, lines=lines, lines_without_sku=missing)


# -- catalogue ------------------------------------------------------------------------------------------------
def shopify_product(data: Mapping[str, Any]) -> Iterable[CatalogueEntry]:
    product_title = text(data.get("title"))
    for variant in nodes(data.get("variants")):
        sku = text(variant.get("sku"))
        if sku is None:
            continue
        variant_title = text(variant.get("title"))
        title = product_title
        if variant_title and variant_title != SHOPIFY_DEFAULT_VARIANT_TITLE:
            title = f"{product_title} - {variant_title}" if product_title else variant_title
        yield CatalogueEntry(sku=sku, platform="shopify", title=title)


def amazon_product(data: Mapping[str, Any]) -> Iterable[CatalogueEntry]:
    sku = text(data.get("seller-sku"))
    if sku is not None:
        yield CatalogueEntry(sku=sku, platform="amazon", title=text(data.get("item-name")))


# -- stock ------------------------------------------------------------------------------------------------------
def _shopify_available(data: Mapping[str, Any]) -> int | None:
    quantities = data.get("quantities")
    if isinstance(quantities, list):
        for entry in quantities:
            if isinstance(entry, dict) and entry.get("name") == "available":
                return whole(entry.get("quantity"))
        return None
    if isinstance(quantities, dict):
        return whole(quantities.get("available"))
    return whole(data.get("available"))


def shopify_inventory(data: Mapping[str, Any], credential_id: str, external_id: str) -> Iterable[Stock]:
    sku = text(_path(data, "item", "sku")) or text(_path(data, "inventoryItem", "sku")) or text(data.get("sku"))
    location = data.get("location") if isinstance(data.get("location"), dict) else {}
    if sku is None or location.get("isActive") is False:
        return
    available = _shopify_available(data)
    if available is None:
        return
    pool = text(location.get("id")) or text(data.get("locationId")) or external_id
    # One level is one inventory item at one location: two variants sharing a SKU are two quantities there.
    item = text(_path(data, "item", "id")) or text(_path(data, "inventoryItem", "id")) or external_id
    yield Stock(sku=sku, platform="shopify", pool=f"{credential_id}:{pool}:{item}", available=available)


def amazon_inventory(data: Mapping[str, Any], credential_id: str) -> Iterable[Stock]:
    sku = text(data.get("sellerSku"))
    available = whole(_path(data, "inventoryDetails", "fulfillableQuantity"))
    if sku is None or available is None:
        return
    yield Stock(sku=sku, platform="amazon", pool=f"{credential_id}:fba", available=available,
                title=text(data.get("productName")))

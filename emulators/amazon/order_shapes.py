"""One seeded order in the shapes the two Orders APIs return.

The seeder keeps each order once, in the v0 form (`Order` + its `OrderItem`s); the v0 operations serve it
as it is and the v2026-01-01 operations serve `to_v2026(...)`: the same order, the same items, the same
money, in the new model's `Order` (`orderId`, `createdTime`, `orderItems[].product.price.unitPrice`, ...).
So a test can compare what either API version stored with one truth.

`includedData` decides which sections appear (Orders API v2026-01-01: "A list of datasets to include in the
response"); without it an order carries its basic information and its items. Sections the emulator holds
no data for (EXPENSE, PROMOTION, CANCELLATION, PACKAGES, TAX, PAYMENT, FULFILLMENT_ORDERS) are accepted and
left out, as Amazon leaves out what does not apply. Personal data (the `buyer` and `recipient` sections)
follows the "Access Orders PII" rules: only for orders that are UNSHIPPED, PARTIALLY_SHIPPED or SHIPPED, the
buyer's e-mail only when the merchant fulfils the order; the recipient's city, region and country are not
personal data and come for every order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from .seed import MARKETPLACES

INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT",
                 "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
FULFILLMENT_STATUSES = ("PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED",
                        "CANCELLED", "UNFULFILLABLE")
V0_STATUS = {"PendingAvailability": "PENDING_AVAILABILITY", "Pending": "PENDING", "Unshipped": "UNSHIPPED",
             "PartiallyShipped": "PARTIALLY_SHIPPED", "Shipped": "SHIPPED", "Canceled": "CANCELLED",
             "Unfulfillable": "UNFULFILLABLE", "InvoiceUnconfirmed": "UNSHIPPED"}
PII_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")
_CITIES = {"US": ("Seattle", "WA", "98101"), "CA": ("Toronto", "ON", "M5V 2T6"), "GB": ("London", "", "SW1A 1AA"),
           "DE": ("Berlin", "", "10115"), "FR": ("Paris", "", "75001"), "JP": ("Tokyo", "", "150-0002")}


def _money(v0: dict[str, str] | None) -> dict[str, str] | None:
    if not isinstance(v0, dict) or "Amount" not in v0:
        return None
    return {"amount": v0["Amount"], "currencyCode": v0["CurrencyCode"]}


def _amount(v0: dict[str, str] | None) -> Decimal:
    return Decimal(v0["Amount"]) if isinstance(v0, dict) and v0.get("Amount") else Decimal(0)


def status(order: dict[str, Any]) -> str:
    return V0_STATUS.get(order.get("OrderStatus", ""), "PENDING")


def fulfilled_by(order: dict[str, Any]) -> str:
    return "AMAZON" if order.get("FulfillmentChannel") == "AFN" else "MERCHANT"


def _person(order_id: str) -> int:
    return int(order_id.replace("-", "")) % 9973


def _item(item: dict[str, Any], included: set[str]) -> dict[str, Any]:
    quantity = int(item["QuantityOrdered"])
    price = item.get("ItemPrice")
    product: dict[str, Any] = {"asin": item["ASIN"], "title": item["Title"], "sellerSku": item["SellerSKU"],
                               "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"}}
    if isinstance(price, dict) and quantity:
        # v0's ItemPrice is the whole line (unit price x quantity); v2026 gives the unit price.
        unit = (Decimal(price["Amount"]) / quantity).quantize(Decimal("0.01"))
        product["price"] = {"unitPrice": {"amount": f"{unit:.2f}", "currencyCode": price["CurrencyCode"]}}
    out: dict[str, Any] = {"orderItemId": item["OrderItemId"], "quantityOrdered": quantity, "programs": [],
                           "product": product}
    if "PROCEEDS" in included and isinstance(price, dict):
        tax = item.get("ItemTax") or {"Amount": "0.00", "CurrencyCode": price["CurrencyCode"]}
        total = _amount(price) + _amount(tax) - _amount(item.get("PromotionDiscount"))
        out["proceeds"] = {"proceedsTotal": {"amount": f"{total:.2f}", "currencyCode": price["CurrencyCode"]},
                           "breakdowns": [{"type": "ITEM", "subtotal": _money(price)},
                                          {"type": "TAX", "subtotal": _money(tax)}]}
    if "FULFILLMENT" in included:
        shipped = int(item.get("QuantityShipped") or 0)
        out["fulfillment"] = {"quantityFulfilled": shipped, "quantityUnfulfilled": max(0, quantity - shipped)}
    return out


def to_v2026(order: dict[str, Any], items: Iterable[dict[str, Any]], included: Iterable[str]) -> dict[str, Any]:
    """The v2026-01-01 `Order` of a seeded order, with the `includedData` sections asked for."""
    included = set(included)
    items = list(items)
    order_id = order["AmazonOrderId"]
    marketplace = order["MarketplaceId"]
    info = MARKETPLACES.get(marketplace, MARKETPLACES["ATVPDKIKX0DER"])
    programs = (["PRIME"] if order.get("IsPrime") else []) + (["AMAZON_BUSINESS"] if order.get("IsBusinessOrder")
                                                              else [])
    out: dict[str, Any] = {
        "orderId": order_id,
        "createdTime": order["PurchaseDate"],
        "lastUpdatedTime": order["LastUpdateDate"],
        "programs": programs,
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace, "marketplaceName": info["name"]},
    }
    state = status(order)
    person = _person(order_id)
    if "BUYER" in included and state in PII_STATUSES:
        buyer: dict[str, Any] = {"buyerName": f"Buyer {person}"}
        if fulfilled_by(order) == "MERCHANT":
            buyer["buyerEmail"] = f"buyer{person}@marketplace.amazon.com"
        out["buyer"] = buyer
    if "RECIPIENT" in included:
        city, region, postal = _CITIES.get(info["countryCode"], _CITIES["US"])
        address: dict[str, Any] = {"city": city, "countryCode": info["countryCode"], "addressType": "RESIDENTIAL"}
        if region:
            address["stateOrRegion"] = region
        if state in PII_STATUSES:
            address.update({"name": f"Buyer {person}", "addressLine1": f"{person} Main Street",
                            "postalCode": postal, "phone": f"+1 206 555 {person:04d}"})
        out["recipient"] = {"deliveryAddress": address}
    if "PROCEEDS" in included and _money(order.get("OrderTotal")):
        currency = order["OrderTotal"]["CurrencyCode"]
        subtotal = sum((_amount(i.get("ItemPrice")) for i in items), Decimal(0))
        tax = sum((_amount(i.get("ItemTax")) for i in items), Decimal(0))
        out["proceeds"] = {"grandTotal": _money(order["OrderTotal"]), "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": f"{subtotal:.2f}", "currencyCode": currency}},
            {"type": "TAX", "subtotal": {"amount": f"{tax:.2f}", "currencyCode": currency}}]}
    if "FULFILLMENT" in included:
        fulfillment: dict[str, Any] = {"fulfillmentStatus": state, "fulfilledBy": fulfilled_by(order),
                                       "fulfillmentServiceLevel": "STANDARD"}
        if order.get("EarliestShipDate") and order.get("LatestShipDate"):
            fulfillment["shipByWindow"] = {"earliestDateTime": order["EarliestShipDate"],
                                           "latestDateTime": order["LatestShipDate"]}
        out["fulfillment"] = fulfillment
    out["orderItems"] = [_item(i, included) for i in items]
    return out

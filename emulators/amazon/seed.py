"""Deterministic seller data shaped like the SP-API models' static examples.

Everything derives from a `random.Random` seeded by the seller's refresh token, and seeded timestamps
count back from `anchor` (by default the start of the current UTC day), so two emulators started the same
day serve identical data: a second `--sandbox` run finds nothing new. Seeded data ends an hour before the
anchor; mutations are stamped `fresh_margin` before "now": the Orders API only shows updates older than
two minutes, and data the emulator changes must be visible to the very next sync.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

MARKETPLACES: dict[str, dict[str, str]] = {
    "ATVPDKIKX0DER": {"countryCode": "US", "name": "Amazon.com", "defaultCurrencyCode": "USD",
                      "defaultLanguageCode": "en_US", "domainName": "www.amazon.com"},
    "A2EUQ1WTGCTBG2": {"countryCode": "CA", "name": "Amazon.ca", "defaultCurrencyCode": "CAD",
                       "defaultLanguageCode": "en_CA", "domainName": "www.amazon.ca"},
    "A1PA6795UKMFR9": {"countryCode": "DE", "name": "Amazon.de", "defaultCurrencyCode": "EUR",
                       "defaultLanguageCode": "de_DE", "domainName": "www.amazon.de"},
    "A1F83G8C2ARO7P": {"countryCode": "GB", "name": "Amazon.co.uk", "defaultCurrencyCode": "GBP",
                       "defaultLanguageCode": "en_GB", "domainName": "www.amazon.co.uk"},
    "A13V1IB3VIYZZH": {"countryCode": "FR", "name": "Amazon.fr", "defaultCurrencyCode": "EUR",
                       "defaultLanguageCode": "fr_FR", "domainName": "www.amazon.fr"},
    "A1VC38T7YXB528": {"countryCode": "JP", "name": "Amazon.co.jp", "defaultCurrencyCode": "JPY",
                       "defaultLanguageCode": "ja_JP", "domainName": "www.amazon.co.jp"},
}

# Columns of GET_MERCHANT_LISTINGS_ALL_DATA, in the order Amazon writes them.
LISTING_COLUMNS = (
    "item-name", "item-description", "listing-id", "seller-sku", "price", "quantity", "open-date",
    "image-url", "item-is-marketplace", "product-id-type", "zshop-shipping-fee", "item-note",
    "item-condition", "zshop-category1", "zshop-browse-path", "zshop-storefront-feature", "asin1",
    "asin2", "asin3", "will-ship-internationally", "expedited-shipping", "zshop-boldface", "product-id",
    "bid-for-featured-placement", "add-delete", "pending-quantity", "fulfillment-channel",
    "merchant-shipping-group", "status",
)

# Names with characters that differ between UTF-8, windows-1252 and ISO-8859-1 (the euro sign, the
# typographic quotes), so that a wrong decoding of a European report shows up in the tests.
_WORDS_ASCII = ("Travel Mug", "Desk Lamp", "Yoga Mat", "Water Bottle", "Phone Stand", "Notebook")
_WORDS_LATIN = ("Kaffeebecher Größe L", "Crème Brûlée Set", "Schlüsselanhänger", "Trinkflasche “Öko”",
                "Geschenkbox – 5 €", "Café-Tasse")

DATE_FMT = "%Y-%m-%dT%H:%M:%SZ"


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime(DATE_FMT)


def money(currency: str, amount: float) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": f"{amount:.2f}"}


@dataclass
class Listing:
    marketplace_id: str
    row: dict[str, str]


@dataclass
class SellerData:
    marketplaces: list[str]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # AmazonOrderId -> Order
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # AmazonOrderId -> OrderItems
    listings: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # marketplace -> rows
    inventory: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # marketplace -> summaries


class SellerSeeder:
    """Builds and mutates one seller's data; owns its random generator."""

    def __init__(self, key: str, marketplaces: list[str], *, fresh_margin: timedelta, anchor: datetime):
        self.rng = random.Random(key)
        self.fresh_margin = fresh_margin
        self.anchor = anchor
        self.data = SellerData(marketplaces=list(marketplaces))
        self._order_seq = 0

    # ----- listings and inventory -------------------------------------------------------------
    def seed_listings(self, count: int, fba_marketplaces: list[str]) -> None:
        now = self.anchor
        for m_index, marketplace in enumerate(self.data.marketplaces):
            fba = marketplace in fba_marketplaces
            info = MARKETPLACES.get(marketplace, MARKETPLACES["ATVPDKIKX0DER"])
            words = _WORDS_ASCII if info["countryCode"] in ("US", "CA", "GB") else _WORDS_LATIN
            rows: list[dict[str, str]] = []
            summaries: list[dict[str, Any]] = []
            for i in range(count):
                sku = f"SKU-{i + 1:05d}"
                asin = f"B0{self.rng.randrange(10**8):08d}"
                name = f"{words[i % len(words)]} #{i + 1}"
                row = {c: "" for c in LISTING_COLUMNS}
                row.update({
                    "item-name": name,
                    "item-description": f"{name} – seeded listing" if words is _WORDS_LATIN else f"{name}, seeded",
                    "listing-id": f"{m_index}{self.rng.randrange(10**9):09d}",
                    "seller-sku": sku,
                    "price": f"{self.rng.randrange(500, 9000) / 100:.2f}",
                    "quantity": "" if fba else str(self.rng.randrange(0, 200)),
                    "open-date": (now - timedelta(days=self.rng.randrange(30, 900))).strftime(
                        "%Y-%m-%d %H:%M:%S PST"),
                    "item-is-marketplace": "y",
                    "product-id-type": "1",
                    "item-condition": "11",
                    "asin1": asin,
                    "will-ship-internationally": "1",
                    "product-id": asin,
                    "add-delete": "",
                    "pending-quantity": "0",
                    "fulfillment-channel": "AMAZON_NA" if fba else "DEFAULT",
                    "merchant-shipping-group": "Migrated Template",
                    "status": "Active",
                })
                rows.append(row)
                if fba:
                    summaries.append(self._inventory_summary(row, now))
            self.data.listings[marketplace] = rows
            self.data.inventory[marketplace] = summaries

    def _inventory_summary(self, row: dict[str, str], now: datetime) -> dict[str, Any]:
        fulfillable = self.rng.randrange(0, 300)
        inbound = self.rng.randrange(0, 40)
        reserved = self.rng.randrange(0, 10)
        return {
            "asin": row["asin1"],
            "fnSku": f"X00{self.rng.randrange(10**7):07d}",
            "sellerSku": row["seller-sku"],
            "condition": "NewItem",
            "inventoryDetails": {
                "fulfillableQuantity": fulfillable,
                "inboundWorkingQuantity": inbound,
                "inboundShippedQuantity": 0,
                "inboundReceivingQuantity": 0,
                "reservedQuantity": {"totalReservedQuantity": reserved, "pendingCustomerOrderQuantity": reserved,
                                     "pendingTransshipmentQuantity": 0, "fcProcessingQuantity": 0},
                "researchingQuantity": {"totalResearchingQuantity": 0, "researchingQuantityBreakdown": []},
                "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0, "customerDamagedQuantity": 0,
                                          "warehouseDamagedQuantity": 0, "distributorDamagedQuantity": 0,
                                          "carrierDamagedQuantity": 0, "defectiveQuantity": 0,
                                          "expiredQuantity": 0},
            },
            "lastUpdatedTime": iso(now - timedelta(hours=self.rng.randrange(1, 500))),
            "productName": row["item-name"],
            "totalQuantity": fulfillable + inbound + reserved,
        }

    # ----- orders -------------------------------------------------------------------------------
    def _new_order_id(self) -> str:
        self._order_seq += 1
        return f"{self.rng.randrange(111, 999)}-{self.rng.randrange(10**7):07d}-{self._order_seq:07d}"

    def _skus(self, marketplace: str) -> list[dict[str, str]]:
        return self.data.listings.get(marketplace) or [
            {"seller-sku": f"SKU-{i:05d}", "asin1": f"B0{i:08d}", "item-name": f"Item {i}"} for i in range(1, 21)]

    def add_order(self, purchase: datetime, last_update: datetime) -> str:
        marketplace = self.data.marketplaces[self.rng.randrange(len(self.data.marketplaces))]
        info = MARKETPLACES.get(marketplace, MARKETPLACES["ATVPDKIKX0DER"])
        currency = info["defaultCurrencyCode"]
        order_id = self._new_order_id()
        fba = self.rng.random() < 0.6
        items = []
        total = 0.0
        skus = self._skus(marketplace)
        for n in range(self.rng.randint(1, 3)):
            listing = skus[self.rng.randrange(len(skus))]
            qty = self.rng.randint(1, 3)
            # In cents: the line price is exactly unit price x quantity (the v2026 shape gives the unit price).
            price_cents = self.rng.randrange(500, 9000) * qty
            price = price_cents / 100
            tax = round(price_cents * 0.08) / 100
            total += price + tax
            items.append({
                "ASIN": listing["asin1"],
                "OrderItemId": f"{self.rng.randrange(10**13):014d}",
                "SellerSKU": listing["seller-sku"],
                "Title": listing["item-name"],
                "QuantityOrdered": qty,
                "QuantityShipped": qty if fba else 0,
                "ProductInfo": {"NumberOfItems": "1"},
                "ItemPrice": money(currency, price),
                "ItemTax": money(currency, tax),
                "PromotionDiscount": money(currency, 0),
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
                "IsTransparency": False,
                "SerialNumberRequired": False,
            })
        shipped = sum(i["QuantityShipped"] for i in items)
        ordered = sum(i["QuantityOrdered"] for i in items)
        order = {
            "AmazonOrderId": order_id,
            "PurchaseDate": iso(purchase),
            "LastUpdateDate": iso(last_update),
            "OrderStatus": "Shipped" if fba else "Unshipped",
            "FulfillmentChannel": "AFN" if fba else "MFN",
            "SalesChannel": info["name"],
            "ShipServiceLevel": "Std US D2D Dom",
            "OrderTotal": money(currency, total),
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": ordered - shipped,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "IsReplacementOrder": False,
            "MarketplaceId": marketplace,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": iso(purchase + timedelta(hours=4)),
            "LatestShipDate": iso(purchase + timedelta(days=2)),
            "IsBusinessOrder": False,
            "IsPrime": fba,
            "IsGlobalExpressEnabled": False,
            "IsPremiumOrder": False,
            "IsSoldByAB": False,
            "IsIBA": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
            "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        }
        self.data.orders[order_id] = order
        self.data.items[order_id] = items
        return order_id

    def seed_orders(self, count: int, days: float = 90) -> None:
        """`count` orders placed over the `days` before the newest seeded moment (an hour before the anchor)."""
        newest = min(self.anchor, datetime.now(timezone.utc)) - max(self.fresh_margin, timedelta(hours=1))
        for _ in range(count):
            purchase = newest - timedelta(seconds=self.rng.randrange(1, int(days * 86400)))
            last_update = min(newest, purchase + timedelta(seconds=self.rng.randrange(0, 3 * 86400)))
            self.add_order(purchase, last_update)

    def change_orders(self, count: int) -> list[str]:
        """Ship (or cancel) `count` existing orders: their LastUpdateDate moves to just inside visibility."""
        stamp = datetime.now(timezone.utc) - self.fresh_margin
        candidates = sorted(self.data.orders)
        chosen = self.rng.sample(candidates, min(count, len(candidates)))
        for order_id in chosen:
            order = self.data.orders[order_id]
            items = self.data.items[order_id]
            if order["OrderStatus"] == "Unshipped":
                order["OrderStatus"] = "Shipped"
                for item in items:
                    item["QuantityShipped"] = item["QuantityOrdered"]
                order["NumberOfItemsShipped"] = sum(i["QuantityOrdered"] for i in items)
                order["NumberOfItemsUnshipped"] = 0
            else:
                order["OrderStatus"] = "Canceled"
            order["LastUpdateDate"] = iso(stamp)
        return chosen

    def add_orders(self, count: int) -> list[str]:
        stamp = datetime.now(timezone.utc) - self.fresh_margin
        return [self.add_order(stamp, stamp) for _ in range(count)]

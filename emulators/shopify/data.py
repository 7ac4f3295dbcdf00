"""Deterministic shop data shaped like the Admin API's: GIDs, ISO timestamps, money bags, line items.

Records are stored as the GraphQL answer would show them (camelCase keys), with nested connections as
plain lists (`lineItems`, `variants`); the executor turns those lists into connections.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

FIRST_NAMES = ["Ada", "Bao", "Chloé", "Dev", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena"]
LAST_NAMES = ["Okafor", "Schmidt", "Tanaka", "García", "Nguyen", "Kowalski", "Silva", "Haddad", "Moreau", "Olsen"]
ADJECTIVES = ["Classic", "Organic", "Everyday", "Trail", "Studio", "Heritage", "Urban", "Coastal", "Alpine"]
NOUNS = ["Tee", "Hoodie", "Mug", "Backpack", "Candle", "Notebook", "Beanie", "Water Bottle", "Tote", "Socks"]
SIZES = ["S", "M", "L", "XL"]
CITIES = [("Portland", "Oregon", "US", "97205"), ("Austin", "Texas", "US", "73301"), ("Toronto", "Ontario", "CA", "M5H 2N2"),
          ("Denver", "Colorado", "US", "80202")]
LOCATION_NAMES = ["Main Warehouse", "Retail Store", "Overflow Storage", "Pop-up Shop", "East Coast DC"]


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": str(amount.quantize(Decimal("0.01"))), "currencyCode": currency}}


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


@dataclass
class ShopData:
    """Everything one emulated shop holds. Mutations go through the emulator, under its lock."""

    domain: str
    currency: str = "USD"
    rng: random.Random = field(default_factory=random.Random)
    next_id: int = 1000
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    # location id -> inventory item id -> level record (quantities under "_quantities")
    levels: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    last_stamp: datetime | None = None
    product_titles: dict[str, str] = field(default_factory=dict)  # variant gid -> product title
    events: list[dict[str, Any]] = field(default_factory=list)  # BasicEvents of deletions (deletions.py)
    _variants_cache: tuple[set[int], list[dict[str, Any]]] | None = field(default=None, repr=False)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def stamp(self) -> datetime:
        """A fresh `updatedAt`: now, strictly after the previous mutation's (Shopify has second precision)."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        if self.last_stamp is not None and now <= self.last_stamp:
            now = self.last_stamp + timedelta(seconds=1)
        self.last_stamp = now
        return now

    # --- generation --------------------------------------------------------------------------------------
    def generate(self, *, orders: int, products: int, customers: int, locations: int, base: datetime) -> None:
        rng = self.rng
        for i in range(locations):
            lid = self.new_id()
            name = LOCATION_NAMES[i] if i < len(LOCATION_NAMES) else f"Location {i + 1}"
            self.locations[lid] = {"id": gid("Location", lid), "name": name, "isActive": True}
            self.levels[lid] = {}
        for _ in range(products):
            self._add_product(base - timedelta(days=rng.uniform(30, 400)), base)
        for _ in range(customers):
            self._add_customer(base - timedelta(days=rng.uniform(1, 400)), base)
        for _ in range(orders):
            self._add_order(base - timedelta(days=rng.uniform(0.05, 365)), base)

    def _add_product(self, created: datetime, base: datetime) -> dict[str, Any]:
        rng = self.rng
        pid = self.new_id()
        title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        # Every twentieth product has many variants, so that nested pagination gets exercised.
        n_variants = 14 if len(self.products) % 20 == 19 else rng.randint(1, 4)
        price = Decimal(rng.randint(500, 12000)) / 100
        variants = []
        for k in range(n_variants):
            vid, iid = self.new_id(), self.new_id()
            sku = f"SKU-{pid}-{k + 1}"
            size = SIZES[k % len(SIZES)] if k < len(SIZES) else f"Style {k + 1}"
            variants.append({
                "id": gid("ProductVariant", vid), "title": size, "sku": sku,
                "price": str(price), "compareAtPrice": str(price + 5) if k == 0 and pid % 3 == 0 else None,
                "barcode": f"{rng.randint(10**11, 10**12 - 1)}", "position": k + 1,
                "createdAt": iso(created), "updatedAt": iso(created),
                "selectedOptions": [{"name": "Size", "value": size}],
                "inventoryItem": {"id": gid("InventoryItem", iid), "tracked": True, "sku": sku},
            })
            for lid, by_item in self.levels.items():
                by_item[iid] = {
                    "id": f"gid://shopify/InventoryLevel/{lid * 10**8 + iid}?inventory_item_id={iid}",
                    "updatedAt": iso(created),
                    "item": {"id": gid("InventoryItem", iid), "sku": sku},
                    "_quantities": {"available": rng.randint(0, 80), "on_hand": 0, "committed": rng.randint(0, 5),
                                    "incoming": rng.choice([0, 0, 10, 24])},
                }
                q = by_item[iid]["_quantities"]
                q["on_hand"] = q["available"] + q["committed"]
        updated = created + min(timedelta(days=20), base - created) * rng.random()
        product = {
            "id": gid("Product", pid), "title": title, "handle": f"{title.lower().replace(' ', '-')}-{pid}",
            "status": rng.choice(["ACTIVE"] * 8 + ["DRAFT", "ARCHIVED"]), "vendor": "Emulated Goods Co.",
            "productType": title.split()[-1], "tags": sorted(rng.sample(["new", "sale", "gift", "eco"], 2)),
            "createdAt": iso(created), "updatedAt": iso(updated), "publishedAt": iso(created),
            "variants": variants,
        }
        self.products[pid] = product
        for variant in variants:
            self.product_titles[variant["id"]] = title
        return product

    def _add_customer(self, created: datetime, base: datetime) -> dict[str, Any]:
        rng = self.rng
        cid = self.new_id()
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, province, country, zip_code = rng.choice(CITIES)
        customer = {
            "id": gid("Customer", cid), "firstName": first, "lastName": last, "displayName": f"{first} {last}",
            "defaultEmailAddress": {
                "emailAddress": f"{first.lower()}.{last.lower()}.{cid}@example.com".encode("ascii", "ignore").decode()},
            "defaultPhoneNumber": {"phoneNumber": f"+1555{cid % 10_000_000:07d}"}, "state": "ENABLED", "verifiedEmail": True, "taxExempt": False,
            "tags": [], "createdAt": iso(created), "updatedAt": iso(created + min(timedelta(days=30), base - created) * rng.random()),
            "numberOfOrders": "0", "amountSpent": {"amount": "0.00", "currencyCode": self.currency},
            "defaultAddress": {"city": city, "province": province, "countryCodeV2": country, "zip": zip_code},
        }
        self.customers[cid] = customer
        return customer

    def _add_order(self, created: datetime, base: datetime) -> dict[str, Any]:
        rng = self.rng
        oid = self.new_id()
        variants = self.all_variants() or [None]
        # One order in forty has many line items, so that nested pagination gets exercised.
        n_items = 12 if len(self.orders) % 40 == 39 else rng.randint(1, 4)
        items = []
        subtotal = Decimal(0)
        discount = Decimal(rng.choice([0, 0, 0, 10, 15])) / 100
        cancelled = rng.random() < 0.05
        for _ in range(n_items):
            variant = rng.choice(variants)
            qty = rng.randint(1, 3)
            unit = Decimal(variant["price"]) if variant else Decimal("19.99")
            line_total = (unit * qty * (1 - discount)).quantize(Decimal("0.01"))
            subtotal += line_total
            items.append({
                "id": gid("LineItem", self.new_id()),
                "name": f"{self._product_title(variant)} - {variant['title']}" if variant else "Custom item",
                "sku": variant["sku"] if variant else None, "quantity": qty, "currentQuantity": 0 if cancelled else qty,
                "variant": {"id": variant["id"]} if variant else None,
                "originalUnitPriceSet": money(unit, self.currency), "discountedTotalSet": money(line_total, self.currency),
            })
        tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
        customer = rng.choice(list(self.customers.values())) if self.customers and rng.random() < 0.9 else None
        # Spread, never clamped to `base`: real shops rarely have many records sharing one second.
        updated = created + min(timedelta(hours=72), base - created) * rng.random()
        order = {
            "id": gid("Order", oid), "name": f"#{1000 + len(self.orders) + 1}",
            "createdAt": iso(created), "updatedAt": iso(updated), "processedAt": iso(created),
            "cancelledAt": iso(updated) if cancelled else None, "cancelReason": "CUSTOMER" if cancelled else None,
            "closedAt": iso(updated) if not cancelled and rng.random() < 0.6 else None,
            "displayFinancialStatus": "REFUNDED" if cancelled else rng.choice(["PAID", "PAID", "PAID", "PENDING"]),
            "displayFulfillmentStatus": "UNFULFILLED" if cancelled else rng.choice(["FULFILLED", "FULFILLED", "UNFULFILLED"]),
            "currencyCode": self.currency, "test": False, "tags": [], "sourceName": rng.choice(["web", "pos"]),
            "customer": {"id": customer["id"]} if customer else None,
            "totalPriceSet": money(subtotal + tax, self.currency), "subtotalPriceSet": money(subtotal, self.currency),
            "totalTaxSet": money(tax, self.currency),
            "totalDiscountsSet": money(sum((Decimal(i["originalUnitPriceSet"]["shopMoney"]["amount"]) * i["quantity"]
                                            for i in items), Decimal(0)) - subtotal, self.currency),
            "lineItems": items,
        }
        self.orders[oid] = order
        return order

    def all_variants(self) -> list[dict[str, Any]]:
        if self._variants_cache is None or len(self._variants_cache[0]) != len(self.products):
            self._variants_cache = (set(self.products), [v for p in self.products.values() for v in p["variants"]])
        return self._variants_cache[1]

    def _product_title(self, variant: dict[str, Any]) -> str:
        return self.product_titles.get(variant["id"], "Item")

    # --- mutations (tests and the demo) ------------------------------------------------------------------
    def touch_orders(self, count: int) -> list[str]:
        """Change `count` existing orders (a tag and a note-like field) and bump their `updatedAt`."""
        picked = self.rng.sample(sorted(self.orders), min(count, len(self.orders)))
        for oid in picked:
            order = self.orders[oid]
            order["tags"] = sorted(set(order["tags"]) | {f"touched-{len(order['tags']) + 1}"})
            order["displayFulfillmentStatus"] = "FULFILLED"
            order["updatedAt"] = iso(self.stamp())
        return [gid("Order", oid) for oid in picked]

    def add_orders(self, count: int) -> list[str]:
        out = []
        for _ in range(count):
            now = self.stamp()
            order = self._add_order(now, now)
            order["updatedAt"] = order["createdAt"] = order["processedAt"] = iso(now)
            out.append(order["id"])
        return out

    def touch_products(self, count: int) -> list[str]:
        picked = self.rng.sample(sorted(self.products), min(count, len(self.products)))
        for pid in picked:
            product = self.products[pid]
            stamp = iso(self.stamp())
            product["tags"] = sorted(set(product["tags"]) | {"restocked"})
            product["updatedAt"] = stamp
        return [gid("Product", pid) for pid in picked]

    def set_available(self, count: int) -> list[str]:
        """Change the available quantity of `count` inventory levels (bumps the level's `updatedAt`)."""
        pairs = [(lid, iid) for lid in sorted(self.levels) for iid in sorted(self.levels[lid])]
        picked = self.rng.sample(pairs, min(count, len(pairs)))
        out = []
        for lid, iid in picked:
            level = self.levels[lid][iid]
            level["_quantities"]["available"] += 1
            level["_quantities"]["on_hand"] += 1
            level["updatedAt"] = iso(self.stamp())
            out.append(level["id"])
        return out

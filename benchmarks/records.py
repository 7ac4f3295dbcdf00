"""Deterministic ~2 KB Shopify-like order records (nested line items, money bags, global ids).

Every figure of the benchmarks is measured on these records, so a run is repeatable: record `i` is a
pure function of `i` (and of `version`, which the re-sync figures bump for the 1% that changed).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth")
_CITIES = (("Berlin", "BE", "DE"), ("Lyon", "ARA", "FR"), ("Austin", "TX", "US"), ("Leeds", "ENG", "GB"))
_PRODUCTS = ("Merino Crew Sweater", "Canvas Tote Bag", "Ceramic Pour-Over Set", "Trail Running Socks",
             "Walnut Desk Organizer", "Linen Throw Pillow", "Insulated Water Bottle")


def _money(amount: float, currency: str = "EUR") -> dict[str, Any]:
    text = f"{amount:.2f}"
    return {"shopMoney": {"amount": text, "currencyCode": currency},
            "presentmentMoney": {"amount": text, "currencyCode": currency}}


def updated_at(i: int, version: int = 0) -> datetime:
    # Ascending with i (a sort by updatedAt is the sort by id); a new version moves past every old one.
    return EPOCH + timedelta(seconds=i + version * 10_000_000)


def order(i: int, version: int = 0) -> dict[str, Any]:
    """Order number `i` (1-based); about 2 KB as canonical JSON."""
    first, last = _FIRST[i % 10], _LAST[(i // 10) % 10]
    city, province, country = _CITIES[i % 4]
    lines = []
    subtotal = 0.0
    for n in range(3 + i % 3):
        price = 5 + ((i * 7 + n * 13) % 9000) / 100
        qty = 1 + (i + n) % 3
        subtotal += price * qty
        lines.append({
            "id": f"gid://shopify/LineItem/{i * 10 + n}",
            "title": _PRODUCTS[(i + n) % len(_PRODUCTS)],
            "sku": f"SKU-{(i + n) % 500:05d}",
            "quantity": qty,
            "originalUnitPriceSet": _money(price),
            "variant": {"id": f"gid://shopify/ProductVariant/{(i + n) % 500 + 1000}"},
        })
    tax = round(subtotal * 0.19, 2)
    created = EPOCH + timedelta(seconds=i)
    return {
        "id": f"gid://shopify/Order/{i}",
        "name": f"#{1000 + i}",
        "email": f"{first.lower()}.{last.lower()}{i}@example.com",
        "createdAt": created.isoformat().replace("+00:00", "Z"),
        "updatedAt": updated_at(i, version).isoformat().replace("+00:00", "Z"),
        "displayFinancialStatus": "PAID" if i % 5 else "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "FULFILLED" if i % 3 else "UNFULFILLED",
        "note": f"revision {version}" if version else "",
        "tags": ["wholesale", "priority"] if i % 7 == 0 else ["retail"],
        "subtotalPriceSet": _money(subtotal),
        "totalTaxSet": _money(tax),
        "totalPriceSet": _money(subtotal + tax),
        "customer": {"id": f"gid://shopify/Customer/{i % 4000 + 1}", "firstName": first, "lastName": last,
                     "email": f"{first.lower()}.{last.lower()}{i}@example.com"},
        "shippingAddress": {"address1": f"{i % 200 + 1} Example Street", "city": city, "provinceCode": province,
                            "countryCodeV2": country, "zip": f"{10000 + i % 89999}", "name": f"{first} {last}"},
        "lineItems": lines,
    }


def changed(i: int, fraction: float) -> bool:
    """Whether order `i` is among the changed `fraction` in a re-sync (spread evenly)."""
    if fraction <= 0:
        return False
    step = max(1, round(1 / fraction))
    return i % step == 0


def orders(count: int, changed_fraction: float = 0.0) -> Iterator[tuple[int, int]]:
    """(i, version) for orders 1..count, version 1 for the changed ones."""
    for i in range(1, count + 1):
        yield i, 1 if changed(i, changed_fraction) else 0

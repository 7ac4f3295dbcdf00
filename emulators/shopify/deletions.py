"""Deleting records of an emulated shop, with the events Shopify records for them (tests and `--sandbox`).

Shopify keeps a `destroy` event (`BasicEvent`: `action`, `subjectType`, `subjectId`, `createdAt`) for a
deleted product, variant, customer or order, and serves it from the `events` connection for a year; the
deleted record itself is gone (`product(id:)` and `nodes(ids:)` answer null). A product takes its
variants' inventory items, and their inventory levels at every location, with it; a variant takes its
own. A customer whose data is erased for privacy is deleted the same way (a `destroy` event).
"""

from __future__ import annotations

from typing import Any, Sequence

from .data import ShopData, gid, iso
from .search import numeric_id

_MESSAGES = {"PRODUCT": "Product was deleted.", "PRODUCT_VARIANT": "Variant was deleted.",
             "CUSTOMER": "Customer was deleted.", "ORDER": "Order was deleted."}


def _event(data: ShopData, subject_type: str, subject_id: str, message: str | None = None) -> dict[str, Any]:
    event = {"__typename": "BasicEvent", "id": gid("BasicEvent", data.new_id()), "action": "destroy",
             "subjectType": subject_type, "subjectId": subject_id, "createdAt": iso(data.stamp()),
             "message": message or _MESSAGES[subject_type], "appTitle": None, "attributeToApp": False,
             "attributeToUser": True, "criticalAlert": False}
    data.events.append(event)
    return event


def _pick(pool: Sequence[int], count: int, ids: Sequence[str], data: ShopData) -> list[int]:
    if ids:
        return [numeric_id(i) for i in ids]
    return data.rng.sample(sorted(pool), min(count, len(pool)))


def _drop_levels(data: ShopData, variants: list[dict[str, Any]]) -> int:
    dropped = 0
    for variant in variants:
        item = numeric_id(variant["inventoryItem"]["id"])
        for by_item in data.levels.values():
            if by_item.pop(item, None) is not None:
                dropped += 1
    return dropped


def delete_products(data: ShopData, count: int = 0, ids: Sequence[str] = ()) -> list[str]:
    """Delete products (and their variants' inventory levels); returns their ids."""
    out = []
    for pid in _pick(list(data.products), count, ids, data):
        product = data.products.pop(pid)
        _drop_levels(data, product["variants"])
        for variant in product["variants"]:
            data.product_titles.pop(variant["id"], None)
        _event(data, "PRODUCT", product["id"])
        out.append(product["id"])
    data._variants_cache = None
    return out


def delete_variants(data: ShopData, count: int = 0, ids: Sequence[str] = ()) -> list[str]:
    """Delete variants of products that keep at least one (the product's `updatedAt` moves); returns their ids."""
    owners = {v["id"]: p for p in data.products.values() if len(p["variants"]) > 1 for v in p["variants"]}
    chosen = list(ids) or data.rng.sample(sorted(owners), min(count, len(owners)))
    out = []
    for vid in chosen:
        product = owners[vid]
        variant = next(v for v in product["variants"] if v["id"] == vid)
        product["variants"] = [v for v in product["variants"] if v["id"] != vid]
        product["updatedAt"] = iso(data.stamp())
        _drop_levels(data, [variant])
        _event(data, "PRODUCT_VARIANT", vid)
        out.append(vid)
    data._variants_cache = None
    return out


def delete_customers(data: ShopData, count: int = 0, ids: Sequence[str] = (), *, erased: bool = False) -> list[str]:
    """Delete customers (`erased`: after a privacy data erasure, which ends in the same deletion)."""
    out = []
    for cid in _pick(list(data.customers), count, ids, data):
        customer = data.customers.pop(cid)
        _event(data, "CUSTOMER", customer["id"],
               "Customer was deleted after a data erasure request." if erased else None)
        out.append(customer["id"])
    return out


def delete_orders(data: ShopData, count: int = 0, ids: Sequence[str] = ()) -> list[str]:
    out = []
    for oid in _pick(list(data.orders), count, ids, data):
        order = data.orders.pop(oid)
        _event(data, "ORDER", order["id"])
        out.append(order["id"])
    return out


def node(data: ShopData, global_id: str) -> dict[str, Any] | None:
    """What `nodes(ids:)` answers for one id: the record with its type, or None when there is none."""
    kind = global_id.split("/")[-2] if global_id.count("/") >= 3 else ""
    try:
        number = numeric_id(global_id)
    except ValueError:
        return None
    found: dict[str, Any] | None = None
    if kind == "Product":
        found = data.products.get(number)
    elif kind == "Order":
        found = data.orders.get(number)
    elif kind == "Customer":
        found = data.customers.get(number)
    elif kind == "ProductVariant":
        found = next((v for p in data.products.values() for v in p["variants"] if v["id"] == global_id), None)
    return {**found, "__typename": kind} if found is not None else None

"""Runs GraphQL documents against an emulated shop with graphql-core, on the committed subset schema.

graphql-core parses, validates (so unknown fields, wrong arguments or types are refused as Shopify
refuses them) and executes; the resolvers here supply what a shop holds: connections with Shopify's
cursor pagination, `sortKey`, `reverse` and the `query:` search filter, counts, lookups by id and bulk
operations.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from graphql import GraphQLError, GraphQLSchema, build_schema

from . import deletions
from .search import numeric_id, parse_search

if TYPE_CHECKING:
    from .shop import EmulatedShop

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
MAX_PAGE = 250

_SORT_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt",
                "POSITION": "position", "NAME": "name", "TITLE": "title"}


@dataclass
class Context:
    shop: "EmulatedShop"
    bulk: bool = False  # a bulk operation's inner query: connections return everything, no `first` needed
    search_warnings: list[str] = field(default_factory=list)
    # A bulk operation runs its query in chunks: (offset, count) of the root connection's items, and the
    # root's sorted items kept across chunks (filtering and sorting the whole shop once, not per chunk).
    bulk_window: tuple[int, int] | None = None
    bulk_cache: dict[Any, Any] | None = None


def _sort_key(sort: str | None) -> Callable[[Mapping[str, Any]], tuple]:
    name = _SORT_FIELDS.get(sort or "ID")
    if name is None:
        return lambda item: (numeric_id(item["id"]), 0)
    return lambda item: (item.get(name) or "", numeric_id(item["id"]))


def _encode_cursor(key: tuple) -> str:
    return base64.b64encode(json.dumps({"last_id": key[1], "last_value": key[0]}).encode()).decode()


def _decode_cursor(cursor: str) -> tuple:
    try:
        raw = json.loads(base64.b64decode(cursor.encode()))
        return (raw["last_value"], raw["last_id"])
    except Exception:
        raise GraphQLError("Invalid cursor for current pagination sort.",
                           extensions={"code": "BAD_REQUEST"}) from None


def connection(items: Iterable[Mapping[str, Any]], info, *, first=None, after=None, last=None, before=None,
               reverse=False, sortKey=None, query=None, **_ignored) -> dict[str, Any]:
    """A Relay connection over `items`, keyset-paginated like Shopify's (stable under updates)."""
    ctx: Context = info.context
    if not ctx.bulk:
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
        for name, size in (("first", first), ("last", last)):
            if size is not None and not 0 <= size <= MAX_PAGE:
                raise GraphQLError(f"The {name} argument must be between 0 and {MAX_PAGE}.",
                                   extensions={"code": "BAD_REQUEST"})
    root = ctx.bulk_window is not None and info.path.prev is None
    cache_key = (info.path.key, query, sortKey, bool(reverse))
    if root and ctx.bulk_cache is not None and cache_key in ctx.bulk_cache:
        keyed = ctx.bulk_cache[cache_key]
    else:
        search = parse_search(query)
        ctx.search_warnings.extend(search.warnings)
        keep = search.predicate()
        key_of = _sort_key(sortKey)
        keyed = sorted(((key_of(item), item) for item in items if keep(item)), key=lambda pair: pair[0],
                       reverse=bool(reverse))
        if root and ctx.bulk_cache is not None:
            ctx.bulk_cache[cache_key] = keyed
    if after:
        ck = _decode_cursor(after)
        keyed = [p for p in keyed if (p[0] < ck if reverse else p[0] > ck)]
    if before:
        ck = _decode_cursor(before)
        keyed = [p for p in keyed if (p[0] > ck if reverse else p[0] < ck)]
    has_next = has_prev = False
    if ctx.bulk:
        window = keyed
        if root:
            offset, count = ctx.bulk_window
            window = keyed[offset:offset + count]
    elif first is not None:
        window, has_next = keyed[:first], len(keyed) > first
        has_prev = bool(after)
    else:
        window, has_prev = keyed[max(0, len(keyed) - last):], len(keyed) > last
        has_next = bool(before)
    edges = [{"cursor": _encode_cursor(k), "node": node} for k, node in window]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_prev,
                     "startCursor": edges[0]["cursor"] if edges else None,
                     "endCursor": edges[-1]["cursor"] if edges else None},
    }


def _count(items: Iterable[Mapping[str, Any]], info, query=None, limit=10_000, **_ignored) -> dict[str, Any]:
    search = parse_search(query)
    info.context.search_warnings.extend(search.warnings)
    keep = search.predicate()
    total = sum(1 for item in items if keep(item))
    if limit is not None and total > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": total, "precision": "EXACT"}


def _guard(field_name: str, resolver):
    """Refuse a root field the shop's app has no access to, as Shopify does (ACCESS_DENIED)."""

    def resolve(root, info, **args):
        shop: "EmulatedShop" = info.context.shop
        if field_name in shop.denied:
            scope = shop.denied[field_name]
            raise GraphQLError(
                f"Access denied for {field_name} field. Required access: `{scope}` access scope.",
                extensions={"code": "ACCESS_DENIED",
                            "documentation": "https://shopify.dev/api/usage/access-scopes",
                            "requiredAccess": f"`{scope}` access scope."})
        return resolver(root, info, **args)

    return resolve


def _level_view(level: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
    return {**level, "location": {k: location[k] for k in ("id", "name", "isActive")}}


def _level_by_id(shop: "EmulatedShop", global_id: str) -> dict[str, Any] | None:
    """An inventory level by its id (`gid://shopify/InventoryLevel/<n>?inventory_item_id=<item>`), as a node."""
    for lid, by_item in shop.data.levels.items():
        for level in by_item.values():
            if level["id"] == global_id:
                return {**_level_view(level, shop.data.locations[lid]), "__typename": "InventoryLevel"}
    return None


def _visible_order(shop: "EmulatedShop", global_id: str) -> dict[str, Any] | None:
    try:
        order = shop.data.orders.get(numeric_id(global_id))
    except ValueError:
        return None
    return order if order is not None and shop.sees_order(order) else None


def build_executable_schema(schema_path: Path = SCHEMA_PATH) -> GraphQLSchema:
    schema = build_schema(schema_path.read_text(encoding="utf-8"))
    q = schema.query_type.fields
    m = schema.mutation_type.fields

    def shop(info) -> "EmulatedShop":
        return info.context.shop

    q["shop"].resolve = lambda root, info: shop(info).shop_info()
    if "currentAppInstallation" in q:
        q["currentAppInstallation"].resolve = lambda root, info: shop(info).app_installation()
    # Orders through the app's window (all of them with read_all_orders, else the last 60 days).
    q["orders"].resolve = _guard("orders", lambda root, info, **a: connection(shop(info).orders(), info, **a))
    q["ordersCount"].resolve = _guard("ordersCount", lambda root, info, **a: _count(shop(info).orders(), info, **a))
    q["order"].resolve = _guard("order", lambda root, info, id: _visible_order(shop(info), id))
    q["products"].resolve = _guard("products", lambda root, info, **a: connection(shop(info).data.products.values(), info, **a))
    q["productsCount"].resolve = _guard("productsCount", lambda root, info, **a: _count(shop(info).data.products.values(), info, **a))
    q["product"].resolve = _guard("product", lambda root, info, id: shop(info).data.products.get(numeric_id(id)))
    q["customers"].resolve = _guard("customers", lambda root, info, **a: connection(shop(info).data.customers.values(), info, **a))
    q["customersCount"].resolve = _guard("customersCount", lambda root, info, **a: _count(shop(info).data.customers.values(), info, **a))

    def locations(root, info, includeInactive=False, includeLegacy=False, **a):
        items = [l for l in shop(info).data.locations.values() if includeInactive or l["isActive"]]
        return connection(items, info, **a)

    q["locations"].resolve = _guard("locations", locations)
    q["location"].resolve = _guard("location", lambda root, info, id=None: shop(info).data.locations.get(numeric_id(id)) if id else None)
    q["bulkOperation"].resolve = lambda root, info, id: shop(info).bulk_view(id)

    def bulk_operations(root, info, reverse=False, **a):
        # Shopify lists the newest first unless `reverse`.
        return connection(shop(info).bulk_views(), info, reverse=not reverse, **a)

    q["bulkOperations"].resolve = bulk_operations

    order = schema.get_type("Order").fields
    order["lineItems"].resolve = lambda parent, info, **a: connection(parent["lineItems"], info, **a)
    product = schema.get_type("Product").fields
    product["variants"].resolve = lambda parent, info, sortKey="POSITION", **a: connection(
        parent["variants"], info, sortKey=sortKey, **a)

    def levels(parent, info, **a):
        lid = numeric_id(parent["id"])
        location = shop(info).data.locations[lid]
        return connection([_level_view(lv, location) for lv in shop(info).data.levels.get(lid, {}).values()], info, **a)

    schema.get_type("Location").fields["inventoryLevels"].resolve = levels

    def quantities(parent, info, names):
        known = parent["_quantities"]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise GraphQLError(f"Invalid quantity names: {', '.join(unknown)}", extensions={"code": "BAD_REQUEST"})
        return [{"name": n, "quantity": known[n]} for n in names]

    schema.get_type("InventoryLevel").fields["quantities"].resolve = quantities

    # Completeness (emulators/shopify/deletions.py): the event feed, and records by id.
    if "events" in q:
        q["events"].resolve = lambda root, info, **a: connection(shop(info).data.events, info, **a)
    if "nodes" in q:
        def nodes(root, info, ids):
            if len(ids) > MAX_PAGE:
                raise GraphQLError(f"The ids argument accepts at most {MAX_PAGE} ids.",
                                   extensions={"code": "BAD_REQUEST"})
            found = []
            for global_id in ids:
                item = deletions.node(shop(info).data, global_id)
                if item is not None and item.get("__typename") == "Order" and _visible_order(shop(info), global_id) is None:
                    item = None  # outside the app's orders window: Shopify answers null, as for a deleted one
                if item is None and global_id.startswith("gid://shopify/InventoryLevel/"):
                    item = _level_by_id(shop(info), global_id)
                found.append(item)
            return found

        q["nodes"].resolve = _guard("nodes", nodes)
    for interface in ("Node", "Event"):
        if interface in schema.type_map:
            schema.get_type(interface).resolve_type = lambda value, info, type_: value.get("__typename")

    m["bulkOperationRunQuery"].resolve = lambda root, info, query, groupObjects=False: shop(info).run_bulk(
        query, group_objects=groupObjects)
    m["bulkOperationCancel"].resolve = lambda root, info, id: shop(info).cancel_bulk(id)
    return schema

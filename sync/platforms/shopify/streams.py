"""Per-data-type reads: incremental pages sorted by `updatedAt`, or one bulk operation, as Pages.

Cursor (`Page.state`): `{"updated_at": "<largest updatedAt committed>"}`. A sync asks for
`updated_at:>='<cursor - lookback>'`; the overlap is absorbed by the engine's dedup.
- orders, products, customers are read in `sortKey: UPDATED_AT` order, so every page may carry the cursor
  of its last record: everything before it has been handed over.
- inventory levels come per location, in no global order: the cursor moves on the last page only, and
  never past the sync's start (a level changed behind the read is missed while a later one is seen).
- a bulk result comes in no guaranteed order and is only trustworthy once its line count matches the
  operation's: the cursor moves on its last page, after the check, and never past the operation's
  start (the operation scans for minutes or hours; it is no snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from ...models import Page, Record, StreamRequest
from . import queries
from .bulk import (BulkRunner, LineCount, assemble, check_complete, check_outcome, children_with_parent,
                   parse_lines)
from .client import QueryTooCostly, ShopifyClient
from .options import ShopifyOptions

log = logging.getLogger("sync.platforms.shopify")


def parse_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ChildSpec:
    """A nested connection fetched completely: inline first page, then follow-up documents."""

    key: str  # field on the parent, e.g. "lineItems"
    node_type: str  # GID type of the children, e.g. "LineItem" (to place bulk rows)
    document: str
    operation: str
    root: str  # root field of the follow-up document, e.g. "order"
    page: int
    inline_variable: str  # variable sizing the inline page, e.g. "lineItemsFirst"
    inline_first: int


@dataclass(frozen=True)
class SortedSpec:
    data_type: str
    document: str
    operation: str
    root: str
    count_root: str
    first: int
    bulk: queries.BulkQuery
    child: ChildSpec | None = None


ORDERS = SortedSpec("orders", queries.ORDERS, "Orders", "orders", "ordersCount", queries.ORDERS_PAGE,
                    queries.BULK_ORDERS,
                    ChildSpec("lineItems", "LineItem", queries.ORDER_LINE_ITEMS, "OrderLineItems", "order",
                              queries.LINE_ITEMS_PAGE, "lineItemsFirst", queries.ORDER_LINE_ITEMS_FIRST))
PRODUCTS = SortedSpec("products", queries.PRODUCTS, "Products", "products", "productsCount", queries.PRODUCTS_PAGE,
                      queries.BULK_PRODUCTS,
                      ChildSpec("variants", "ProductVariant", queries.PRODUCT_VARIANTS, "ProductVariants", "product",
                                queries.VARIANTS_PAGE, "variantsFirst", queries.PRODUCT_VARIANTS_FIRST))
CUSTOMERS = SortedSpec("customers", queries.CUSTOMERS, "Customers", "customers", "customersCount",
                       queries.CUSTOMERS_PAGE, queries.BULK_CUSTOMERS)
SORTED_SPECS = {s.data_type: s for s in (ORDERS, PRODUCTS, CUSTOMERS)}


@dataclass
class Batch:
    """Records gathered into engine pages of bounded size."""

    size: int
    records: list[Record] = field(default_factory=list)
    skipped: int = 0

    def full(self) -> bool:
        return len(self.records) + self.skipped >= self.size

    def take(self, state: dict[str, Any] | None) -> Page:
        page = Page(records=self.records, state=state, skipped_unchanged=self.skipped)
        self.records, self.skipped = [], 0
        return page

    def __bool__(self) -> bool:
        return bool(self.records or self.skipped)


def _record(node: Mapping[str, Any]) -> Record:
    return Record(external_id=str(node["id"]), data=node, updated_at=parse_ts(node["updatedAt"]))


class ShopStreams:
    def __init__(self, client: ShopifyClient, options: ShopifyOptions, bulk: BulkRunner):
        self.client = client
        self.options = options
        self.bulk_runner = bulk

    # --- shared -------------------------------------------------------------------------------------------
    def _execute_shrinking(self, document: str, variables: dict[str, Any], operation: str,
                           sizes: tuple[str, ...]) -> dict[str, Any]:
        """Execute; on MAX_COST_EXCEEDED halve the page sizes named in `sizes` and try again.

        The documented page sizes stay under 1,000 points; this only matters if Shopify's cost rules
        change under a pinned version, and then a smaller page beats a failed sync.
        """
        while True:
            try:
                return self.client.execute(document, variables, operation=operation)
            except QueryTooCostly:
                if all(variables[k] <= 1 for k in sizes):
                    raise
                for key in sizes:
                    variables[key] = max(1, variables[key] // 2)
                log.warning("Shopify found %s too costly for %s: retrying with smaller pages (%s)", operation,
                            self.client.shop, ", ".join(f"{k}={variables[k]}" for k in sizes))

    @staticmethod
    def search_since(request: StreamRequest) -> tuple[str | None, datetime | None]:
        cursor = (request.state or {}).get("updated_at")
        if not cursor:
            return None, None
        since = parse_ts(cursor) - request.lookback
        return f"updated_at:>='{iso(since)}'", since

    def use_bulk_first(self, request: StreamRequest) -> bool:
        return self.options.bulk == "always" or (self.options.bulk == "auto" and not (request.state or {}).get("updated_at"))

    # --- orders, products, customers ---------------------------------------------------------------------
    def sorted_stream(self, spec: SortedSpec, request: StreamRequest) -> Iterator[Page]:
        search, _ = self.search_since(request)
        if self.use_bulk_first(request):
            yield from self.bulk_stream(spec, search, request)
            return
        with_count = self.options.bulk == "auto"
        variables: dict[str, Any] = {"first": spec.first, "after": None, "query": search, "withCount": with_count}
        if spec.child:
            variables[spec.child.inline_variable] = spec.child.inline_first
        batch = Batch(self.options.page_records)
        newest: str | None = None
        while True:
            data = self._execute_shrinking(spec.document, variables, spec.operation,
                                           ("first", spec.child.inline_variable) if spec.child else ("first",))
            if variables["withCount"]:
                variables["withCount"] = False
                count = (data.get(spec.count_root) or {}).get("count") or 0
                if count >= self.options.bulk_threshold:
                    # A large delta: one bulk operation is cheaper than hundreds of pages.
                    log.info("%d %s changed at %s since the cursor: reading them with a bulk operation", count,
                             spec.data_type, self.client.shop)
                    yield from self.bulk_stream(spec, search, request)
                    return
            connection = data[spec.root]
            nodes = connection["nodes"]
            if spec.child:
                nodes = self._complete_children(spec.child, nodes, request, batch)
            for node in nodes:
                batch.records.append(_record(node))
            if connection["nodes"]:
                newest = connection["nodes"][-1]["updatedAt"]
            more = connection["pageInfo"]["hasNextPage"]
            if batch and (batch.full() or not more):
                yield batch.take({"updated_at": newest} if newest else None)
            if not more:
                return
            variables["after"] = connection["pageInfo"]["endCursor"]

    def _complete_children(self, child: ChildSpec, nodes: list[dict[str, Any]], request: StreamRequest,
                           batch: Batch) -> list[dict[str, Any]]:
        """Replace each node's child connection by the full list of children.

        A node whose children run past the inline page and whose `updatedAt` equals the stored version is
        unchanged: it is counted, not refetched (and not handed over).
        """
        partial = [n["id"] for n in nodes if n[child.key]["pageInfo"]["hasNextPage"]]
        stored = request.stored_versions(partial) if partial else {}
        out = []
        for node in nodes:
            conn = node[child.key]
            if conn["pageInfo"]["hasNextPage"]:
                version = stored.get(node["id"])
                if version is not None and version == parse_ts(node["updatedAt"]):
                    batch.skipped += 1
                    continue
                node[child.key] = conn["nodes"] + list(self._more_children(child, node["id"],
                                                                            conn["pageInfo"]["endCursor"]))
            else:
                node[child.key] = conn["nodes"]
            out.append(node)
        return out

    def _more_children(self, child: ChildSpec, parent_id: str, after: str) -> Iterator[dict[str, Any]]:
        variables = {"id": parent_id, "first": child.page, "after": after}
        while True:
            data = self._execute_shrinking(child.document, variables, child.operation, ("first",))
            parent = data.get(child.root)
            if parent is None:  # deleted meanwhile: what we have stays; the deletion is not ours to record
                return
            conn = parent[child.key]
            yield from conn["nodes"]
            if not conn["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = conn["pageInfo"]["endCursor"]

    # --- inventory ----------------------------------------------------------------------------------------
    def inventory_stream(self, request: StreamRequest) -> Iterator[Page]:
        search, _ = self.search_since(request)
        if self.use_bulk_first(request):
            yield from self.bulk_inventory(search, request)
            return
        variables = {"first": queries.LOCATIONS_PAGE, "after": None, "levelsFirst": queries.LOCATION_LEVELS_FIRST,
                     "query": search, "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)}
        batch = Batch(self.options.page_records)
        newest: str | None = None
        while True:
            data = self._execute_shrinking(queries.INVENTORY, variables, "Inventory", ("first", "levelsFirst"))
            connection = data["locations"]
            for location in connection["nodes"]:
                for level in self._location_levels(location, search):
                    batch.records.append(_level_record(level, location))
                    newest = max(newest or level["updatedAt"], level["updatedAt"])
                    if batch.full():
                        yield batch.take(None)  # levels come in no global order: no cursor yet
            if not connection["pageInfo"]["hasNextPage"]:
                break
            variables["after"] = connection["pageInfo"]["endCursor"]
        if batch or newest:
            # Locations are read one after another: a level changed in one already read is missed while
            # a later one shows a newer change. The cursor never passes the sync's start.
            yield batch.take({"updated_at": _capped(newest, request.started_at)} if newest else None)

    def _location_levels(self, location: Mapping[str, Any], search: str | None) -> Iterator[dict[str, Any]]:
        conn = location["inventoryLevels"]
        yield from conn["nodes"]
        variables = {"id": location["id"], "first": queries.LEVELS_PAGE, "after": None, "query": search,
                     "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)}
        while conn["pageInfo"]["hasNextPage"]:
            variables["after"] = conn["pageInfo"]["endCursor"]
            data = self._execute_shrinking(queries.LOCATION_LEVELS, variables, "LocationLevels", ("first",))
            if data.get("location") is None:
                return
            conn = data["location"]["inventoryLevels"]
            yield from conn["nodes"]

    # --- bulk ---------------------------------------------------------------------------------------------
    def _bulk_rows(self, query: queries.BulkQuery, search: str | None, what: str):
        outcome = self.bulk_runner.run(query.render(search), what)
        check_outcome(outcome, what, self.client.shop)
        count = LineCount()
        lines = self.client.stream_lines(outcome.url) if outcome.url else iter(())
        return outcome, count, parse_lines(lines, count)

    def bulk_stream(self, spec: SortedSpec, search: str | None, request: StreamRequest) -> Iterator[Page]:
        outcome, count, rows = self._bulk_rows(spec.bulk, search, spec.data_type)
        child_keys = {spec.child.node_type: spec.child.key} if spec.child else {}
        batch = Batch(self.options.page_records)
        newest: str | None = None
        for root in assemble(rows, child_keys):
            batch.records.append(_record(root))
            newest = max(newest or root["updatedAt"], root["updatedAt"])
            if batch.full():
                yield batch.take(None)  # bulk rows come in no guaranteed order: no cursor until checked
        check_complete(outcome, count, spec.data_type, self.client.shop)
        yield batch.take(self._bulk_state(newest, request, outcome))

    def bulk_inventory(self, search: str | None, request: StreamRequest) -> Iterator[Page]:
        outcome, count, rows = self._bulk_rows(queries.BULK_INVENTORY, search, "inventory")
        batch = Batch(self.options.page_records)
        newest: str | None = None
        for location, level in children_with_parent(rows):
            batch.records.append(_level_record(level, location))
            newest = max(newest or level["updatedAt"], level["updatedAt"])
            if batch.full():
                yield batch.take(None)
        check_complete(outcome, count, "inventory", self.client.shop)
        yield batch.take(self._bulk_state(newest, request, outcome))

    @staticmethod
    def _bulk_state(newest: str | None, request: StreamRequest, outcome: Any = None) -> dict[str, Any] | None:
        if newest:
            # A bulk operation is no snapshot: it scans for minutes or hours, so a record changed behind
            # the scan is missing while a later change ahead of it is in the file. The cursor stays at
            # the operation's start (or the sync's, when Shopify did not say).
            created = getattr(outcome, "created_at", None)
            return {"updated_at": _capped(newest, parse_ts(created) if created else request.started_at)}
        if (request.state or {}).get("updated_at"):
            return None  # nothing changed: keep the cursor
        # An empty first export: start the cursor at the sync's start, so the next sync pages a delta.
        return {"updated_at": iso(request.started_at)}


def _capped(newest: str, limit: datetime) -> str:
    """`newest`, or `limit` when that is earlier: the cursor of a read whose records came in no time order."""
    return newest if parse_ts(newest) <= limit else iso(limit)


def _level_record(level: Mapping[str, Any], location: Mapping[str, Any]) -> Record:
    data = {**level, "location": {"id": location["id"], "name": location["name"], "isActive": location["isActive"]}}
    return Record(external_id=str(level["id"]), data=data, updated_at=parse_ts(level["updatedAt"]))



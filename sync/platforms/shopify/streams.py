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

`prepare` decides, for every data type of a sync at once, whether it pages or runs a bulk export, and
starts the exports together (`bulk.BulkExports`), so a first sync takes about as long as its slowest
export instead of the sum; it hands the data types over paged ones first, then exports as they become
ready. A further data type (a stream of deletion events, say) is one more entry in `prepare`'s plan
and one more `fetch` branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from datetime import datetime
from typing import Any, Iterator, Mapping

from ...errors import AuthError
from ..paging import NextPages
from ...models import Census, Page, Record, StreamRequest
from ...timeutil import iso_z as iso, parse as parse_ts
from . import census, queries
from ...errors import SyncError
from .bulk import BulkExports, Export
from .client import AccessDenied, QueryTooCostly, ShopifyClient
from .pagesize import Sizes, paging_seconds
from .options import ShopifyOptions

log = logging.getLogger("sync.platforms.shopify")




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
    # The order the paged connection lists the children in, for bulk output (which has none of its own).
    order_by: str = "id"

    def sort(self, children: list[dict[str, Any]]) -> None:
        if self.order_by == "position":
            children.sort(key=lambda c: (c.get("position") or 0, _numeric_id(c)))
        else:
            children.sort(key=_numeric_id)


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
                                queries.VARIANTS_PAGE, "variantsFirst", queries.PRODUCT_VARIANTS_FIRST,
                                order_by="position"))
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


def _numeric_id(node: Mapping[str, Any]) -> int:
    try:
        return int(str(node.get("id", "")).rsplit("/", 1)[-1].split("?", 1)[0])
    except ValueError:
        return 0


def _record(node: Mapping[str, Any]) -> Record:
    return Record(external_id=str(node["id"]), data=node, updated_at=parse_ts(node["updatedAt"]))


@dataclass
class Plan:
    """How one data type is read in this sync (decided by `ShopStreams.prepare`)."""

    mode: str  # "page" or "bulk"
    first_answer: dict[str, Any] | None = None  # the first page, read while deciding (paging goes on from it)
    variables: dict[str, Any] | None = None  # the variables that first page was asked with
    sizes: Sizes | None = None  # the page sizes learnt so far in this sync
    error: BaseException | None = None  # deciding failed: the data type's fetch raises this


class ShopStreams:
    def __init__(self, client: ShopifyClient, options: ShopifyOptions, exports: BulkExports):
        self.client = client
        self.options = options
        self.exports = exports
        self.plans: dict[str, Plan] = {}

    # --- planning -----------------------------------------------------------------------------------------
    def prepare(self, requests: list[StreamRequest]) -> Iterator[str]:
        """Decide every data type's read, start the bulk exports together, and yield the data types in
        the order they can be fetched: paged ones at once, exports as each becomes ready."""
        bulk: list[StreamRequest] = []
        paged: list[str] = []
        for request in requests:
            try:
                plan = self._plan(request)
            except AccessDenied as exc:
                plan = Plan("page", error=exc)
            except SyncError as exc:
                if isinstance(exc, AuthError):
                    raise  # nothing else will work either
                plan = Plan("page", error=exc)
            self.plans[request.data_type] = plan
            (bulk if plan.mode == "bulk" else paged).append(request)
        started: list[Export] = []
        for request in bulk:
            try:
                parts = self.bulk_parts(request, len(bulk))
            except SyncError as exc:
                if isinstance(exc, AuthError):
                    raise
                self.plans[request.data_type] = Plan("page", error=exc)
                paged.append(request)
                continue
            started.append(self.exports.submit(request.data_type, parts))
        yield from (r.data_type for r in paged)
        yield from self.exports.ready(started)

    def _plan(self, request: StreamRequest) -> Plan:
        first_sync = request.cursor.first_sync
        if self.options.bulk == "off":
            return Plan("page")
        if self.options.bulk == "always" or first_sync:
            return Plan("bulk")
        spec = SORTED_SPECS.get(request.data_type)
        if spec is None:
            return Plan("page")  # inventory deltas page (levels have no count to size them by)
        search, _ = self.search_since(request)
        sizes = self.sizes(request)
        variables = self._first_variables(spec, search, with_count=True)
        # A small first page: most deltas of an hourly sync are empty or small, and a page's requested cost
        # is charged up front, whatever comes back.
        answer, cost = self._execute_sized(spec.document, variables, spec.operation, sizes,
                                           cap=queries.FIRST_DELTA_PAGE)
        variables["withCount"] = False
        counted = answer.get(spec.count_root) or {}
        count = int(counted.get("count") or 0)
        returned = len(answer[spec.root]["nodes"])
        sizes.measure(cost, returned)
        # How long paging the delta would take: its size, what a record costs (measured on this first page,
        # or remembered), and the bucket's restore rate. A capped count (AT_LEAST) is no small delta.
        points = sizes.points_per_record or sizes.sizer(spec.operation).per_record or 0.0
        seconds = paging_seconds(max(0, count - returned), points, self.client.pacer.restore_rate)
        capped = counted.get("precision") == "AT_LEAST"
        if capped or seconds > self.options.bulk_paging_seconds:
            log.info("%d%s %s changed at %s since the cursor (paging them would take about %.0f s): reading "
                     "them with a bulk export", count, "+" if capped else "", spec.data_type, self.client.shop,
                     seconds)
            return Plan("bulk", sizes=sizes)
        return Plan("page", first_answer=answer, variables=variables, sizes=sizes)

    def sizes(self, request: StreamRequest) -> Sizes:
        formula = {op: queries.REQUESTED_COST[op] / size for op, size in queries.PAGE_SIZES.items()}
        return Sizes.from_state(queries.PAGE_SIZES, request.cursor.state, formula)

    def bulk_parts(self, request: StreamRequest, exports: int) -> list[str]:
        """The bulk queries of one data type: one, or for orders, two halves by creation time when a slot
        is free (orders are usually the largest export, and two halves run at once finish sooner)."""
        search, _ = self.search_since(request)
        if request.data_type == "inventory":
            return [queries.BULK_INVENTORY.render(search)]
        spec = SORTED_SPECS[request.data_type]
        if spec is not ORDERS or self.exports.concurrency <= exports:
            return [spec.bulk.render(search)]
        answer = self.client.execute(queries.OLDEST_ORDER, {"query": search}, operation="OldestOrder")
        nodes = answer["orders"]["nodes"]
        if not nodes:
            return [spec.bulk.render(search)]
        oldest = parse_ts(nodes[0]["createdAt"])
        middle = iso(oldest + (request.started_at - oldest) / 2)
        if middle <= iso(oldest):
            return [spec.bulk.render(search)]
        both = f"{search} AND " if search else ""
        return [spec.bulk.render(f"{both}created_at:<'{middle}'"),
                spec.bulk.render(f"{both}created_at:>='{middle}'")]

    def plan_for(self, request: StreamRequest) -> Plan:
        """The data type's plan, handed over once; decided now (and its export waited for) when `prepare`
        was not called for it."""
        if request.data_type not in self.plans:
            for _ in self.prepare([request]):
                pass
        return self.plans.pop(request.data_type)

    # --- shared -------------------------------------------------------------------------------------------
    def _execute_sized(self, document: str, variables: dict[str, Any], operation: str, sizes: Sizes,
                       cap: int | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Execute at the operation's current page size; the answer's requested cost sets the next size.

        On MAX_COST_EXCEEDED the page shrinks to what Shopify's reported `cost` says fits and the document
        is sent again (a smaller page beats a failed sync). `cap` bounds this one request's page (the
        first page of a delta, whose size is not known yet).
        """
        sizer = sizes.sizer(operation)
        key = queries.SIZED_VARIABLE[operation]
        while True:
            variables[key] = min(sizer.size, cap) if cap else sizer.size
            expected = sizer.per_record * variables[key] if sizer.per_record else None
            try:
                data, cost = self.client.execute_with_cost(document, variables, operation=operation,
                                                           expected_cost=expected)
            except QueryTooCostly as exc:
                if not sizer.refused(exc.cost, variables[key], exc.max_cost):
                    raise
                sizes.learn_max_cost(exc.max_cost)
                log.warning("Shopify found %s too costly for %s (%s points): retrying with %s=%d", operation,
                            self.client.shop, f"{exc.cost:g}" if exc.cost else "?", key, sizer.size)
                continue
            sizer.observe(cost, variables[key])
            return data, cost

    @staticmethod
    def _state(request: StreamRequest, newest: str | None, sizes: Sizes) -> dict[str, Any] | None:
        return request.cursor.at(newest, **sizes.state()) if newest else None

    @staticmethod
    def search_since(request: StreamRequest) -> tuple[str | None, datetime | None]:
        since = request.cursor.since()
        if since is None:
            return None, None
        return f"updated_at:>='{iso(since)}'", since

    def _first_variables(self, spec: SortedSpec, search: str | None, *, with_count: bool) -> dict[str, Any]:
        variables: dict[str, Any] = {"first": spec.first, "after": None, "query": search, "withCount": with_count}
        if spec.child:
            variables[spec.child.inline_variable] = spec.child.inline_first
        return variables

    # --- orders, products, customers ---------------------------------------------------------------------
    def sorted_stream(self, spec: SortedSpec, request: StreamRequest) -> Iterator[Page]:
        plan = self.plan_for(request)
        if plan.error is not None:
            raise plan.error
        if plan.mode == "bulk":
            yield from self.bulk_stream(spec, request, plan.sizes)
            return
        search, _ = self.search_since(request)
        variables = plan.variables or self._first_variables(spec, search, with_count=False)
        sizes = plan.sizes or self.sizes(request)
        data = plan.first_answer
        plan.first_answer = None  # handed over: not held for the rest of the sync
        batch = Batch(self.options.page_records)
        newest: str | None = None
        pages = NextPages(f"Shopify {spec.root}")
        while True:
            if data is None:
                data, cost = self._execute_sized(spec.document, variables, spec.operation, sizes)
                sizes.measure(cost, len(data[spec.root]["nodes"]))
            connection = data[spec.root]
            nodes = connection["nodes"]
            if spec.child:
                nodes = self._complete_children(spec.child, nodes, request, batch, sizes)
            for node in nodes:
                batch.records.append(_record(node))
            if connection["nodes"]:
                newest = connection["nodes"][-1]["updatedAt"]
            more = connection["pageInfo"]["hasNextPage"]
            if batch and (batch.full() or not more):
                page = batch.take(self._state(request, newest, sizes))
                if not more:
                    page.census = census.of_page(data)  # the count asked with this last page
                yield page
            elif not more:
                yield Page(records=[], census=census.of_page(data))  # nothing changed: the count alone
            if not more:
                return
            variables["after"] = pages.next(connection["pageInfo"]["endCursor"])
            data = None

    def _complete_children(self, child: ChildSpec, nodes: list[dict[str, Any]], request: StreamRequest,
                           batch: Batch, sizes: Sizes) -> list[dict[str, Any]]:
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
                                                                            conn["pageInfo"]["endCursor"], sizes))
            else:
                node[child.key] = conn["nodes"]
            out.append(node)
        return out

    def _more_children(self, child: ChildSpec, parent_id: str, after: str, sizes: Sizes) -> Iterator[dict[str, Any]]:
        variables = {"id": parent_id, "first": child.page, "after": after}
        pages = NextPages(f"Shopify {child.key} of {parent_id}")
        pages.next(after)
        while True:
            data, _ = self._execute_sized(child.document, variables, child.operation, sizes)
            parent = data.get(child.root)
            if parent is None:  # deleted meanwhile: what we have stays; the deletion is not ours to record
                return
            conn = parent[child.key]
            yield from conn["nodes"]
            if not conn["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = pages.next(conn["pageInfo"]["endCursor"])

    # --- inventory ----------------------------------------------------------------------------------------
    def inventory_stream(self, request: StreamRequest) -> Iterator[Page]:
        plan = self.plan_for(request)
        if plan.error is not None:
            raise plan.error
        if plan.mode == "bulk":
            yield from self.bulk_inventory(request)
            return
        search, _ = self.search_since(request)
        sizes = self.sizes(request)
        variables = {"first": queries.LOCATIONS_PAGE, "after": None, "levelsFirst": queries.LOCATION_LEVELS_FIRST,
                     "query": search, "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)}
        batch = Batch(self.options.page_records)
        newest: str | None = None
        seen: set[str] | None = set() if search is None else None  # a read of every level: a snapshot
        first = bool(search)
        pages = NextPages("Shopify locations")
        while True:
            data, _ = self._execute_sized(queries.INVENTORY, variables, "Inventory", sizes,
                                          cap=queries.FIRST_DELTA_PAGE if first else None)
            first = False
            connection = data["locations"]
            for location in connection["nodes"]:
                for level in self._location_levels(location, search, sizes):
                    batch.records.append(_level_record(level, location))
                    if seen is not None:
                        seen.add(str(level["id"]))
                    newest = max(newest or level["updatedAt"], level["updatedAt"])
                    if batch.full():
                        yield batch.take(None)  # levels come in no global order: no cursor yet
            if not connection["pageInfo"]["hasNextPage"]:
                break
            variables["after"] = pages.next(connection["pageInfo"]["endCursor"])
        if batch or newest or seen is not None:
            # Locations are read one after another: a level changed in one already read is missed while
            # a later one shows a newer change. The cursor never passes the sync's start.
            page = batch.take(self._state(request, _capped(newest, request.started_at), sizes) if newest else None)
            page.census = Census(ids=frozenset(seen)) if seen is not None else None
            yield page

    def _location_levels(self, location: Mapping[str, Any], search: str | None,
                         sizes: Sizes) -> Iterator[dict[str, Any]]:
        conn = location["inventoryLevels"]
        yield from conn["nodes"]
        variables = {"id": location["id"], "first": queries.LEVELS_PAGE, "after": None, "query": search,
                     "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)}
        pages = NextPages(f"Shopify inventory levels of {location['id']}")
        while conn["pageInfo"]["hasNextPage"]:
            variables["after"] = pages.next(conn["pageInfo"]["endCursor"])
            data, _ = self._execute_sized(queries.LOCATION_LEVELS, variables, "LocationLevels", sizes)
            if data.get("location") is None:
                return
            conn = data["location"]["inventoryLevels"]
            yield from conn["nodes"]

    # --- bulk ---------------------------------------------------------------------------------------------
    def _ready_export(self, data_type: str) -> Export:
        export = self.exports.take(data_type)
        if export is None:
            raise SyncError(f"no bulk export of {data_type} was started")  # a bug: prepare submits every one
        export.done.wait()
        if export.error is not None:
            raise export.error
        return export

    def bulk_stream(self, spec: SortedSpec, request: StreamRequest, sizes: Sizes | None = None) -> Iterator[Page]:
        export = self._ready_export(spec.data_type)
        child_keys = {spec.child.node_type: spec.child.key} if spec.child else {}
        batch = Batch(self.options.page_records)
        newest: str | None = None
        try:
            for root in export.spool.roots_with_children(child_keys):
                if spec.child:
                    spec.child.sort(root[spec.child.key])
                batch.records.append(_record(root))
                newest = max(newest or root["updatedAt"], root["updatedAt"])
                if batch.full():
                    yield batch.take(None)  # bulk rows come in no guaranteed order: no cursor until the end
            page = batch.take(self._bulk_state(newest, request, export, sizes))
            page.census = self._count(spec.data_type)
            yield page
        finally:
            export.spool.close()

    def bulk_inventory(self, request: StreamRequest) -> Iterator[Page]:
        export = self._ready_export("inventory")
        batch = Batch(self.options.page_records)
        newest: str | None = None
        search, _ = self.search_since(request)
        seen: set[str] | None = set() if search is None else None  # an export of every level: a snapshot
        try:
            for location, level in export.spool.children_with_parents():
                batch.records.append(_level_record(level, location))
                if seen is not None:
                    seen.add(str(level["id"]))
                newest = max(newest or level["updatedAt"], level["updatedAt"])
                if batch.full():
                    yield batch.take(None)
            page = batch.take(self._bulk_state(newest, request, export))
            page.census = Census(ids=frozenset(seen)) if seen is not None else None
            yield page
        finally:
            export.spool.close()

    def _count(self, data_type: str) -> Census | None:
        """Shopify's count of a data type read by bulk export (one request); a failure of it costs the
        audit its figure, never the export."""
        try:
            return census.counts(self.client, [data_type]).get(data_type)
        except AuthError:
            raise
        except SyncError as exc:
            log.warning("Shopify's count of %s for %s could not be read (%s): no audit figure this sync", data_type,
                        self.client.shop, exc)
            return None

    @staticmethod
    def _bulk_state(newest: str | None, request: StreamRequest, export: Export | None = None,
                    sizes: Sizes | None = None) -> dict[str, Any] | None:
        if newest:
            # A bulk operation is no snapshot: it scans for minutes or hours, so a record changed behind
            # the scan is missing while a later change ahead of it is in the file. The cursor stays at
            # the (earliest part's) operation's start, or the sync's when Shopify did not say.
            starts = [parse_ts(o.created_at) for o in (export.outcomes if export else ()) if o and o.created_at]
            learnt = sizes.state() if sizes else _learnt(request.cursor.state)
            return request.cursor.at(_capped(newest, min(starts) if starts else request.started_at), **learnt)
        if request.cursor.raw:
            return None  # nothing changed: keep the cursor
        # An empty first export: start the cursor at the sync's start, so the next sync pages a delta.
        return request.cursor.at(iso(request.started_at))


def _learnt(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a cursor entry holds besides the cursor (page sizes, points per record): kept across a bulk read."""
    return {k: v for k, v in (state or {}).items() if k in ("page_sizes", "points_per_record", "max_query_cost")}


def _capped(newest: str, limit: datetime) -> str:
    """`newest`, or `limit` when that is earlier: the cursor of a read whose records came in no time order."""
    return newest if parse_ts(newest) <= limit else iso(limit)


def _level_record(level: Mapping[str, Any], location: Mapping[str, Any]) -> Record:
    data = {**level, "location": {"id": location["id"], "name": location["name"], "isActive": location["isActive"]}}
    return Record(external_id=str(level["id"]), data=data, updated_at=parse_ts(level["updatedAt"]))



"""Shopify's side of an id comparison (`python -m sync audit`, and a deletion feed too old to trust):
every id of a data type with its `updatedAt`, which ids are gone, and records fetched by id.

- `platform_ids`: a bulk export of ids and `updatedAt` only (`queries.ID_EXPORTS`), checked against the
  operation's counts like any export and spooled to disk, so a large shop is never held in memory.
- `gone`: `nodes(ids:)` answers null for a record that no longer exists: a stored row is marked deleted
  only once Shopify says so.
- `records`: `nodes(ids:)` with the very selection the reads store, children past the inline page
  completed as the paged reads do, so a repaired row is the record a sync would have stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence

from ...errors import SyncError
from ...models import Record
from ...timeutil import parse
from . import census, queries
from .bulk import BulkExports
from .client import ShopifyClient
from .pagesize import Sizes
from .streams import SORTED_SPECS, ShopStreams, _level_record, _record

_BY_ID = {"orders": (queries.ORDERS_BY_ID, "OrdersById"), "products": (queries.PRODUCTS_BY_ID, "ProductsById"),
          "customers": (queries.CUSTOMERS_BY_ID, "CustomersById"), "inventory": (queries.LEVELS_BY_ID, "LevelsById")}


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class ShopifyIds:
    """Also the connection's `auditor` (platforms/base.py): every data type is compared whole."""

    data_types = ("orders", "products", "customers", "inventory")

    def __init__(self, client: ShopifyClient, exports: BulkExports, streams: ShopStreams):
        self.client = client
        self.exports = exports
        self.streams = streams

    def window(self, data_type: str) -> None:
        return None  # the whole data type

    def covers(self, data_type: str) -> None:
        return None  # every stored id

    def count(self, data_type: str):
        """Shopify's own count of the data type (None for inventory, which it does not count)."""
        return census.counts(self.client, [data_type]).get(data_type)

    def platform_ids(self, data_type: str) -> Iterator[tuple[str, datetime | None]]:
        """(id, updatedAt) of every record of the data type, by bulk export."""
        export = self.exports.submit(f"{data_type} ids", [queries.ID_EXPORTS[data_type].render(None)])
        export.done.wait()
        self.exports.take(export.key)
        if export.error is not None:
            raise export.error
        spool = export.spool
        assert spool is not None
        try:
            if data_type == "inventory":
                for _location, level in spool.children_with_parents():
                    yield str(level["id"]), parse(level["updatedAt"]) if level.get("updatedAt") else None
            else:
                for root in spool.roots_with_children({}):
                    yield str(root["id"]), parse(root["updatedAt"]) if root.get("updatedAt") else None
        finally:
            spool.close()

    def gone(self, data_type: str, ids: Sequence[str]) -> set[str]:
        """The ids Shopify has no record of (their node is null)."""
        out: set[str] = set()
        for chunk in _chunks(ids, queries.NODES_PAGE):
            nodes = self.client.execute(queries.NODES_EXIST, {"ids": chunk}, operation="NodesExist")["nodes"]
            if len(nodes) != len(chunk):
                raise SyncError(f"Shopify answered nodes(ids:) for {self.client.shop} with {len(nodes)} entries for "
                                f"{len(chunk)} ids")
            out.update(i for i, node in zip(chunk, nodes) if node is None)
        return out

    def records(self, data_type: str, ids: Sequence[str]) -> Iterator[Record]:
        """The records of these ids as the reads store them (ids Shopify no longer has are left out)."""
        document, operation = _BY_ID[data_type]
        spec = SORTED_SPECS.get(data_type)
        formula = {op: queries.REQUESTED_COST[op] / size for op, size in queries.PAGE_SIZES.items()}
        sizes = Sizes.from_state(queries.PAGE_SIZES, None, formula)
        for chunk in _chunks(ids, queries.BY_ID_PAGE[data_type]):
            variables: dict[str, Any] = {"ids": chunk}
            if spec is not None and spec.child is not None:
                variables[spec.child.inline_variable] = spec.child.inline_first
            if data_type == "inventory":
                variables["quantityNames"] = list(queries.INVENTORY_QUANTITY_NAMES)
            nodes = self.client.execute(document, variables, operation=operation)["nodes"]
            for node in nodes:
                if not node:
                    continue
                if data_type == "inventory":
                    location = node.pop("location")
                    yield _level_record(node, location)
                    continue
                child = spec.child if spec is not None else None
                if child is not None:
                    conn = node[child.key]
                    node[child.key] = conn["nodes"]
                    if conn["pageInfo"]["hasNextPage"]:
                        node[child.key] += list(self.streams._more_children(child, node["id"],
                                                                            conn["pageInfo"]["endCursor"], sizes))
                yield _record(node)

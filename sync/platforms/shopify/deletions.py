"""`deletions`: the rows Shopify reports deleted, read before the data types of each sync (a side stream,
its cursor in `sync_state["deletions"]`).

Shopify's event feed (`events`, 2026-10; `deletionEvents` is deprecated) keeps a `destroy` event for a
deleted product, variant, customer or order for a year. Each sync asks for those created since the cursor
minus the lookback (Shopify may publish an event a few minutes after the deletion), in creation order:

- PRODUCT: the product's row, and the inventory rows of its variants' inventory items (found through the
  stored product, which still lists them: this stream runs before the products are read again);
- PRODUCT_VARIANT: the inventory rows of the variant's inventory item (its product's row is rewritten
  by the products read, without the variant);
- CUSTOMER (a customer whose data was erased for privacy is deleted too): the customer's row;
- ORDER: the order's row.

A row already marked keeps its first time, so the overlap re-marks nothing. The cursor moves with each
page of events and, once the feed is read to its end, to the sync's start.

When the feed cannot be trusted to hold every deletion since the last sync — no cursor yet while rows
are stored (an integration from before deletions were tracked, or a `reset-cursor`), or a cursor older
than the feed's year — the stream reconciles ids instead: a bulk export of every id of each data type
against the stored live ids; the stored ids Shopify does not list, once `nodes(ids:)` confirms they are
gone, are marked. A first sync (nothing stored) has nothing to reconcile: the cursor starts at its start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterator, Mapping, Sequence

from ...idcompare import compare
from ..paging import NextPages
from ...models import Deletion, Page, StoredRows, StreamRequest
from ...timeutil import iso_z as iso, parse
from . import queries
from .client import ShopifyClient
from .ids import ShopifyIds

log = logging.getLogger("sync.platforms.shopify")

STREAM = "deletions"
# Shopify keeps events for one year; a cursor older than this (a day's margin) no longer covers everything.
FEED_RETENTION = timedelta(days=364)
RECONCILED = ("products", "customers", "orders", "inventory")
_ROWS = {"PRODUCT": "products", "CUSTOMER": "customers", "ORDER": "orders"}


def events_query(since: datetime) -> str:
    subjects = " OR ".join(f"subject_type:{s}" for s in queries.DELETION_SUBJECTS)
    return f"action:destroy AND created_at:>='{iso(since)}' AND ({subjects})"


class DeletionStream:
    def __init__(self, client: ShopifyClient, ids: ShopifyIds):
        self.client = client
        self.ids = ids

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        cursor = request.cursor.get("created_at")
        since = _parse(cursor)
        stored = request.stored
        if since is None or request.started_at - since > FEED_RETENTION:
            if stored is None or not any(stored.count_live(t) for t in RECONCILED):
                # A first sync: nothing stored, nothing to follow; the feed starts now.
                yield Page(records=[], state={"created_at": iso(request.started_at)})
                return
            why = "no deletion cursor yet" if since is None else f"the last one read is from {iso(since)}, " \
                                                                   "past the event feed's year"
            log.info("Reconciling %s's ids with Shopify (%s)", self.client.shop, why)
            yield from self.reconcile(stored, request.started_at)
            return
        yield from self._events(request, since - request.cursor.lookback, stored)

    # --- the event feed -----------------------------------------------------------------------------------
    def _events(self, request: StreamRequest, since: datetime, stored: StoredRows | None) -> Iterator[Page]:
        variables = {"first": queries.EVENTS_PAGE, "after": None, "query": events_query(since)}
        newest = since
        pages = NextPages("Shopify events")
        while True:
            connection = self.client.execute(queries.DELETION_EVENTS, variables, operation="DeletionEvents")["events"]
            events = [e for e in connection["nodes"] if e.get("action") == "destroy" and e.get("subjectId")]
            for event in events:
                newest = max(newest, parse(event["createdAt"]))
            more = connection["pageInfo"]["hasNextPage"]
            # Once the feed is read to its end, the cursor is the sync's start (not the last event's time:
            # a shop with no deletion for a year would otherwise look idle that long).
            end = request.started_at if not more else min(newest, request.started_at)
            yield Page(records=[], deleted=self._deletions(events, stored), state={"created_at": iso(end)})
            if not more:
                return
            variables["after"] = pages.next(connection["pageInfo"]["endCursor"])

    def _deletions(self, events: Sequence[Mapping], stored: StoredRows | None) -> list[Deletion]:
        out: list[Deletion] = []
        products: dict[str, datetime] = {}
        variants: dict[str, datetime] = {}
        for event in events:
            subject, kind, at = str(event["subjectId"]), event.get("subjectType"), parse(event["createdAt"])
            if kind in _ROWS:
                out.append(Deletion(_ROWS[kind], subject, at))
            if kind == "PRODUCT":
                products[subject] = at
            elif kind == "PRODUCT_VARIANT":
                variants[subject] = at
        if stored is not None:
            out += inventory_of(stored, products, variants)
        return out

    # --- reconciliation -----------------------------------------------------------------------------------
    def reconcile(self, stored: StoredRows, now: datetime) -> Iterator[Page]:
        for data_type in RECONCILED:
            found = compare(self.ids.platform_ids(data_type), stored.live_ids(data_type))
            gone = sorted(self.ids.gone(data_type, found.extra)) if found.extra else []
            deletions = [Deletion(data_type, i, now) for i in gone]
            if data_type == "products" and gone:
                deletions += inventory_of(stored, {i: now for i in gone}, {})
            if gone:
                log.info("%d %s of %s are gone from Shopify: marked deleted", len(gone), data_type, self.client.shop)
            yield Page(records=[], deleted=deletions)
        yield Page(records=[], state={"created_at": iso(now)})


def inventory_of(stored: StoredRows, products: Mapping[str, datetime], variants: Mapping[str, datetime]
                 ) -> list[Deletion]:
    """The stored inventory rows of deleted products' variants and of deleted variants."""
    items: dict[str, datetime] = {}
    if products:
        for product_id, data in stored.rows("products", list(products)).items():
            for variant in data.get("variants") or []:
                item = ((variant or {}).get("inventoryItem") or {}).get("id")
                if item:
                    items[str(item)] = products[product_id]
    if variants:
        holders = stored.ids_where("products", ("variants", "id"), list(variants))
        for data in stored.rows("products", holders).values():
            for variant in data.get("variants") or []:
                item = ((variant or {}).get("inventoryItem") or {}).get("id")
                if variant.get("id") in variants and item:
                    items[str(item)] = variants[variant["id"]]
    if not items:
        return []
    out = []
    for level_id, data in stored.rows("inventory", stored.ids_where("inventory", ("item", "id"), list(items))).items():
        item = str(((data or {}).get("item") or {}).get("id"))
        out.append(Deletion("inventory", level_id, items.get(item)))
    return out


def _parse(value: object) -> datetime | None:
    try:
        return parse(value) if isinstance(value, str) and value else None
    except ValueError:
        return None

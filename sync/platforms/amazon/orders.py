"""`orders`: getOrders by LastUpdateDate, each new or changed order stored with all its order items.

Window: LastUpdatedAfter = the cursor minus the lookback (first sync: `AMAZON_ORDERS_INITIAL_DAYS` back),
LastUpdatedBefore = the sync's start minus 2.5 minutes (Amazon refuses anything later than two minutes
before now; the half minute absorbs clock skew). The window is read in slices of `AMAZON_ORDERS_WINDOW_DAYS`
(one slice for a daily sync). Amazon does not promise an order of results, so the cursor
(`{"last_updated_before": ...}`) moves only on a slice's last page, once every order of the slice has been
yielded; an interrupted sync re-reads that slice and the engine's dedup absorbs the overlap.

getOrderItems (0.5/s) is the expensive call: it is made only for orders that are new or whose
LastUpdateDate differs from the stored one; the others count as `skipped_unchanged`.
Buyer PII (BuyerInfo, ShippingAddress, BuyerTaxInformation) needs a Restricted Data Token: it is requested
only when `AMAZON_RESTRICTED_DATA_ELEMENTS` names the elements wanted; the token (valid one hour) then
authorizes the getOrders calls alone, and is renewed before it expires.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from ...errors import DataTypeSkipped, IncompleteDataError, PlatformError
from ...models import Page, Record, StreamRequest
from .calls import AmazonForbidden, SpApiCaller
from .client import OrdersClient, TokensClient
from .timeutil import iso, parse, same_instant
from .tuning import AmazonTuning

VISIBILITY_LAG = timedelta(minutes=2, seconds=30)
ITEMS_KEY = "OrderItems"


class RestrictedToken:
    """The Restricted Data Token for getOrders' buyer PII (none when no data elements are configured)."""

    PATH = "/orders/v0/orders"

    def __init__(self, caller: SpApiCaller, client: TokensClient, elements: tuple[str, ...],
                 clock: Callable[[], float] = time.monotonic):
        self.caller, self.client, self.elements, self.clock = caller, client, elements, clock
        self._token: str | None = None
        self._expires = 0.0

    def invalidate(self) -> None:
        self._token = None

    def current(self) -> str | None:
        if not self.elements:
            return None
        if self._token is None or self.clock() >= self._expires:
            resources = [{"method": "GET", "path": self.PATH, "dataElements": list(self.elements)}]
            try:
                response = self.caller.call("createRestrictedDataToken",
                                            lambda: self.client.create_restricted_data_token(
                                                restrictedResources=resources))
            except AmazonForbidden:
                # Not a skip: the operator asked for this data; the orders stream fails with the reason.
                raise PlatformError(
                    f"Amazon refused a Restricted Data Token for {', '.join(self.elements)} (403): the app lacks "
                    f"the matching restricted role. Request the role, or empty AMAZON_RESTRICTED_DATA_ELEMENTS."
                ) from None
            payload = response.payload or {}
            self._token = str(payload["restrictedDataToken"])
            self._expires = self.clock() + max(0.0, float(payload.get("expiresIn") or 3600) - 120)
        return self._token


def _window(request: StreamRequest, tuning: AmazonTuning, now: datetime) -> tuple[datetime, datetime]:
    before = min(request.started_at, now) - VISIBILITY_LAG
    cursor = (request.state or {}).get("last_updated_before")
    if cursor:
        after = parse(cursor) - request.lookback
    else:
        after = before - timedelta(days=tuning.orders_initial_days)
    return min(after, before), before


def slices(after: datetime, before: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """The window cut into consecutive slices of `days`, oldest first (one slice for a daily sync)."""
    out = []
    step = timedelta(days=days)
    start = after
    while start + step < before:
        out.append((start, start + step))
        start += step
    out.append((start, before))
    return out


def fetch_orders(caller: SpApiCaller, client: OrdersClient, request: StreamRequest, marketplace_ids: list[str],
                 tuning: AmazonTuning, restricted: RestrictedToken | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Iterator[Page]:
    """Each slice of the window is paged through in full, then the cursor moves to its end: a first sync
    of a large seller (getOrderItems: 1,800 orders an hour) keeps its progress if it is interrupted."""
    after, before = _window(request, tuning, now())
    try:
        for start, end in slices(after, before, tuning.orders_window_days):
            yield from _slice(caller, client, request, marketplace_ids, tuning, restricted, start, end)
    except AmazonForbidden as exc:
        raise DataTypeSkipped(
            f"{exc} Grant the app the 'Inventory and Order Tracking' role and authorize it again.") from None


def _slice(caller: SpApiCaller, client: OrdersClient, request: StreamRequest, marketplace_ids: list[str],
           tuning: AmazonTuning, restricted: RestrictedToken | None, after: datetime,
           before: datetime) -> Iterator[Page]:
    state = {"last_updated_before": iso(before)}
    next_token: str | None = None
    while True:
        # A next page repeats the filters with its NextToken, as the Orders model's sandbox example does
        # ("NextToken doesn't affect any filters that you include in your request").
        params: dict[str, Any] = {"LastUpdatedAfter": iso(after), "LastUpdatedBefore": iso(before),
                                  "MarketplaceIds": list(marketplace_ids), "MaxResultsPerPage": tuning.orders_page_size}
        if next_token:
            params["NextToken"] = next_token

        def get_orders() -> Any:
            # Inside the attempt: a retry after a 403 picks up a renewed token.
            client.restricted_data_token = restricted.current() if restricted else None
            try:
                return client.get_orders(**params)
            finally:
                client.restricted_data_token = None  # never sent to getOrderItems

        response = caller.call("getOrders", get_orders)
        payload = response.payload or {}
        if not isinstance(payload.get("Orders"), list):
            raise IncompleteDataError("Amazon answered getOrders without an Orders list; the orders cursor "
                                      "stays where it was and the next sync reads the window again.")
        orders: list[dict[str, Any]] = payload["Orders"]
        next_token = payload.get("NextToken") or None
        yield _page(caller, client, request, orders, None if next_token else state)
        if not next_token:
            return


def _page(caller: SpApiCaller, client: OrdersClient, request: StreamRequest, orders: list[dict[str, Any]],
          state: dict[str, Any] | None) -> Page:
    ids = list(dict.fromkeys(str(o["AmazonOrderId"]) for o in orders))
    stored = request.stored_versions(ids) if ids else {}
    records: list[Record] = []
    skipped = 0
    seen: set[str] = set()
    for order in orders:
        order_id = str(order["AmazonOrderId"])
        if order_id in seen:  # the same order twice in one page: keep the first
            continue
        seen.add(order_id)
        updated = parse(order["LastUpdateDate"]) if order.get("LastUpdateDate") else None
        if order_id in stored and same_instant(stored[order_id], updated):
            skipped += 1
            continue
        items = fetch_order_items(caller, client, order_id)
        records.append(Record(external_id=order_id, data={**order, ITEMS_KEY: items}, updated_at=updated))
    return Page(records=records, state=state, skipped_unchanged=skipped)


def fetch_order_items(caller: SpApiCaller, client: OrdersClient, order_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        response = caller.call("getOrderItems", lambda: client.get_order_items(order_id, **kwargs))
        payload = response.payload or {}
        if not isinstance(payload.get("OrderItems"), list):
            raise IncompleteDataError(f"Amazon answered getOrderItems for order {order_id} without an OrderItems "
                                      f"list; the orders cursor stays where it was.")
        items.extend(payload["OrderItems"])
        token = payload.get("NextToken") or None
        if not token:
            return items

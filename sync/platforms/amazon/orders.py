"""`orders`: the Orders API v2026-01-01 `searchOrders`, every order stored with all its items, as returned.

Window: lastUpdatedAfter = the cursor minus the lookback (first sync: `AMAZON_ORDERS_INITIAL_DAYS` back),
lastUpdatedBefore = the sync's start minus 2.5 minutes (Amazon wants it at least two minutes before the
request; the half minute absorbs clock skew), `maxResultsPerPage` = `AMAZON_ORDERS_PAGE_SIZE`, `includedData`
= the tuning's sections (FULFILLMENT and PROCEEDS by default, BUYER / RECIPIENT only when asked for). Each
order carries its `orderItems`, so there is no per-order call at all (v0 needed one getOrderItems call per
order, at 0.5/s).

Pages: the next one is asked with `paginationToken` and every other parameter sent again unchanged, as the
model requires. Amazon promises no order of results, so the cursor (`last_updated_before`) moves only with
the window's last page. Every earlier page commits the window's position instead (`window`: its bounds, the
marketplaces and the token for the next page): a killed backfill resumes at its last committed page, and a
token that no longer works (it lives 24 hours) makes the window be read again from its start, which dedup
absorbs. `AMAZON_ORDERS_WINDOW_DAYS` can cut a long first window into slices, each one costing at least
one call of searchOrders' 0.0056/s.

Errors: an answer without an `orders` list, or an order without `orderId` or `orderItems`, stops the data
type with the cursor where it was (nothing half-read is stored as complete). A 403 while personal data is
asked for fails the data type naming the roles it needs; without personal data it skips the data type
(the app lacks the orders role).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from ...errors import DataTypeSkipped, IncompleteDataError, PlatformError
from ..paging import NextPages
from ...models import Cursor, Page, Record, StreamRequest
from . import census
from .calls import AmazonForbidden, AmazonRefused, SpApiCaller
from .client import OrdersClient
from ...timeutil import iso_z as iso, parse, utcnow
from .options import AmazonOptions

log = logging.getLogger("sync.platforms.amazon")

VISIBILITY_LAG = timedelta(minutes=2, seconds=30)
# A paginationToken expires 24 hours after it was issued; an older saved one is not even tried.
TOKEN_LIFETIME = timedelta(hours=23, minutes=30)
SECTION_ROLES = {
    "BUYER": "Tax Invoicing (Restricted), Tax Remittance (Restricted) or Direct-to-Consumer Shipping (Restricted)",
    "RECIPIENT": "Direct-to-Consumer Shipping (Restricted)",
}


@dataclass(frozen=True)
class Window:
    """One searchOrders listing: its bounds, and where to resume it (a token from a committed page)."""

    after: datetime
    before: datetime
    token: str | None = None


def _pending(state: dict[str, Any], marketplace_ids: list[str], now: datetime, before: datetime) -> Window | None:
    """The window a stopped sync left half-read, when its saved position is still usable."""
    saved = state.get("window")
    if not isinstance(saved, dict):
        return None
    try:
        window = Window(parse(saved["after"]), parse(saved["before"]))
        issued = parse(saved["issued_at"]) if saved.get("issued_at") else None
    except (KeyError, TypeError, ValueError):
        return None
    if window.before > before or window.after > window.before:
        return None  # a clock gone backwards or a hand edit: start from the cursor instead
    token = saved.get("token")
    # The token only works with the very same parameters: another marketplace list, or too old, starts over.
    if (isinstance(token, str) and token and saved.get("marketplace_ids") == marketplace_ids
            and issued is not None and now - issued < TOKEN_LIFETIME):
        return Window(window.after, window.before, token)
    return window


def slices(after: datetime, before: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """The window cut into consecutive slices of `days` (0: one slice), oldest first."""
    if days <= 0:
        return [(after, before)]
    out = []
    step = timedelta(days=days)
    start = after
    while start + step < before:
        out.append((start, start + step))
        start += step
    out.append((start, before))
    return out


def plan_windows(request: StreamRequest, tuning: AmazonOptions, marketplace_ids: list[str],
                 now: datetime) -> tuple[list[Window], str | None]:
    """The windows this sync reads, oldest first, and the cursor it starts from."""
    stream = request.cursor
    before = min(request.started_at, now) - VISIBILITY_LAG
    cursor = stream.raw if stream.value is not None else None
    windows: list[Window] = []
    pending = _pending(stream.state, marketplace_ids, now, before)
    since = stream.since()
    if pending is not None:
        windows.append(pending)
        start = pending.before - stream.lookback
    elif since is not None:
        start = since
    else:
        start = before - timedelta(days=tuning.orders_initial_days)
    start = min(start, before)
    if pending is None or pending.before < before:
        windows += [Window(a, b) for a, b in slices(start, before, tuning.orders_window_days)]
    return windows, cursor


def fetch_orders(caller: SpApiCaller, client: OrdersClient, request: StreamRequest, marketplace_ids: list[str],
                 tuning: AmazonOptions, now: Callable[[], datetime] = utcnow
                 ) -> Iterator[Page]:
    windows, cursor = plan_windows(request, tuning, marketplace_ids, now())
    seen: set[str] = set()
    # When this sync lists the whole window (no half-read one resumed), its count goes to the audit
    # with the last page (the one of the last window without a next token).
    whole = bool(windows) and windows[0].token is None
    try:
        for index, window in enumerate(windows):
            for page in census.collect(_read_window(caller, client, window, request.cursor, cursor, marketplace_ids,
                                                    tuning, now), seen):
                if whole and index == len(windows) - 1 and "window" not in (page.state or {}):
                    page.census = census.window_count(seen, windows[0].after, windows[-1].before)
                yield page
            cursor = iso(window.before)
    except AmazonForbidden as exc:
        if tuning.personal_sections:
            needs = "; ".join(f"{s} needs {SECTION_ROLES[s]}" for s in tuning.personal_sections)
            raise PlatformError(
                f"Amazon denied searchOrders (403 {exc.code or 'Unauthorized'}) with the personal data asked for "
                f"(includedData {', '.join(tuning.personal_sections)}): {needs}. Request the role for the app "
                f"in the developer profile and authorize the app again, or remove it from "
                f"AMAZON_ORDERS_PERSONAL_DATA.") from None
        raise DataTypeSkipped(
            f"{exc} Grant the app the 'Inventory and Order Tracking' role and authorize it again.") from None


def _read_window(caller: SpApiCaller, client: OrdersClient, window: Window, stream: Cursor, cursor: str | None,
                 marketplace_ids: list[str], tuning: AmazonOptions, now: Callable[[], datetime]) -> Iterator[Page]:
    params: dict[str, Any] = {"lastUpdatedAfter": iso(window.after), "lastUpdatedBefore": iso(window.before),
                              "marketplaceIds": list(marketplace_ids), "maxResultsPerPage": tuning.orders_page_size,
                              "includedData": list(tuning.included_data)}
    token = window.token
    restarted = False
    pages = NextPages("Amazon searchOrders")
    pages.next(token)
    while True:
        # A next page sends every parameter again, unchanged, with the token (the model's rule).
        call = {**params, "paginationToken": token} if token else dict(params)
        try:
            response = caller.call("searchOrders", lambda: client.search_orders(**call))
        except AmazonRefused as exc:
            if not token or exc.status != 400 or restarted:
                raise
            log.warning("Amazon refused the saved searchOrders paginationToken (%s %s); reading the orders updated "
                        "from %s to %s again from the start", exc.status, exc.code, params["lastUpdatedAfter"],
                        params["lastUpdatedBefore"])
            token, restarted = None, True
            pages.restart()
            continue
        orders = _orders(response)
        records = [_record(order) for order in orders]
        token = pages.next(_next_token(response))
        if token:
            position = {"after": params["lastUpdatedAfter"], "before": params["lastUpdatedBefore"],
                        "marketplace_ids": list(marketplace_ids), "token": token, "issued_at": iso(now())}
            yield Page(records=records, state=stream.at(cursor, window=position) if cursor else {"window": position})
        else:
            yield Page(records=records, state=stream.at(params["lastUpdatedBefore"]))
            return


def _orders(response: Any) -> list[dict[str, Any]]:
    payload = response.payload if isinstance(getattr(response, "payload", None), dict) else {}
    orders = payload.get("orders")
    if not isinstance(orders, list):
        raise IncompleteDataError("Amazon answered searchOrders without an orders list; the orders cursor stays "
                                  "where it was and the next sync reads the window again.")
    return orders


def _next_token(response: Any) -> str | None:
    # python-amazon-sp-api keeps a top-level `pagination` object apart from the payload.
    pagination = getattr(response, "pagination", None) or (response.payload or {}).get("pagination") or {}
    token = pagination.get("nextToken") if isinstance(pagination, dict) else None
    return str(token) if token else None


def _record(order: Any) -> Record:
    order_id = order.get("orderId") if isinstance(order, dict) else None
    if not isinstance(order_id, str) or not order_id or not isinstance(order.get("orderItems"), list):
        raise IncompleteDataError("Amazon answered searchOrders with an order lacking its orderId or orderItems; "
                                  "the orders cursor stays where it was and the next sync reads the window again.")
    updated = order.get("lastUpdatedTime")
    try:
        updated_at = parse(updated) if isinstance(updated, str) else None
    except ValueError:
        updated_at = None
    return Record(external_id=order_id, data=order, updated_at=updated_at)

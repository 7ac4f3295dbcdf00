"""The emulator's Orders operations: v2026-01-01 (`searchOrders`, `getOrder`) and the deprecated v0 reads.

Both versions serve the same seeded orders (`order_shapes`). The rules follow the models in
`tests/reference/amazon-sp-api/`:

- searchOrders: exactly one of `createdAfter` / `lastUpdatedAfter`; the created and last-updated filters
  exclude each other; a `...Before` bound must not precede its `...After` and must be at least two minutes
  before the request (default: two minutes before it); `maxResultsPerPage` 1-100 (default 100); at most 50
  `marketplaceIds`; list parameters checked against their enums; an unknown parameter is refused. A next
  page is asked with `paginationToken` and every other parameter "with the same values that were provided
  with the request that generated this token, with the exception of maxResultsPerPage and includedData";
  a token expires after 24 hours (`pagination_token_ttl`). Results come in no date order (by id here).
- "This API does not display order data that is more than two years old, except in the JP, AU, and SG
  marketplaces": older orders are not served by either version.
- Personal data by role, without a Restricted Data Token: `includedData=BUYER` needs Tax Invoicing, Tax
  Remittance or Direct-to-Consumer Shipping; `RECIPIENT` needs Direct-to-Consumer Shipping. A seller's app
  without the role gets 403 for the whole request (`Seller.roles`).
- v0 (served only when the emulator's v0 Orders API is not switched off): getOrders, getOrder, getOrderItems,
  getOrderBuyerInfo, getOrderAddress, getOrderItemsBuyerInfo, without personal data.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from .faults import TOKEN_FAULTS, FaultPlan
from .next_tokens import NextTokens
from .order_shapes import FULFILLMENT_STATUSES, INCLUDED_DATA, fulfilled_by, status, to_v2026
from .params import ApiError, bad, csv, date, int_param, one, parse_time
from .seed import MARKETPLACES, iso

if TYPE_CHECKING:
    from .server import Seller

ORDERS_VISIBILITY_LAG = timedelta(minutes=2)  # "at least two minutes before the time of the request"
HISTORY = timedelta(days=730)  # the two years the Orders API shows
FULL_HISTORY_COUNTRIES = ("JP", "AU", "SG")

ROLE_ORDERS = "Inventory and Order Tracking"
ROLE_DIRECT_TO_CONSUMER = "Direct-to-Consumer Shipping (Restricted)"
ROLE_TAX_INVOICING = "Tax Invoicing (Restricted)"
ROLE_TAX_REMITTANCE = "Tax Remittance (Restricted)"
# Any one of these lets an app read orders ("Get orders with filtering criteria", prerequisites).
ORDER_ROLES = {"Amazon Fulfillment", "Buyer Communication", "Buyer Solicitation", "Finance and Accounting",
               ROLE_ORDERS, "Pricing", "Product Listing", "Professional Services (Restricted)",
               "Selling Partner Insights", ROLE_DIRECT_TO_CONSUMER, ROLE_TAX_INVOICING, ROLE_TAX_REMITTANCE}
SECTION_ROLES = {"BUYER": (ROLE_TAX_INVOICING, ROLE_TAX_REMITTANCE, ROLE_DIRECT_TO_CONSUMER),
                 "RECIPIENT": (ROLE_DIRECT_TO_CONSUMER,)}
DEFAULT_ROLES = frozenset({ROLE_ORDERS, ROLE_DIRECT_TO_CONSUMER})

SEARCH_PARAMETERS = {"createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore",
                     "fulfillmentStatuses", "marketplaceIds", "fulfilledBy", "maxResultsPerPage",
                     "paginationToken", "includedData"}
# What a next page may change; every other parameter must be sent again with its first value.
CHANGEABLE = {"maxResultsPerPage", "includedData", "paginationToken"}


def _denied(details: str) -> ApiError:
    return ApiError(403, "Unauthorized", "Access to requested resource is denied.", details)


def visible(order: dict[str, Any], now: datetime) -> bool:
    country = MARKETPLACES.get(order["MarketplaceId"], {}).get("countryCode")
    return country in FULL_HISTORY_COUNTRIES or parse_time(order["PurchaseDate"]) >= now - HISTORY


class OrdersApi:
    def __init__(self, tokens: NextTokens, faults: FaultPlan, *, pagination_token_ttl: float,
                 served_items: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self.tokens, self.faults, self.clock = tokens, faults, clock
        self.pagination_token_ttl = pagination_token_ttl
        self._served_items = served_items  # records each order whose items v0 served (counters)

    # ----- v2026-01-01 -----------------------------------------------------------------------------------
    def _included(self, seller: "Seller", query: dict[str, list[str]]) -> list[str]:
        included = csv(query, "includedData")
        unknown = [v for v in included if v not in INCLUDED_DATA]
        if unknown:
            raise bad(f"Invalid includedData value: {unknown[0]}.", f"Allowed values: {', '.join(INCLUDED_DATA)}.")
        if not seller.roles & ORDER_ROLES:
            raise _denied("The application has no role that grants access to orders.")
        for section, roles in SECTION_ROLES.items():
            if section in included and not seller.roles & set(roles):
                raise _denied(f"includedData {section} requires the {' or '.join(roles)} role.")
        return included

    def _marketplaces(self, seller: "Seller", query: dict[str, list[str]]) -> list[str]:
        ids = csv(query, "marketplaceIds")
        if len(ids) > 50:
            raise bad("Too many marketplaceIds: at most 50 are allowed.")
        for m in ids:
            if m not in seller.marketplaces:
                raise bad(f"Invalid marketplaceIds value: {m}.", "The seller does not participate in this marketplace.")
        return ids or list(seller.marketplaces)

    def _selection(self, seller: "Seller", query: dict[str, list[str]], now: datetime) -> dict[str, Any]:
        """The ids a first page's filters select, and the bound the answer names."""
        latest = now - ORDERS_VISIBILITY_LAG
        created_after, created_before = date(query, "createdAfter"), date(query, "createdBefore")
        updated_after, updated_before = date(query, "lastUpdatedAfter"), date(query, "lastUpdatedBefore")
        if (created_after is None) == (updated_after is None):
            raise bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        if created_after is not None and (updated_after is not None or updated_before is not None):
            raise bad("lastUpdatedAfter and lastUpdatedBefore cannot be provided when createdAfter is provided.")
        if updated_after is not None and created_before is not None:
            raise bad("createdAfter and createdBefore cannot be provided when lastUpdatedAfter is provided.")
        created = created_after is not None
        after, before = (created_after, created_before) if created else (updated_after, updated_before)
        after_name, before_name = ("createdAfter", "createdBefore") if created else ("lastUpdatedAfter",
                                                                                     "lastUpdatedBefore")
        if before is None:
            if after > latest:
                raise bad(f"{after_name} must be at least two minutes before the time of the request.")
            before = latest
        elif before > latest:
            raise bad(f"{before_name} must be at least two minutes before the time of the request.")
        elif before < after:
            raise bad(f"{before_name} must be equal to or after {after_name}.")
        statuses = set(csv(query, "fulfillmentStatuses"))
        if statuses - set(FULFILLMENT_STATUSES):
            raise bad(f"Invalid fulfillmentStatuses value: {sorted(statuses - set(FULFILLMENT_STATUSES))[0]}.")
        parties = set(csv(query, "fulfilledBy"))
        if parties - {"MERCHANT", "AMAZON"}:
            raise bad(f"Invalid fulfilledBy value: {sorted(parties - {'MERCHANT', 'AMAZON'})[0]}.")
        marketplaces = set(self._marketplaces(seller, query))
        field = "PurchaseDate" if created else "LastUpdateDate"
        orders = seller.seeder.data.orders
        ids = sorted(oid for oid, o in orders.items()
                     if o["MarketplaceId"] in marketplaces and visible(o, now)
                     and after <= parse_time(o[field]) <= before
                     and (not statuses or status(o) in statuses)
                     and (not parties or fulfilled_by(o) in parties))
        return {"ids": ids, "bound": (before_name, iso(before))}

    def search_orders(self, seller: "Seller", query: dict[str, list[str]]) -> dict[str, Any]:
        unknown = sorted(set(query) - SEARCH_PARAMETERS)
        if unknown:
            raise bad(f"Unknown parameter: {unknown[0]}.")
        included = self._included(seller, query)
        page_size = int_param(query, "maxResultsPerPage", 100, 1, 100)
        filters = {k: ",".join(csv(query, k)) for k in sorted(set(query) - CHANGEABLE)}
        token = one(query, "paginationToken")
        if token:
            state = self.tokens.get(token, "search", "paginationToken")
            if (self.clock() - state["issued"] > self.pagination_token_ttl
                    or self.faults.take("searchOrders", TOKEN_FAULTS)):
                raise bad("The paginationToken has expired.",
                          "A paginationToken is valid for 24 hours; send the request again without it.")
            if state["filters"] != filters or state["seller"] != seller.seller_id:
                raise bad("The paginationToken does not match the request.",
                          "Send every parameter but maxResultsPerPage and includedData with the values of the "
                          "request that generated the paginationToken.")
        else:
            state = {"kind": "search", "seller": seller.seller_id, "filters": filters, "offset": 0,
                     **self._selection(seller, query, datetime.now(timezone.utc))}
        data = seller.seeder.data
        ids, offset = state["ids"], state["offset"]
        page = [oid for oid in ids[offset:offset + page_size] if oid in data.orders]
        out: dict[str, Any] = {"orders": [to_v2026(data.orders[oid], data.items[oid], included) for oid in page],
                               state["bound"][0]: state["bound"][1]}
        if offset + page_size < len(ids):
            out["pagination"] = {"nextToken": self.tokens.issue({**state, "offset": offset + page_size})}
        return out

    def get_order(self, seller: "Seller", order_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        unknown = sorted(set(query) - {"includedData"})
        if unknown:
            raise bad(f"Unknown parameter: {unknown[0]}.")
        included = self._included(seller, query)
        data = seller.seeder.data
        order = data.orders.get(order_id)
        if order is None or not visible(order, datetime.now(timezone.utc)):
            raise ApiError(404, "NotFound", "The requested order was not found.", f"orderId {order_id}")
        return {"order": to_v2026(order, data.items[order_id], included)}

    # ----- v0 (deprecated; served only while not switched off) -------------------------------------------
    def _v0_order(self, seller: "Seller", order_id: str) -> dict[str, Any]:
        order = seller.seeder.data.orders.get(order_id)
        if order is None or not visible(order, datetime.now(timezone.utc)):
            raise ApiError(404, "NotFound", "Invalid AmazonOrderId.", f"Order {order_id} does not exist.")
        return order

    def v0_get_orders(self, seller: "Seller", query: dict[str, list[str]]) -> dict[str, Any]:
        marketplaces = csv(query, "MarketplaceIds")
        if not marketplaces:
            raise bad("MarketplaceIds is required.", "Missing required parameter MarketplaceIds.")
        if len(marketplaces) > 50:
            raise bad("Too many MarketplaceIds: at most 50 are allowed.")
        for m in marketplaces:
            if m not in seller.marketplaces:
                raise bad(f"Invalid MarketplaceIds value: {m}.", "The seller does not participate in this marketplace.")
        page_size = int_param(query, "MaxResultsPerPage", 100, 1, 100)
        token = one(query, "NextToken")
        data = seller.seeder.data
        if token:
            state = self.tokens.get(token, "v0.orders", "NextToken")
            page_size = state["page_size"]
        else:
            now = datetime.now(timezone.utc)
            latest = now - ORDERS_VISIBILITY_LAG
            created_after, created_before = date(query, "CreatedAfter"), date(query, "CreatedBefore")
            updated_after, updated_before = date(query, "LastUpdatedAfter"), date(query, "LastUpdatedBefore")
            if created_after is None and updated_after is None:
                raise bad("Either CreatedAfter or LastUpdatedAfter must be specified.")
            if created_after is not None and (updated_after is not None or updated_before is not None):
                raise bad("LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set.")
            if updated_after is not None and (created_after is not None or created_before is not None):
                raise bad("CreatedAfter and CreatedBefore cannot be set when LastUpdatedAfter is set.")
            field_name, after, before = (("PurchaseDate", created_after, created_before) if created_after
                                         else ("LastUpdateDate", updated_after, updated_before))
            before_name = "CreatedBefore" if created_after else "LastUpdatedBefore"
            if after > latest:
                raise bad(f"{'CreatedAfter' if created_after else 'LastUpdatedAfter'} must be at least "
                          f"two minutes before the current time.")
            if before is None:
                before = latest
            elif before > latest:
                raise bad(f"{before_name} must be at least two minutes before the current time.")
            elif before < after:
                raise bad(f"{before_name} must be equal to or after "
                          f"{'CreatedAfter' if created_after else 'LastUpdatedAfter'}.")
            statuses = set(csv(query, "OrderStatuses"))
            ids = sorted(oid for oid, o in data.orders.items()
                         if o["MarketplaceId"] in marketplaces and visible(o, now)
                         and after <= parse_time(o[field_name]) <= before
                         and (not statuses or o["OrderStatus"] in statuses))
            state = {"kind": "v0.orders", "ids": ids, "offset": 0, "page_size": page_size,
                     "bound": (before_name, iso(before))}
        ids, offset = state["ids"], state["offset"]
        page = ids[offset:offset + page_size]
        payload: dict[str, Any] = {"Orders": [dict(data.orders[oid]) for oid in page if oid in data.orders],
                                   state["bound"][0]: state["bound"][1]}
        if offset + page_size < len(ids):
            payload["NextToken"] = self.tokens.issue({**state, "offset": offset + page_size})
        return {"payload": payload}

    def v0_get_order(self, seller: "Seller", order_id: str) -> dict[str, Any]:
        return {"payload": dict(self._v0_order(seller, order_id))}

    def v0_get_order_items(self, seller: "Seller", order_id: str, query: dict[str, list[str]],
                           page_size: int) -> dict[str, Any]:
        token = one(query, "NextToken")
        offset = 0
        if token:
            state = self.tokens.get(token, "v0.items", "NextToken")
            if state["order_id"] != order_id:
                raise bad("Invalid NextToken.", "The NextToken belongs to another order.")
            offset = state["offset"]
        self._v0_order(seller, order_id)
        self._served_items(order_id)
        items = seller.seeder.data.items[order_id]
        payload: dict[str, Any] = {"AmazonOrderId": order_id,
                                   "OrderItems": [dict(i) for i in items[offset:offset + page_size]]}
        if offset + page_size < len(items):
            payload["NextToken"] = self.tokens.issue({"kind": "v0.items", "order_id": order_id,
                                                      "offset": offset + page_size})
        return {"payload": payload}

    def v0_get_order_buyer_info(self, seller: "Seller", order_id: str) -> dict[str, Any]:
        self._v0_order(seller, order_id)
        return {"payload": {"AmazonOrderId": order_id}}  # personal data needed a Restricted Data Token

    def v0_get_order_address(self, seller: "Seller", order_id: str) -> dict[str, Any]:
        self._v0_order(seller, order_id)
        return {"payload": {"AmazonOrderId": order_id}}

    def v0_get_order_items_buyer_info(self, seller: "Seller", order_id: str) -> dict[str, Any]:
        self._v0_order(seller, order_id)
        items = seller.seeder.data.items[order_id]
        return {"payload": {"AmazonOrderId": order_id, "OrderItems": [{"OrderItemId": i["OrderItemId"]}
                                                                      for i in items]}}

"""One emulated shop: its data, its access token, its leaky bucket, its bulk operations, its counters."""

from __future__ import annotations

import collections
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from graphql import GraphQLSchema

from . import bulk
from .bulk import BulkOp, LoggedOperation, check_bulk_query
from .data import ShopData
from .search import numeric_id


# The scopes an app syncing every data type is granted (README, "Shopify and Amazon"), read_all_orders included.
ALL_SCOPES = ("read_all_orders", "read_customers", "read_inventory", "read_locations", "read_orders", "read_products")
ORDERS_WINDOW = timedelta(days=60)  # what read_orders alone shows (shopify.dev, the Order object)


class LeakyBucket:
    """Shopify's cost bucket: requested cost is taken up front, the unused part refunded after."""

    def __init__(self, size: float, restore_rate: float):
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self.available = float(size)
        self.at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.size, self.available + (now - self.at) * self.restore_rate)
        self.at = now

    def take(self, cost: float) -> bool:
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self, amount: float) -> None:
        self._refill()
        self.available = min(self.size, self.available + max(0.0, amount))

    def status(self) -> dict[str, float]:
        self._refill()
        return {"maximumAvailable": self.size, "currentlyAvailable": int(self.available),
                "restoreRate": self.restore_rate}


@dataclass
class CostSample:
    at: float  # monotonic
    requested: int
    actual: int
    available_after: float


@dataclass
class ShopStats:
    requests: collections.Counter = field(default_factory=collections.Counter)  # operation name -> answered
    http_status: collections.Counter = field(default_factory=collections.Counter)
    versions: collections.Counter = field(default_factory=collections.Counter)  # API version served -> answers
    throttled: int = 0
    max_cost_exceeded: int = 0
    faults_injected: int = 0
    bulk_started: int = 0
    bulk_downloads: int = 0
    costs: list[CostSample] = field(default_factory=list)
    sent: list[tuple[str, dict]] = field(default_factory=list)  # (operation name, variables) of each request

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class EmulatedShop:
    def __init__(self, domain: str, token: str, data: ShopData, schema: GraphQLSchema, *, bucket_size: float,
                 restore_rate: float, base_url_fn, name: str | None = None):
        self.domain = domain
        self.token = token
        self.data = data
        self.schema = schema
        self.name = name or domain.split(".")[0].replace("-", " ").title()
        self.bucket = LeakyBucket(bucket_size, restore_rate)
        self.denied: dict[str, str] = {}  # root field -> access scope the app lacks
        # The access scopes the merchant granted (currentAppInstallation.accessScopes); without
        # read_all_orders, Shopify shows only the orders of the last 60 days, with no error.
        self.scopes: set[str] = set(ALL_SCOPES)
        self.stats = ShopStats()
        self.bulk_ops: dict[int, BulkOp] = {}
        # The time model of an export: it runs at least `bulk_seconds`, plus its objects at this rate
        # (None: no rate, the start-up alone).
        self.bulk_seconds = 0.2
        self.bulk_objects_per_second: float | None = None
        self.bulk_limit = 5  # query operations running at once (API 2026-01 on)
        self.bulk_shuffle_window = 1000  # ungrouped output: lines shuffled within windows of this many
        self.bulk_cut_short = 0  # drop this many lines from results (the objectCount stays)
        self.bulk_fail = False  # operations end FAILED with a partial result
        self._base_url_fn = base_url_fn
        self.lock = threading.RLock()

    # --- GraphQL-facing views ----------------------------------------------------------------------------
    def sees_order(self, order: dict[str, Any]) -> bool:
        """Whether the app may see this order: any with read_all_orders, else one of the last 60 days."""
        return "read_all_orders" in self.scopes or \
            datetime.fromisoformat(order["createdAt"].replace("Z", "+00:00")) >= datetime.now(timezone.utc) - ORDERS_WINDOW

    def orders(self) -> list[dict[str, Any]]:
        return [order for order in self.data.orders.values() if self.sees_order(order)]

    def app_installation(self) -> dict[str, Any]:
        return {"accessScopes": [{"handle": handle} for handle in sorted(self.scopes)]}

    def shop_info(self) -> dict[str, Any]:
        return {"id": "gid://shopify/Shop/1", "name": self.name, "myshopifyDomain": self.domain,
                "currencyCode": self.data.currency, "ianaTimezone": "America/New_York",
                "plan": {"publicDisplayName": "Basic", "partnerDevelopment": False, "shopifyPlus": False}}

    # --- bulk operations ---------------------------------------------------------------------------------
    def _advance(self, op: BulkOp) -> None:
        bulk.advance(op)

    def _bulk_view(self, op: BulkOp) -> dict[str, Any]:
        self._advance(op)
        return op.view(self._base_url_fn())

    def bulk_view(self, gid: str) -> dict[str, Any] | None:
        kind = gid.split("/")[-2] if gid.count("/") >= 3 else ""
        op = self.bulk_ops.get(numeric_id(gid)) if kind == "BulkOperation" else None
        return self._bulk_view(op) if op is not None else None

    def bulk_views(self) -> list[dict[str, Any]]:
        return [self._bulk_view(op) for op in self.bulk_ops.values()]

    def run_bulk(self, query: str, *, group_objects: bool = False) -> dict[str, Any]:
        running = []
        for op in self.bulk_ops.values():
            self._advance(op)
            if op.status in ("CREATED", "RUNNING"):
                running.append(op)
        if len(running) >= self.bulk_limit:
            # 2026-01 on: five query operations per app and shop; the sixth is refused until one ends.
            return {"bulkOperation": None, "userErrors": [{
                "field": None, "code": "LIMIT_REACHED",
                "message": "Bulk operations limit reached. Please try again later."}]}
        problem = check_bulk_query(self.schema, query)
        if problem:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "code": "INVALID", "message": problem}]}
        number = self.data.new_id()
        op = BulkOp(number=number, query=query, created_at=datetime.now(timezone.utc), started=time.monotonic(),
                    file_token=secrets.token_urlsafe(16), group_objects=group_objects)
        self.bulk_ops[number] = op
        self.stats.bulk_started += 1
        bulk.start(self.schema, self, op)
        return {"bulkOperation": op.view(self._base_url_fn()), "userErrors": []}

    def cancel_bulk(self, gid: str) -> dict[str, Any]:
        op = self.bulk_ops.get(numeric_id(gid))
        if op is None:
            return {"bulkOperation": None, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]}
        if op.status in ("CREATED", "RUNNING"):
            op.status = "CANCELED"
            op.completed_at = datetime.now(timezone.utc)
            op.finished = time.monotonic()
        return {"bulkOperation": op.view(self._base_url_fn()), "userErrors": []}

    def bulk_file(self, token: str) -> tuple[str, int] | None:
        """(path, size) of the result file behind a download token."""
        for op in self.bulk_ops.values():
            if op.file_token == token and op.path and op.status in ("COMPLETED", "FAILED"):
                self.stats.bulk_downloads += 1
                return op.path, op.size
        return None

    def bulk_log(self) -> list[LoggedOperation]:
        """Every bulk operation of this shop: when it started and finished (monotonic), in start order."""
        for op in self.bulk_ops.values():
            self._advance(op)
        return sorted((bulk.log_entry(op) for op in self.bulk_ops.values()), key=lambda e: e.started)

    def discard_bulk_files(self) -> None:
        for op in self.bulk_ops.values():
            if op.status in ("CREATED", "RUNNING"):
                op.status = "CANCELED"
            if op.thread is not None:
                op.thread.join(timeout=30)
            op.discard()

    # --- what the emulator holds, for tests -------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {"orders": len(self.data.orders), "products": len(self.data.products),
                "customers": len(self.data.customers),
                "inventory": sum(len(v) for v in self.data.levels.values())}

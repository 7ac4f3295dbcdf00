"""Bulk operations: run one query over a whole data type on Shopify's side, then stream the JSONL file.

Shopify writes each object on its own line; a nested connection's nodes follow their parent on lines
of their own carrying `__parentId`. We read the file line by line, put children back under their
parent, and count every line: unless the file holds exactly the `objectCount` (and `rootObjectCount`)
the operation announced, the result is incomplete and the stream's cursor must not move. A failed,
cancelled or expired operation is incomplete too. (A widely used connector once advanced its state
past a bulk result it had silently dropped; checking the counts is how we never do that.)
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from ...errors import IncompleteDataError, PlatformError
from . import queries
from .client import AccessDenied, ShopifyClient
from .options import ShopifyOptions

FINISHED = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
log = logging.getLogger("sync.platforms.shopify")


@dataclass(frozen=True)
class BulkOutcome:
    id: str
    status: str
    error_code: str | None
    object_count: int
    root_object_count: int
    url: str | None
    partial_data_url: str | None
    created_at: str | None = None  # when Shopify started the scan: changes after it may be missing


class BulkRunner:
    def __init__(self, client: ShopifyClient, options: ShopifyOptions, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.options = options
        self._sleep = sleep
        self._clock = clock

    def run(self, query: str, what: str) -> BulkOutcome:
        """Start the operation (after any one still running for this app) and wait until it finishes."""
        deadline = self._clock() + self.options.bulk_timeout_seconds
        for _ in range(2):
            payload = self.client.execute(queries.BULK_RUN, {"query": query, "groupObjects": True},
                                          operation="BulkRun")["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            if not errors and payload.get("bulkOperation"):
                log.info("📦 Shopify bulk export of %s started for %s", what, self.client.shop)
                outcome = self._wait(payload["bulkOperation"]["id"], deadline, what)
                log.info("📦 Shopify bulk export of %s for %s ended %s with %d objects", what, self.client.shop,
                         outcome.status, outcome.object_count)
                return outcome
            message = "; ".join(e.get("message", "") for e in errors) or "no operation was created"
            codes = {e.get("code") for e in errors}
            if not codes & {"OPERATION_IN_PROGRESS", "LIMIT_REACHED"} and "already in progress" not in message:
                raise PlatformError(f"Shopify refused the bulk export of {what} for {self.client.shop}: {message}")
            # An earlier run's operation still holds the slot: wait for it.
            log.info("Shopify is still running an earlier bulk export for %s: waiting for it", self.client.shop)
            running = self.client.execute(queries.BULK_RUNNING, operation="BulkRunning")["bulkOperations"]["nodes"]
            for node in running:
                if node["status"] in ("CREATED", "RUNNING"):
                    self._wait(node["id"], deadline, "an earlier bulk export")
        raise PlatformError(f"Shopify kept another bulk export running for {self.client.shop}; "
                            f"the export of {what} will be retried at the next sync")

    def _wait(self, op_id: str, deadline: float, what: str) -> BulkOutcome:
        interval = max(0.01, self.options.bulk_poll_seconds)
        while True:
            node = self.client.execute(queries.BULK_STATUS, {"id": op_id}, operation="BulkStatus")["bulkOperation"]
            if not node:
                raise PlatformError(f"Shopify lost track of the bulk export of {what} for {self.client.shop}")
            if node["status"] in FINISHED:
                return BulkOutcome(id=node["id"], status=node["status"], error_code=node.get("errorCode"),
                                   object_count=int(node.get("objectCount") or 0),
                                   root_object_count=int(node.get("rootObjectCount") or 0),
                                   url=node.get("url"), partial_data_url=node.get("partialDataUrl"),
                                   created_at=node.get("createdAt"))
            if self._clock() + interval > deadline:
                self.client.execute(queries.BULK_CANCEL, {"id": op_id}, operation="BulkCancel")
                raise PlatformError(
                    f"Shopify's bulk export of {what} for {self.client.shop} was still {node['status']} after "
                    f"{self.options.bulk_timeout_seconds:g} s (SHOPIFY_BULK_TIMEOUT_SECONDS); it was cancelled "
                    "and the next sync starts over")
            self._sleep(interval)
            interval = min(30.0, interval * 1.5)


@dataclass
class LineCount:
    objects: int = 0
    roots: int = 0


def parse_lines(lines: Iterable[bytes], count: LineCount) -> Iterator[dict[str, Any]]:
    for raw in lines:
        try:
            row = json.loads(raw)
        except ValueError:
            raise IncompleteDataError("a line of Shopify's bulk result was not JSON (the file is damaged); "
                                      "the cursor stays and the next sync reads again") from None
        count.objects += 1
        if "__parentId" not in row:
            count.roots += 1
        yield row


def _child_key(row: Mapping[str, Any], child_keys: Mapping[str, str]) -> str:
    kind = str(row.get("id", "")).split("/")[-2] if str(row.get("id", "")).count("/") >= 3 else ""
    if kind not in child_keys:
        raise IncompleteDataError(f"Shopify's bulk result held an unexpected child object ({kind or 'no id'})")
    return child_keys[kind]


def assemble(rows: Iterable[dict[str, Any]], child_keys: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Roots with their children back under `child_keys[type]` lists, one root at a time."""
    current: dict[str, Any] | None = None
    for row in rows:
        parent = row.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield current
            current = row
            for key in child_keys.values():
                current.setdefault(key, [])
            continue
        if current is None or current.get("id") != parent:
            raise IncompleteDataError("Shopify's bulk result listed a child away from its parent; "
                                      "the cursor stays and the next sync reads again")
        current[_child_key(row, child_keys)].append(row)
    if current is not None:
        yield current


def children_with_parent(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(parent, child) pairs, for results whose records are the children (inventory levels per location)."""
    current: dict[str, Any] | None = None
    for row in rows:
        parent = row.pop("__parentId", None)
        if parent is None:
            current = row
            continue
        if current is None or current.get("id") != parent:
            raise IncompleteDataError("Shopify's bulk result listed a child away from its parent; "
                                      "the cursor stays and the next sync reads again")
        yield current, row


def check_complete(outcome: BulkOutcome, count: LineCount, what: str, shop: str) -> None:
    if count.objects != outcome.object_count or count.roots != outcome.root_object_count:
        raise IncompleteDataError(
            f"Shopify's bulk export of {what} for {shop} announced {outcome.object_count} objects "
            f"({outcome.root_object_count} top-level) but its file held {count.objects} ({count.roots}); "
            "the records read were kept, the cursor stays and the next sync reads the rest again")


def check_outcome(outcome: BulkOutcome, what: str, shop: str) -> None:
    if outcome.status == "COMPLETED":
        return
    if outcome.error_code == "ACCESS_DENIED":
        raise AccessDenied(f"the bulk export of {what} was denied access")
    partial = " after writing part of its result" if outcome.partial_data_url else ""
    raise IncompleteDataError(
        f"Shopify's bulk export of {what} for {shop} ended {outcome.status}"
        f"{' (' + outcome.error_code + ')' if outcome.error_code else ''}{partial}; "
        "the cursor stays and the next sync tries again")

"""Bulk exports: run queries over whole data types on Shopify's side, several at once, then spool the JSONL.

Since API 2026-01 an app may run five bulk query operations per shop at once. `BulkExports` keeps up to
that many running (`SHOPIFY_BULK_CONCURRENCY`), starts the next as a slot frees, and, when Shopify
refuses one because other operations hold the slots (`LIMIT_REACHED`, or an earlier run's operation),
waits and asks again. One background thread starts and polls the operations; as soon as every part of
an export has completed, a thread of its own downloads the result files into a `Spool` and checks them:
unless the file holds exactly the `objectCount` (and `rootObjectCount`) the operation announced, and
every child's parent, the export is incomplete and nothing of it is handed over (a widely used connector
once advanced its state past a bulk result it had silently dropped; checking the counts is how we never
do that). A failed, cancelled or expired operation is incomplete too. Then the export is *ready*, and
`ready()` hands its key over, in the order exports become ready.

An export may have several parts (the orders of a large shop, split by creation time, use a free slot);
their files go into one spool and count as one data type.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ...errors import IncompleteDataError, PlatformError, SyncError
from . import queries
from .client import AccessDenied, ShopifyClient
from .options import ShopifyOptions
from .spool import LineCount, Spool

FINISHED = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
# From this version on an app may run five bulk query operations per shop at once; before, one.
FIVE_AT_ONCE_SINCE = "2026-01"
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


def outcome_of(node: dict) -> BulkOutcome:
    return BulkOutcome(id=node["id"], status=node["status"], error_code=node.get("errorCode"),
                       object_count=int(node.get("objectCount") or 0),
                       root_object_count=int(node.get("rootObjectCount") or 0),
                       url=node.get("url"), partial_data_url=node.get("partialDataUrl"),
                       created_at=node.get("createdAt"))


def check_complete(outcomes: list[BulkOutcome], count: LineCount, what: str, shop: str) -> None:
    objects = sum(o.object_count for o in outcomes)
    roots = sum(o.root_object_count for o in outcomes)
    if count.objects != objects or count.roots != roots:
        raise IncompleteDataError(
            f"Shopify's bulk export of {what} for {shop} announced {objects} objects ({roots} top-level) but "
            f"its file held {count.objects} ({count.roots}); nothing was stored, the cursor stays and the "
            "next sync reads again")


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


@dataclass
class Export:
    """One data type's export: its parts' queries, then their outcomes and the spooled result."""

    key: str
    queries: list[str]
    outcomes: list[BulkOutcome | None] = field(default_factory=list)
    spool: Spool | None = None
    count: LineCount = field(default_factory=LineCount)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    started: float | None = None  # monotonic, when its first part started

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.queries)


@dataclass
class _Running:
    export: Export
    part: int
    op_id: str
    started: float


class BulkExports:
    """Runs exports on Shopify, up to `concurrency` operations at once, and spools each when it is complete."""

    def __init__(self, client: ShopifyClient, options: ShopifyOptions, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.options = options
        self._sleep = sleep
        self._clock = clock
        self._pending: list[tuple[Export, int]] = []
        self._running: list[_Running] = []
        self._exports: dict[str, Export] = {}
        self._finished: list[Export] = []  # in the order they became ready
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._spoolers: list[threading.Thread] = []
        self._told_busy = False

    @property
    def concurrency(self) -> int:
        version = getattr(self.client, "served_version", None) or getattr(self.client, "api_version", "")
        limit = 5 if version >= FIVE_AT_ONCE_SINCE or version == "unstable" else 1
        return max(1, min(limit, self.options.bulk_concurrency))

    # --- the caller's side ------------------------------------------------------------------------------
    def submit(self, key: str, parts: list[str]) -> Export:
        export = Export(key, list(parts))
        with self._lock:
            self._exports[key] = export
            self._pending += [(export, i) for i in range(len(parts))]
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"shopify-bulk-{self.client.shop}",
                                                daemon=True)
                self._thread.start()
        self._wake.set()
        return export

    def take(self, key: str) -> Export | None:
        """The export of `key`, handed over once (a later export of the same key is a new one)."""
        with self._lock:
            return self._exports.pop(key, None)

    def ready(self, exports: list[Export]) -> Iterator[str]:
        """The keys of these exports, each once, as each becomes ready (complete and spooled, or failed)."""
        waiting = list(exports)
        while waiting:
            with self._changed:
                done = [e for e in self._finished if e in waiting]
                while not done:
                    self._changed.wait()
                    done = [e for e in self._finished if e in waiting]
            for export in done:
                waiting.remove(export)
                yield export.key

    def close(self) -> None:
        """Stop polling, cancel operations still running on Shopify (they would hold the shop's slots), and
        delete the spools."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for spooler in self._spoolers:
            spooler.join(timeout=30)
        for running in list(self._running):
            try:
                self.client.execute(queries.BULK_CANCEL, {"id": running.op_id}, operation="BulkCancel")
            except SyncError:
                pass
        for export in self._finished + list(self._exports.values()):
            if export.spool is not None:
                export.spool.close()
                export.spool = None

    # --- the background thread --------------------------------------------------------------------------
    def _loop(self) -> None:
        base = max(0.01, self.options.bulk_poll_seconds)
        while not self._stop.is_set():
            try:
                self._start_pending()
                self._poll_running()
            except Exception as exc:  # the client's own errors, or a bug: every export waiting fails with it
                self._fail_all(exc)
                return
            if not self._pending and not self._running:
                self._wake.wait()  # idle until another export is submitted (or close())
            else:
                # Poll at a tenth of the time the oldest operation has run: a long export is not polled
                # every half-second, and a finished one is seen within about 10 % of its duration.
                oldest = min((r.started for r in self._running), default=self._clock())
                self._wake.wait(min(30.0, max(base, 0.1 * (self._clock() - oldest))))
            self._wake.clear()

    def _start_pending(self) -> None:
        while self._pending and len(self._running) < self.concurrency and not self._stop.is_set():
            with self._lock:
                export, part = self._pending[0]
            if export.error is not None:
                self._pop()
                continue
            if export.started is None:
                export.started = self._clock()
            elif self._clock() - export.started > self.options.bulk_timeout_seconds:
                self._pop()
                self._finish(export, PlatformError(
                    f"Shopify kept other bulk operations running for {self.client.shop} for "
                    f"{self.options.bulk_timeout_seconds:g} s (SHOPIFY_BULK_TIMEOUT_SECONDS); the export of "
                    f"{export.key} will be tried again at the next sync"))
                continue
            payload = self.client.execute(
                queries.BULK_RUN, {"query": export.queries[part], "groupObjects": self.options.bulk_group_objects},
                operation="BulkRun")["bulkOperationRunQuery"]
            errors = payload.get("userErrors") or []
            if not errors and payload.get("bulkOperation"):
                self._pop()
                self._running.append(_Running(export, part, payload["bulkOperation"]["id"], self._clock()))
                log.info("📦 Shopify bulk export of %s%s started for %s", export.key,
                         f" (part {part + 1} of {len(export.queries)})" if len(export.queries) > 1 else "",
                         self.client.shop)
                continue
            codes = {e.get("code") for e in errors}
            message = "; ".join(e.get("message", "") for e in errors) or "no operation was created"
            if codes & {"LIMIT_REACHED", "OPERATION_IN_PROGRESS"} or "already in progress" in message:
                # Other operations (an earlier run's, another of this app's) hold the slots: ask again
                # at the next poll, when one of them may have ended.
                if not self._running and not self._told_busy:
                    # None of ours: say whose (once; the listing costs points).
                    nodes = self.client.execute(queries.BULK_RUNNING, operation="BulkRunning")["bulkOperations"]["nodes"]
                    busy = [n["id"] for n in nodes if n.get("status") in ("CREATED", "RUNNING")]
                    log.info("Shopify holds no free bulk slot for %s (%s); running: %s. Waiting", self.client.shop,
                             message, ", ".join(busy) or "none listed")
                    self._told_busy = True
                return
            self._pop()
            self._finish(export, PlatformError(
                f"Shopify refused the bulk export of {export.key} for {self.client.shop}: {message}"))

    def _pop(self) -> None:
        with self._lock:
            self._pending.pop(0)

    def _poll_running(self) -> None:
        for running in list(self._running):
            if self._stop.is_set():
                return
            node = self.client.execute(queries.BULK_STATUS, {"id": running.op_id},
                                       operation="BulkStatus")["bulkOperation"]
            export = running.export
            if not node:
                self._running.remove(running)
                self._finish(export, PlatformError(
                    f"Shopify lost track of the bulk export of {export.key} for {self.client.shop}"))
                continue
            if node["status"] in FINISHED:
                self._running.remove(running)
                outcome = outcome_of(node)
                export.outcomes[running.part] = outcome
                log.info("📦 Shopify bulk export of %s for %s ended %s with %d objects", export.key,
                         self.client.shop, outcome.status, outcome.object_count)
                if export.error is None and all(o is not None for o in export.outcomes):
                    self._spool_later(export)
                continue
            if self._clock() - running.started > self.options.bulk_timeout_seconds:
                self._running.remove(running)
                self.client.execute(queries.BULK_CANCEL, {"id": running.op_id}, operation="BulkCancel")
                self._finish(export, PlatformError(
                    f"Shopify's bulk export of {export.key} for {self.client.shop} was still {node['status']} "
                    f"after {self.options.bulk_timeout_seconds:g} s (SHOPIFY_BULK_TIMEOUT_SECONDS); it was "
                    "cancelled and the next sync starts over"))

    def _spool_later(self, export: Export) -> None:
        thread = threading.Thread(target=self._spool, args=(export,), name=f"shopify-spool-{export.key}",
                                  daemon=True)
        self._spoolers.append(thread)
        thread.start()

    def _spool(self, export: Export) -> None:
        """Download and check every part's result file (in this thread, while other exports run)."""
        try:
            for outcome in export.outcomes:
                check_outcome(outcome, export.key, self.client.shop)
            spool = Spool(self.options.spool_dir)
            export.spool = spool
            for outcome in export.outcomes:
                if outcome.url:
                    spool.add(self.client.stream_lines(outcome.url), export.count)
                if self._stop.is_set():
                    raise PlatformError("the sync stopped")
            check_complete(export.outcomes, export.count, export.key, self.client.shop)
            spool.check_orphans(export.key, self.client.shop)
            self._finish(export, None)
        except BaseException as exc:
            self._finish(export, exc)

    def _finish(self, export: Export, error: BaseException | None) -> None:
        if export.done.is_set():
            return
        export.error = error
        if error is not None:
            # Its other parts will not be needed: free their slots.
            for running in [r for r in self._running if r.export is export]:
                self._running.remove(running)
                try:
                    self.client.execute(queries.BULK_CANCEL, {"id": running.op_id}, operation="BulkCancel")
                except SyncError:
                    pass
            if export.spool is not None:
                export.spool.close()
                export.spool = None
        export.done.set()
        with self._changed:
            self._finished.append(export)
            self._changed.notify_all()

    def _fail_all(self, exc: BaseException) -> None:
        for export in list(self._exports.values()):
            self._finish(export, exc)

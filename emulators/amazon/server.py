"""A local SP-API + Login with Amazon emulator: one real HTTP server on loopback.

It serves the operations API Sync uses, following the public models in `tests/reference/amazon-sp-api/`:
paths, parameters and their rules (searchOrders' date and pagination rules, page sizes, marketplace ids),
response envelopes, error bodies (`{"errors": [{"code", "message", "details"}]}`; LWA's `{"error",
"error_description"}`), each operation's usage plan (rate x `time_scale`, burst) with the
`x-amzn-RateLimit-Limit` header, report processing through IN_QUEUE / IN_PROGRESS to DONE, report documents
served from its own host (gzip and windows-1252 for non-US marketplaces), and fault injection.

Orders: the Orders API v2026-01-01 (`searchOrders`, `getOrder`, see `orders_api.py`) and, from the same
seeded orders, the deprecated v0 reads. Amazon removes those on 2027-03-27, and so does the emulator by
default: every v0 Orders request is answered 404 with an SP-API error body (`v0_orders_removed=False`
serves them again), counted in `counters.calls` under `v0.<operationId>` and in the process-wide
`ledger.V0_ORDERS_LEDGER`, which the test suite checks is empty once every test has run.

Tests and the `--sandbox` demo use `AmazonEmulator`; nothing here talks to anything but loopback.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets as _secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .buckets import Buckets
from .. import http_faults
from .faults import ERROR_FAULTS, FaultPlan
from .ledger import V0_ORDERS_LEDGER, V0Ledger
from .limits import V0_ORDERS_OPERATIONS
from .next_tokens import NextTokens
from .order_shapes import to_v2026
from .orders_api import DEFAULT_ROLES, ORDERS_VISIBILITY_LAG, OrdersApi, visible
from .params import ApiError, bad as _bad, csv as _csv, date as _date, int_param as _int_param, one as _one
from .params import parse_time as _parse
from . import deletions
from .seed import LISTING_COLUMNS, MARKETPLACES, SellerSeeder, iso

DEMO_LWA_APP_ID = "amzn1.application-oa2-client.sandbox0000000000000000000000"
DEMO_LWA_CLIENT_SECRET = "amzn1.oa2-cs.v1.sandboxsecret0000000000000000000000000000000000000000"
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
SUPPORTED_REPORTS = (LISTINGS_REPORT,)
UTF8_COUNTRIES = ("US", "CA", "GB")  # the others get windows-1252 documents, as Amazon's EU reports are


@dataclass
class Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    created: datetime
    created_mono: float
    outcome: str  # DONE, FATAL or CANCELLED once processing ends
    document_id: str | None = None


@dataclass
class Document:
    document_id: str
    body: bytes
    content_type: str
    compressed: bool


@dataclass
class Seller:
    refresh_token: str
    seller_id: str
    lwa_app_id: str
    lwa_client_secret: str
    marketplaces: list[str]
    seeder: SellerSeeder
    fba: bool | list[str] = True  # True, False, or the marketplaces enrolled in FBA
    revoked: bool = False
    report_outcome: str = "DONE"
    report_outcomes: dict[str, str] = field(default_factory=dict)  # marketplace -> outcome, over report_outcome
    reports: dict[str, Report] = field(default_factory=dict)
    compress_documents: bool | None = None  # None: gzip the non-UTF-8 (European) documents only
    # The roles the seller's app holds (Orders: personal data needs restricted roles; see orders_api).
    roles: set[str] = field(default_factory=lambda: set(DEFAULT_ROLES))


@dataclass
class Counters:
    calls: dict[str, int] = field(default_factory=dict)  # operation -> requests that reached it
    throttled: dict[str, int] = field(default_factory=dict)  # operation -> 429 answers (metered or injected)
    order_items_ids: list[str] = field(default_factory=list)  # AmazonOrderId of each served v0 getOrderItems
    created_reports: int = 0

    def v0_orders(self) -> int:
        """Requests that reached an Orders API v0 operation (served or answered as removed)."""
        return sum(self.calls.get(op, 0) for op in V0_ORDERS_OPERATIONS)

    def as_dict(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "throttled": dict(self.throttled),
                "order_items_ids": list(self.order_items_ids), "created_reports": self.created_reports}


class AmazonEmulator:
    """The emulator. Use as a context manager, or `start()` / `stop()`.

    time_scale: every documented rate is multiplied by it (bursts stay), so `time_scale=60` runs an
        hour of real pacing in a minute with the same shape.
    report_processing_seconds: how long a report spends in IN_QUEUE + IN_PROGRESS before its outcome.
    order_items_page_size / inventory_page_size: page sizes of v0 getOrderItems / getInventorySummaries.
    next_token_ttl: seconds an inventory nextToken lives (Amazon: 30).
    pagination_token_ttl: seconds a searchOrders paginationToken lives (Amazon: 24 hours).
    v0_orders_removed: answer every Orders API v0 operation as removed (HTTP 404), as Amazon does from
        2027-03-27; `set_v0_orders_removed` flips it.
    ledger: where v0 Orders requests are counted besides `counters`: by default the process-wide ledger
        the test suite checks; None (or another ledger) only for the emulator's own tests of its v0 answers.
    fresh_margin: how far in the past mutations are stamped; must exceed the Orders API's two-minute lag
        so a change is visible to the next sync at once.
    anchor: seeded timestamps count back from it (default: the start of the current UTC day), so the
        same seller seeded twice the same day is the same data.
    """

    def __init__(self, *, time_scale: float = 1.0, report_processing_seconds: float = 0.3,
                 order_items_page_size: int = 100, inventory_page_size: int = 50,
                 next_token_ttl: float = 30.0, pagination_token_ttl: float = 86400.0,
                 v0_orders_removed: bool = True, ledger: V0Ledger | None = V0_ORDERS_LEDGER,
                 fresh_margin: timedelta = timedelta(minutes=3),
                 access_token_ttl: int = 3600, anchor: datetime | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        if fresh_margin <= ORDERS_VISIBILITY_LAG:
            raise ValueError("fresh_margin must exceed two minutes, or searchOrders would hide fresh changes")
        self.time_scale = time_scale
        self.report_processing_seconds = report_processing_seconds
        self.order_items_page_size = order_items_page_size
        self.inventory_page_size = inventory_page_size
        self.next_token_ttl = next_token_ttl
        self.fresh_margin = fresh_margin
        self.access_token_ttl = access_token_ttl
        self.anchor = anchor or datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        self.faults = FaultPlan()
        self.counters = Counters()
        self._buckets = Buckets(time_scale)
        self._sellers: dict[str, Seller] = {}  # by refresh token
        self._access_tokens: dict[str, tuple[str, float]] = {}  # token -> (refresh token, expiry mono)
        self.v0_orders_removed = v0_orders_removed
        self._ledger = ledger
        self._tokens = NextTokens()
        self._orders = OrdersApi(self._tokens, self.faults, pagination_token_ttl=pagination_token_ttl,
                                 served_items=self._served_items)
        self._documents: dict[str, tuple[Document, float]] = {}  # id -> (doc, url issued at mono)
        self._lock = threading.RLock()
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "AmazonEmulator":
        if self._server is None:
            self._server = ThreadingHTTPServer((self._host, self._port), _Handler)
            self._server.daemon_threads = True
            self._server.emulator = self  # type: ignore[attr-defined]
            # A short poll interval: stop() returns at once instead of after up to half a second.
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="amazon-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "AmazonEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def sp_api_base_url(self) -> str:
        return self.url

    @property
    def lwa_token_url(self) -> str:
        return f"{self.url}/auth/o2/token"

    # ----- seeding and mutation -------------------------------------------------------------------
    def add_seller(self, refresh_token: str, *, orders: int = 0, listings: int = 0, fba: bool | list[str] = True,
                   marketplaces: list[str] | tuple[str, ...] = ("ATVPDKIKX0DER",),
                   lwa_app_id: str = DEMO_LWA_APP_ID, lwa_client_secret: str = DEMO_LWA_CLIENT_SECRET,
                   seller_id: str | None = None, compress_documents: bool | None = None,
                   order_days: float = 90, roles: set[str] | None = None) -> Seller:
        """A seeded seller: `orders` placed over the last `order_days` (ending an hour before the anchor),
        `listings` per marketplace, FBA inventory where `fba` says; `roles` its app holds (default: orders
        and Direct-to-Consumer Shipping, so personal data is granted when asked)."""
        unknown = [m for m in marketplaces if m not in MARKETPLACES]
        if unknown:
            raise ValueError(f"unknown marketplace ids {unknown}; known: {sorted(MARKETPLACES)}")
        seeder = SellerSeeder(refresh_token, list(marketplaces), fresh_margin=self.fresh_margin, anchor=self.anchor)
        seeder.seed_listings(listings, [m for m in marketplaces if _enrolled(fba, m)])
        seeder.seed_orders(orders, days=order_days)
        seller = Seller(refresh_token=refresh_token,
                        seller_id=seller_id or f"A{uuid.uuid5(uuid.NAMESPACE_OID, refresh_token).hex[:13].upper()}",
                        lwa_app_id=lwa_app_id, lwa_client_secret=lwa_client_secret,
                        marketplaces=list(marketplaces), seeder=seeder, fba=fba,
                        compress_documents=compress_documents,
                        roles=set(DEFAULT_ROLES if roles is None else roles))
        with self._lock:
            self._sellers[refresh_token] = seller
        return seller

    def seller(self, refresh_token: str) -> Seller:
        return self._sellers[refresh_token]

    def change_orders(self, refresh_token: str, count: int) -> list[str]:
        with self._lock:
            return self.seller(refresh_token).seeder.change_orders(count)

    def add_orders(self, refresh_token: str, count: int) -> list[str]:
        with self._lock:
            return self.seller(refresh_token).seeder.add_orders(count)

    def counts(self, refresh_token: str) -> dict[str, int]:
        """What a complete sync must store: orders, listings rows and inventory summaries."""
        data = self.seller(refresh_token).seeder.data
        return {"orders": len(data.orders),
                "products": sum(len(rows) for rows in data.listings.values()),
                "inventory": sum(len(s) for m, s in data.inventory.items()
                                 if _enrolled(self.seller(refresh_token).fba, m))}

    def orders_v0(self, refresh_token: str) -> dict[str, dict[str, Any]]:
        """Every order in the v0 shape as the project stored it before v2026: the order with `OrderItems`."""
        data = self.seller(refresh_token).seeder.data
        return {oid: {**order, "OrderItems": [dict(i) for i in data.items[oid]]}
                for oid, order in data.orders.items()}

    def orders_v2026(self, refresh_token: str, included: tuple[str, ...] = ("FULFILLMENT", "PROCEEDS")
                     ) -> dict[str, dict[str, Any]]:
        """Every order searchOrders shows, as it returns them with this `includedData`."""
        data = self.seller(refresh_token).seeder.data
        now = datetime.now(timezone.utc)
        return {oid: to_v2026(order, data.items[oid], included) for oid, order in data.orders.items()
                if visible(order, now)}

    def set_roles(self, refresh_token: str, roles: set[str]) -> None:
        """The roles the seller's app holds from now on (e.g. without Direct-to-Consumer Shipping)."""
        self.seller(refresh_token).roles = set(roles)

    def set_v0_orders_removed(self, removed: bool) -> None:
        self.v0_orders_removed = removed

    # ----- faults -----------------------------------------------------------------------------------
    def inject(self, kind: str, operation: str = "*", times: int = 1, delay: float = 0.0, after: int = 0) -> None:
        """Next `times` requests to `operation` ("*" = any, "lwaToken" = LWA) get `kind`: throttle
        (429 QuotaExceeded), error500, error503, gateway502 (an HTML 502 page), slow (answer after
        `delay` s), drop (close the connection without an answer), expire_token (searchOrders: the next
        request carrying a paginationToken finds it expired). `after`: let that many matching requests
        through first (a fault in the middle of a listing)."""
        self.faults.add(kind, operation, times, delay, after)

    def revoke(self, refresh_token: str) -> None:
        """The seller revoked the app: LWA answers invalid_grant and issued access tokens stop working."""
        with self._lock:
            self.seller(refresh_token).revoked = True
            for token, (owner, _) in list(self._access_tokens.items()):
                if owner == refresh_token:
                    del self._access_tokens[token]

    def set_report_outcome(self, refresh_token: str, outcome: str, marketplace: str | None = None) -> None:
        """How the seller's next reports end (only those of `marketplace`, when given)."""
        if outcome not in ("DONE", "FATAL", "CANCELLED"):
            raise ValueError("outcome must be DONE, FATAL or CANCELLED")
        if marketplace:
            self.seller(refresh_token).report_outcomes[marketplace] = outcome
        else:
            self.seller(refresh_token).report_outcome = outcome

    def remove_listings(self, refresh_token: str, *, count: int = 0, skus: list[str] | tuple[str, ...] = (),
                        marketplace: str | None = None, inventory: bool = True) -> list[str]:
        """The seller deletes listings (see deletions.py); returns the SKUs removed."""
        with self._lock:
            return deletions.remove_listings(self.seller(refresh_token).seeder.data, count=count, skus=skus,
                                             marketplace=marketplace, inventory=inventory)

    def set_fba(self, refresh_token: str, enrolled: bool | list[str]) -> None:
        self.seller(refresh_token).fba = enrolled

    def reset_counters(self) -> None:
        with self._lock:
            self.counters = Counters()

    def reset_rate_limits(self) -> None:
        self._buckets.reset()

    def demo_secrets(self, refresh_token: str | None = None) -> dict[str, Any]:
        """The secrets JSON (SPEC section 2) of a seeded seller, for the `--sandbox` demo and tests."""
        seller = self.seller(refresh_token) if refresh_token else next(iter(self._sellers.values()))
        return {"refresh_token": seller.refresh_token, "lwa_app_id": seller.lwa_app_id,
                "lwa_client_secret": seller.lwa_client_secret, "marketplace_ids": list(seller.marketplaces),
                "seller_id": seller.seller_id}

    # ----- request handling (called from handler threads) -------------------------------------------
    def count(self, operation: str, throttled: bool = False) -> None:
        with self._lock:
            target = self.counters.throttled if throttled else self.counters.calls
            target[operation] = target.get(operation, 0) + 1
        if operation in V0_ORDERS_OPERATIONS and not throttled and self._ledger is not None:
            self._ledger.record(operation)

    def _served_items(self, order_id: str) -> None:
        with self._lock:
            self.counters.order_items_ids.append(order_id)

    def lwa_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        if grant != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description":
                         "The authorization grant type is not supported by the authorization server"}
        missing = [k for k in ("refresh_token", "client_id", "client_secret") if not form.get(k)]
        if missing:
            return 400, {"error": "invalid_request",
                         "error_description": f"The request is missing a required parameter : {missing[0]}"}
        seller = self._sellers.get(form["refresh_token"])
        if seller is not None and (form["client_id"] != seller.lwa_app_id
                                   or form["client_secret"] != seller.lwa_client_secret):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        if seller is None or seller.revoked:
            return 400, {"error": "invalid_grant",
                         "error_description": "The request has an invalid grant parameter : refresh_token"}
        token = "Atza|" + _secrets.token_urlsafe(48)
        with self._lock:
            self._access_tokens[token] = (seller.refresh_token, time.monotonic() + self.access_token_ttl)
        return 200, {"access_token": token, "refresh_token": seller.refresh_token, "token_type": "bearer",
                     "expires_in": self.access_token_ttl}

    def authenticate(self, access_token: str | None) -> Seller:
        entry = self._access_tokens.get(access_token or "")
        if entry is None or entry[1] < time.monotonic():
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The access token you provided is revoked, malformed or invalid.")
        seller = self._sellers[entry[0]]
        if seller.revoked:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The access token you provided is revoked, malformed or invalid.")
        return seller

    def meter(self, seller: Seller, operation: str) -> None:
        if not self._buckets.allow(seller.seller_id, operation):
            self.count(operation, throttled=True)
            raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")

    def rate_header(self, operation: str) -> str:
        return f"{self._buckets.rate(operation):g}"

    def _new_next_token(self, state: dict[str, Any]) -> str:
        return self._tokens.issue(state)

    def _next_token(self, token: str, kind: str) -> dict[str, Any]:
        return self._tokens.get(token, kind, "nextToken")

    # --- Sellers ---
    def get_marketplace_participations(self, seller: Seller, query: dict[str, list[str]]) -> dict[str, Any]:
        payload = []
        for marketplace in seller.marketplaces:
            info = MARKETPLACES[marketplace]
            payload.append({"marketplace": {"id": marketplace, **info},
                            "storeName": f"Store {seller.seller_id}",
                            "participation": {"isParticipating": True, "hasSuspendedListings": False}})
        return {"payload": payload}

    def _marketplace_ids(self, seller: Seller, query: dict[str, list[str]], name: str, limit: int) -> list[str]:
        ids = _csv(query, name)
        if not ids:
            raise _bad(f"{name} is required.", f"Missing required parameter {name}.")
        if len(ids) > limit:
            raise _bad(f"Too many {name}: at most {limit} are allowed.")
        for m in ids:
            if m not in seller.marketplaces:
                raise _bad(f"Invalid {name} value: {m}.", "The seller does not participate in this marketplace.")
        return ids

    # --- Orders: see orders_api.py ---
    @property
    def orders_api(self) -> OrdersApi:
        return self._orders

    # --- Reports ---
    def _report_json(self, report: Report) -> dict[str, Any]:
        elapsed = time.monotonic() - report.created_mono
        if elapsed < self.report_processing_seconds / 3:
            status = "IN_QUEUE"
        elif elapsed < self.report_processing_seconds:
            status = "IN_PROGRESS"
        else:
            status = report.outcome
        out: dict[str, Any] = {"reportId": report.report_id, "reportType": report.report_type,
                               "marketplaceIds": list(report.marketplace_ids),
                               "createdTime": iso(report.created), "processingStatus": status,
                               "dataStartTime": iso(report.created), "dataEndTime": iso(report.created)}
        if status != "IN_QUEUE":
            out["processingStartTime"] = iso(report.created)
        if status in ("DONE", "FATAL", "CANCELLED"):
            out["processingEndTime"] = iso(report.created + timedelta(seconds=self.report_processing_seconds))
        if status in ("DONE", "FATAL") and report.document_id:
            out["reportDocumentId"] = report.document_id
        return out

    def create_report(self, seller: Seller, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        report_type = body.get("reportType")
        if not report_type:
            raise _bad("reportType is required.")
        if report_type not in SUPPORTED_REPORTS:
            raise _bad(f"Report type {report_type} is not supported.", "")
        marketplaces = body.get("marketplaceIds")
        if not isinstance(marketplaces, list) or not (1 <= len(marketplaces) <= 25):
            raise _bad("marketplaceIds must list between 1 and 25 marketplace ids.")
        for m in marketplaces:
            if m not in seller.marketplaces:
                raise _bad(f"Invalid marketplaceIds value: {m}.")
        if report_type == LISTINGS_REPORT and len(marketplaces) != 1:
            raise _bad(f"{LISTINGS_REPORT} accepts exactly one marketplace id per request.")
        now = datetime.now(timezone.utc)
        report = Report(report_id=str(50000000000 + _secrets.randbelow(10**10)),
                        report_type=report_type, marketplace_ids=list(marketplaces), created=now,
                        created_mono=time.monotonic(),
                        outcome=seller.report_outcomes.get(marketplaces[0], seller.report_outcome))
        if report.outcome == "DONE" and not seller.seeder.data.listings.get(marketplaces[0]):
            # Amazon cancels a report by itself when there is no data to return (Reports API model).
            report.outcome = "CANCELLED"
        if report.outcome == "DONE":
            report.document_id = self._make_listing_document(seller, marketplaces[0])
        elif report.outcome == "FATAL":
            report.document_id = self._store_document(
                b"Error: the report could not be generated. Please request it again later.\n",
                "text/plain; charset=UTF-8", False)
        with self._lock:
            seller.reports[report.report_id] = report
            self.counters.created_reports += 1
        return {"reportId": report.report_id}

    def _make_listing_document(self, seller: Seller, marketplace: str) -> str:
        rows = seller.seeder.data.listings.get(marketplace, [])
        lines = ["\t".join(LISTING_COLUMNS)]
        for row in rows:
            lines.append("\t".join(row.get(c, "").replace("\t", " ") for c in LISTING_COLUMNS))
        text = "\n".join(lines) + "\n"
        utf8 = MARKETPLACES[marketplace]["countryCode"] in UTF8_COUNTRIES
        raw = text.encode("utf-8" if utf8 else "cp1252")
        # Amazon declares no charset for its European documents: the reader must know the encoding.
        content_type = "text/plain; charset=UTF-8" if utf8 else "text/plain"
        compress = seller.compress_documents if seller.compress_documents is not None else not utf8
        return self._store_document(gzip.compress(raw) if compress else raw, content_type, compress)

    def _store_document(self, body: bytes, content_type: str, compressed: bool) -> str:
        doc_id = f"amzn1.spdoc.1.4.na.{uuid.uuid4()}"
        with self._lock:
            self._documents[doc_id] = (Document(doc_id, body, content_type, compressed), 0.0)
        return doc_id

    def get_reports(self, seller: Seller, query: dict[str, list[str]]) -> dict[str, Any]:
        token = _one(query, "nextToken")
        if token:
            state = self._next_token(token, "reports")
        else:
            types = _csv(query, "reportTypes")
            if not types:
                raise _bad("reportTypes or nextToken is required.")
            if len(types) > 10:
                raise _bad("At most 10 reportTypes are allowed.")
            statuses = set(_csv(query, "processingStatuses"))
            marketplaces = set(_csv(query, "marketplaceIds"))
            page_size = _int_param(query, "pageSize", 10, 1, 100)
            since = _date(query, "createdSince") or datetime.now(timezone.utc) - timedelta(days=90)
            until = _date(query, "createdUntil") or datetime.now(timezone.utc)
            found = []
            for report in sorted(seller.reports.values(), key=lambda r: r.created, reverse=True):
                js = self._report_json(report)
                if (report.report_type in types and since <= report.created <= until
                        and (not statuses or js["processingStatus"] in statuses)
                        and (not marketplaces or marketplaces & set(report.marketplace_ids))):
                    found.append(report.report_id)
            state = {"kind": "reports", "ids": found, "offset": 0, "page_size": page_size}
        ids, offset, size = state["ids"], state["offset"], state["page_size"]
        out: dict[str, Any] = {"reports": [self._report_json(seller.reports[r]) for r in ids[offset:offset + size]]}
        if offset + size < len(ids):
            out["nextToken"] = self._new_next_token({**state, "offset": offset + size})
        return out

    def get_report(self, seller: Seller, report_id: str) -> dict[str, Any]:
        report = seller.reports.get(report_id)
        if report is None:
            raise ApiError(404, "NotFound", "The requested report was not found.", f"reportId {report_id}")
        return self._report_json(report)

    def get_report_document(self, seller: Seller, document_id: str) -> dict[str, Any]:
        owned = any(r.document_id == document_id for r in seller.reports.values())
        entry = self._documents.get(document_id)
        if not owned or entry is None:
            raise ApiError(404, "NotFound", "The requested report document was not found.", "")
        doc = entry[0]
        with self._lock:
            self._documents[document_id] = (doc, time.monotonic())
        out = {"reportDocumentId": document_id,
               "url": f"{self.url}/_documents/{document_id}?X-Amz-Expires=300&X-Amz-Signature="
                      f"{_secrets.token_hex(16)}"}
        if doc.compressed:
            out["compressionAlgorithm"] = "GZIP"
        return out

    def download_document(self, document_id: str) -> tuple[int, bytes, str]:
        entry = self._documents.get(document_id)
        if entry is None or entry[1] == 0.0 or time.monotonic() - entry[1] > 300:
            body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                    b"<Message>Request has expired</Message></Error>")
            return 403, body, "application/xml"
        doc = entry[0]
        return 200, doc.body, doc.content_type

    # --- FBA inventory ---
    def get_inventory_summaries(self, seller: Seller, query: dict[str, list[str]]) -> dict[str, Any]:
        if _one(query, "granularityType") != "Marketplace":
            raise _bad("granularityType must be Marketplace.")
        granularity_id = _one(query, "granularityId")
        if not granularity_id:
            raise _bad("granularityId is required.")
        marketplaces = self._marketplace_ids(seller, query, "marketplaceIds", 1)
        if granularity_id not in seller.marketplaces or marketplaces != [granularity_id]:
            raise _bad("granularityId must be the marketplace id given in marketplaceIds.")
        if not _enrolled(seller.fba, granularity_id):
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                           "The seller is not registered for Fulfillment by Amazon.")
        details = (_one(query, "details") or "false").lower() == "true"
        token = _one(query, "nextToken")
        if token:
            state = self._next_token(token, "inventory")
            if time.monotonic() - state["issued"] > self.next_token_ttl:
                raise _bad("The nextToken has expired.", "A nextToken is valid for 30 seconds after it is issued.")
            if state["marketplace"] != granularity_id:
                raise _bad("Invalid nextToken.", "The nextToken belongs to another marketplace.")
            offset = state["offset"]
        else:
            offset = 0
        summaries = seller.seeder.data.inventory.get(granularity_id, [])
        start = _date(query, "startDateTime")
        if start is not None:
            summaries = [s for s in summaries if _parse(s["lastUpdatedTime"]) >= start]
        size = self.inventory_page_size
        page = []
        for summary in summaries[offset:offset + size]:
            item = dict(summary)
            if not details:
                item.pop("inventoryDetails", None)
            page.append(item)
        out: dict[str, Any] = {"payload": {"granularity": {"granularityType": "Marketplace",
                                                           "granularityId": granularity_id},
                                           "inventorySummaries": page}}
        if offset + size < len(summaries):
            out["pagination"] = {"nextToken": self._new_next_token(
                {"kind": "inventory", "marketplace": granularity_id, "offset": offset + size})}
        return out


def _enrolled(fba: bool | list[str], marketplace: str) -> bool:
    return fba if isinstance(fba, bool) else marketplace in fba


# ----- HTTP ------------------------------------------------------------------------------------------
_ORDER = r"(?P<id>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/sellers/v1/marketplaceParticipations$"), "getMarketplaceParticipations"),
    ("GET", re.compile(r"^/orders/2026-01-01/orders$"), "searchOrders"),
    ("GET", re.compile(rf"^/orders/2026-01-01/orders/{_ORDER}$"), "getOrder"),
    ("GET", re.compile(r"^/orders/v0/orders$"), "v0.getOrders"),
    ("GET", re.compile(rf"^/orders/v0/orders/{_ORDER}$"), "v0.getOrder"),
    ("GET", re.compile(rf"^/orders/v0/orders/{_ORDER}/orderItems$"), "v0.getOrderItems"),
    ("GET", re.compile(rf"^/orders/v0/orders/{_ORDER}/buyerInfo$"), "v0.getOrderBuyerInfo"),
    ("GET", re.compile(rf"^/orders/v0/orders/{_ORDER}/address$"), "v0.getOrderAddress"),
    ("GET", re.compile(rf"^/orders/v0/orders/{_ORDER}/orderItems/buyerInfo$"), "v0.getOrderItemsBuyerInfo"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports$"), "getReports"),
    ("POST", re.compile(r"^/reports/2021-06-30/reports$"), "createReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports/(?P<id>[^/]+)$"), "getReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/documents/(?P<id>[^/]+)$"), "getReportDocument"),
    ("GET", re.compile(r"^/fba/inventory/v1/summaries$"), "getInventorySummaries"),
]
# The Orders API v2026-01-01 model names x-amzn-RateLimit-Limit on its 200, 400 and 404 answers only.
_RATE_HEADER_STATUSES = {"searchOrders": (200, 400, 404), "getOrder": (200, 400, 404)}


def _rate_headers(emu: AmazonEmulator, operation: str, status: int) -> dict[str, str]:
    allowed = _RATE_HEADER_STATUSES.get(operation)
    if (status in allowed) if allowed is not None else status != 403:
        return {"x-amzn-RateLimit-Limit": emu.rate_header(operation)}
    return {}


V0_REMOVED_MESSAGE = ("The Orders API v0 is retired (Amazon removes it on 2027-03-27). Use the Orders API "
                      "v2026-01-01 (searchOrders, getOrder).")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real endpoints
    # Headers and body leave in one segment, without Nagle: otherwise delayed ACKs add ~40 ms per call.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    server_version = "Server"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters, not logs
        pass

    @property
    def emulator(self) -> AmazonEmulator:
        return self.server.emulator  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        body = http_faults.sent(self, self.emulator, status, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _apply_fault(self, operation: str) -> bool:
        """True when a fault answered (or dropped) the request."""
        fault = self.emulator.faults.take(operation)
        if fault is None:
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False  # then answer normally, late
        if fault.kind == "gateway502":
            self._send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            return True
        if fault.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return True
        status, code, message = ERROR_FAULTS[fault.kind]
        if status == 429:
            self.emulator.count(operation, throttled=True)
        headers = _rate_headers(self.emulator, operation, status) if operation in _RATED else {}
        self._json(status, {"errors": [{"code": code, "message": message, "details": ""}]}, headers)
        return True

    def _dispatch(self, method: str) -> None:
        emu = self.emulator
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        body = self._read_body()
        if method == "POST" and path == "/auth/o2/token":
            if http_faults.answer(self, emu, "lwaToken", "amazon") or self._apply_fault("lwaToken"):
                return
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, obj = emu.lwa_token(form)
            self._json(status, obj)
            return
        if method == "GET" and path.startswith("/_documents/"):
            document = path[len("/_documents/"):]
            if http_faults.answer(self, emu, "reportDocument", "amazon",
                                  download=lambda: emu.download_document(document)[1]):
                return
            status, content, ctype = emu.download_document(document)
            self._send(status, content, ctype)
            return
        for route_method, pattern, operation in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                break
        else:
            self._json(404, {"errors": [{"code": "NotFound", "message": "Resource not found.",
                                         "details": f"{method} {path}"}]})
            return
        if operation in V0_ORDERS_OPERATIONS and emu.v0_orders_removed:
            emu.count(operation)
            self._json(404, {"errors": [{"code": "NotFound", "message": V0_REMOVED_MESSAGE,
                                         "details": f"{method} {path}"}]})
            return
        def headers_for(status: int) -> dict[str, str]:
            return _rate_headers(emu, operation, status)

        try:
            if http_faults.answer(self, emu, operation, "amazon", context=self.headers.get("x-amz-access-token"),
                                  headers=lambda status: headers_for(status) if operation in _RATED else {}):
                return  # the reliability suite's faults
            if self._apply_fault(operation):
                return
            seller = emu.authenticate(self.headers.get("x-amz-access-token"))
            emu.meter(seller, operation)
            emu.count(operation)
            with emu._lock:  # one request at a time touches the seller's data (tests mutate it meanwhile)
                result = self._call(operation, seller, match.groupdict().get("id"), query, body)
            status = 202 if operation == "createReport" else 200
            self._json(status, result, headers_for(status))
        except ApiError as exc:
            self._json(exc.status, {"errors": [{"code": exc.code, "message": exc.message,
                                                "details": exc.details}]}, headers_for(exc.status))

    def _call(self, operation: str, seller: Seller, ident: str | None, query: dict[str, list[str]],
              body: bytes) -> dict[str, Any]:
        emu = self.emulator
        orders = emu.orders_api
        order_id = ident or ""
        handlers: dict[str, Callable[[], dict[str, Any]]] = {
            "getMarketplaceParticipations": lambda: emu.get_marketplace_participations(seller, query),
            "searchOrders": lambda: orders.search_orders(seller, query),
            "getOrder": lambda: orders.get_order(seller, order_id, query),
            "v0.getOrders": lambda: orders.v0_get_orders(seller, query),
            "v0.getOrder": lambda: orders.v0_get_order(seller, order_id),
            "v0.getOrderItems": lambda: orders.v0_get_order_items(seller, order_id, query,
                                                                  emu.order_items_page_size),
            "v0.getOrderBuyerInfo": lambda: orders.v0_get_order_buyer_info(seller, order_id),
            "v0.getOrderAddress": lambda: orders.v0_get_order_address(seller, order_id),
            "v0.getOrderItemsBuyerInfo": lambda: orders.v0_get_order_items_buyer_info(seller, order_id),
            "getReports": lambda: emu.get_reports(seller, query),
            "createReport": lambda: emu.create_report(seller, _json_body(body)),
            "getReport": lambda: emu.get_report(seller, ident or ""),
            "getReportDocument": lambda: emu.get_report_document(seller, ident or ""),
            "getInventorySummaries": lambda: emu.get_inventory_summaries(seller, query),
        }
        return handlers[operation]()


_RATED = {op for _, _, op in _ROUTES}


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None

"""A local SP-API + Login with Amazon emulator: one real HTTP server on loopback.

It serves the operations API Sync uses, following the public models in `tests/reference/amazon-sp-api/`:
paths, parameters and their rules (getOrders' date rules, required marketplace ids, page sizes), response
envelopes, error bodies (`{"errors": [{"code", "message", "details"}]}`; LWA's `{"error",
"error_description"}`), each operation's usage plan (rate x `time_scale`, burst) with the
`x-amzn-RateLimit-Limit` header, report processing through IN_QUEUE / IN_PROGRESS to DONE, report documents
served from its own host (gzip and windows-1252 for non-US marketplaces), and fault injection.

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
from .faults import ERROR_FAULTS, FaultPlan
from .seed import LISTING_COLUMNS, MARKETPLACES, SellerSeeder, iso

DEMO_LWA_APP_ID = "amzn1.application-oa2-client.sandbox0000000000000000000000"
DEMO_LWA_CLIENT_SECRET = "amzn1.oa2-cs.v1.sandboxsecret0000000000000000000000000000000000000000"
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
SUPPORTED_REPORTS = (LISTINGS_REPORT,)
ORDERS_VISIBILITY_LAG = timedelta(minutes=2)  # getOrders: "at least two minutes before current time"
UTF8_COUNTRIES = ("US", "CA", "GB")  # the others get windows-1252 documents, as Amazon's EU reports are


class ApiError(Exception):
    """An SP-API error answer."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _bad(message: str, details: str = "") -> ApiError:
    return ApiError(400, "InvalidInput", message, details)


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
    reports: dict[str, Report] = field(default_factory=dict)
    compress_documents: bool | None = None  # None: gzip the non-UTF-8 (European) documents only


@dataclass
class Counters:
    calls: dict[str, int] = field(default_factory=dict)  # operation -> requests that reached it
    throttled: dict[str, int] = field(default_factory=dict)  # operation -> 429 answers (metered or injected)
    order_items_ids: list[str] = field(default_factory=list)  # AmazonOrderId of each served getOrderItems
    created_reports: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "throttled": dict(self.throttled),
                "order_items_ids": list(self.order_items_ids), "created_reports": self.created_reports}


class AmazonEmulator:
    """The emulator. Use as a context manager, or `start()` / `stop()`.

    time_scale: every documented rate is multiplied by it (bursts stay), so `time_scale=60` runs an
        hour of real pacing in a minute with the same shape.
    report_processing_seconds: how long a report spends in IN_QUEUE + IN_PROGRESS before its outcome.
    order_items_page_size / inventory_page_size: page sizes of getOrderItems / getInventorySummaries.
    next_token_ttl: seconds an inventory nextToken lives (Amazon: 30).
    fresh_margin: how far in the past mutations are stamped; must exceed getOrders' two-minute lag so
        a change is visible to the next sync at once.
    anchor: seeded timestamps count back from it (default: the start of the current UTC day), so the
        same seller seeded twice the same day is the same data.
    """

    def __init__(self, *, time_scale: float = 1.0, report_processing_seconds: float = 0.3,
                 order_items_page_size: int = 100, inventory_page_size: int = 50,
                 next_token_ttl: float = 30.0, fresh_margin: timedelta = timedelta(minutes=3),
                 access_token_ttl: int = 3600, anchor: datetime | None = None, host: str = "127.0.0.1",
                 port: int = 0):
        if fresh_margin <= ORDERS_VISIBILITY_LAG:
            raise ValueError("fresh_margin must exceed two minutes, or getOrders would hide fresh changes")
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
        self._next_tokens: dict[str, dict[str, Any]] = {}
        self._restricted_tokens: dict[str, dict[str, Any]] = {}  # RDT -> grant
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
                   seller_id: str | None = None, compress_documents: bool | None = None) -> Seller:
        unknown = [m for m in marketplaces if m not in MARKETPLACES]
        if unknown:
            raise ValueError(f"unknown marketplace ids {unknown}; known: {sorted(MARKETPLACES)}")
        seeder = SellerSeeder(refresh_token, list(marketplaces), fresh_margin=self.fresh_margin, anchor=self.anchor)
        seeder.seed_listings(listings, [m for m in marketplaces if _enrolled(fba, m)])
        seeder.seed_orders(orders)
        seller = Seller(refresh_token=refresh_token,
                        seller_id=seller_id or f"A{uuid.uuid5(uuid.NAMESPACE_OID, refresh_token).hex[:13].upper()}",
                        lwa_app_id=lwa_app_id, lwa_client_secret=lwa_client_secret,
                        marketplaces=list(marketplaces), seeder=seeder, fba=fba,
                        compress_documents=compress_documents)
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

    def orders(self, refresh_token: str) -> dict[str, dict[str, Any]]:
        data = self.seller(refresh_token).seeder.data
        return {oid: {**order, "OrderItems": list(data.items[oid])} for oid, order in data.orders.items()}

    # ----- faults -----------------------------------------------------------------------------------
    def inject(self, kind: str, operation: str = "*", times: int = 1, delay: float = 0.0) -> None:
        """Next `times` requests to `operation` ("*" = any, "lwaToken" = LWA) get `kind`: throttle
        (429 QuotaExceeded), error500, error503, gateway502 (an HTML 502 page), slow (answer after
        `delay` s), drop (close the connection without an answer)."""
        self.faults.add(kind, operation, times, delay)

    def revoke(self, refresh_token: str) -> None:
        """The seller revoked the app: LWA answers invalid_grant and issued access tokens stop working."""
        with self._lock:
            self.seller(refresh_token).revoked = True
            for token, (owner, _) in list(self._access_tokens.items()):
                if owner == refresh_token:
                    del self._access_tokens[token]

    def set_report_outcome(self, refresh_token: str, outcome: str) -> None:
        if outcome not in ("DONE", "FATAL", "CANCELLED"):
            raise ValueError("outcome must be DONE, FATAL or CANCELLED")
        self.seller(refresh_token).report_outcome = outcome

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

    def authenticate(self, access_token: str | None, path: str = "") -> Seller:
        rdt = self._restricted_tokens.get(access_token or "")
        if rdt is not None:
            if rdt["expires"] < time.monotonic() or path not in rdt["grants"]:
                raise ApiError(403, "Unauthorized", "Access to requested resource is denied.",
                               "The restricted data token is expired or does not cover this resource.")
            access_token = rdt["access_token"]  # an RDT acts for the LWA token it was issued under
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
        token = _secrets.token_urlsafe(24)
        with self._lock:
            self._next_tokens[token] = {**state, "issued": time.monotonic()}
        return token

    def _next_token(self, token: str, kind: str) -> dict[str, Any]:
        state = self._next_tokens.get(token)
        if state is None or state["kind"] != kind:
            raise _bad("Invalid NextToken.", "The NextToken is not valid for this request.")
        return state

    # --- Sellers ---
    def get_marketplace_participations(self, seller: Seller, query: dict[str, list[str]]) -> dict[str, Any]:
        payload = []
        for marketplace in seller.marketplaces:
            info = MARKETPLACES[marketplace]
            payload.append({"marketplace": {"id": marketplace, **info},
                            "storeName": f"Store {seller.seller_id}",
                            "participation": {"isParticipating": True, "hasSuspendedListings": False}})
        return {"payload": payload}

    # --- Tokens (Restricted Data Tokens for buyer PII) ---
    def create_restricted_data_token(self, seller: Seller, body: Any, access_token: str = "") -> dict[str, Any]:
        resources = body.get("restrictedResources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources:
            raise _bad("restrictedResources is required.")
        grants: dict[str, set[str]] = {}
        for resource in resources:
            if not isinstance(resource, dict) or resource.get("method") != "GET":
                raise _bad("Each restricted resource needs method GET.")
            path = resource.get("path") or ""
            if not RESTRICTED_PATH.match(path):
                raise _bad(f"{path} is not a restricted resource.")
            elements = resource.get("dataElements") or []
            if path == "/orders/v0/orders" and not elements:
                raise _bad("dataElements is required for /orders/v0/orders.")
            unknown = set(elements) - PII_ELEMENTS
            if unknown:
                raise _bad(f"Invalid dataElements: {', '.join(sorted(unknown))}.")
            grants[path] = set(elements)
        token = "Atz.sprdt|" + _secrets.token_urlsafe(40)
        with self._lock:
            self._restricted_tokens[token] = {"access_token": access_token, "grants": grants,
                                              "expires": time.monotonic() + 3600}
        return {"restrictedDataToken": token, "expiresIn": 3600}

    def granted(self, token: str | None, path: str) -> set[str]:
        rdt = self._restricted_tokens.get(token or "")
        return set(rdt["grants"].get(path, ())) if rdt else set()

    # --- Orders ---
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

    def get_orders(self, seller: Seller, query: dict[str, list[str]], pii: set[str] = frozenset()) -> dict[str, Any]:
        marketplaces = self._marketplace_ids(seller, query, "MarketplaceIds", 50)
        page_size = _int_param(query, "MaxResultsPerPage", 100, 1, 100)
        token = _one(query, "NextToken")
        data = seller.seeder.data
        if token:
            state = self._next_token(token, "orders")
            page_size = state["page_size"]
        else:
            now = datetime.now(timezone.utc)
            latest = now - ORDERS_VISIBILITY_LAG
            created_after, created_before = _date(query, "CreatedAfter"), _date(query, "CreatedBefore")
            updated_after, updated_before = _date(query, "LastUpdatedAfter"), _date(query, "LastUpdatedBefore")
            if created_after is None and updated_after is None:
                raise _bad("Either CreatedAfter or LastUpdatedAfter must be specified.")
            if created_after is not None and (updated_after is not None or updated_before is not None):
                raise _bad("LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set.")
            if updated_after is not None and (created_after is not None or created_before is not None):
                raise _bad("CreatedAfter and CreatedBefore cannot be set when LastUpdatedAfter is set.")
            field_name, after, before = (("PurchaseDate", created_after, created_before) if created_after
                                         else ("LastUpdateDate", updated_after, updated_before))
            before_name = "CreatedBefore" if created_after else "LastUpdatedBefore"
            if after > latest:
                raise _bad(f"{'CreatedAfter' if created_after else 'LastUpdatedAfter'} must be at least "
                           f"two minutes before the current time.")
            if before is None:
                before = latest
            elif before > latest:
                raise _bad(f"{before_name} must be at least two minutes before the current time.")
            elif before < after:
                raise _bad(f"{before_name} must be equal to or after "
                           f"{'CreatedAfter' if created_after else 'LastUpdatedAfter'}.")
            statuses = set(_csv(query, "OrderStatuses"))
            # Deliberately ordered by id, not by date: Amazon does not promise any order.
            ids = sorted(
                oid for oid, o in data.orders.items()
                if o["MarketplaceId"] in marketplaces
                and after <= _parse(o[field_name]) <= before
                and (not statuses or o["OrderStatus"] in statuses))
            state = {"kind": "orders", "ids": ids, "offset": 0, "page_size": page_size,
                     "bound": (before_name, iso(before))}
        ids, offset = state["ids"], state["offset"]
        page = ids[offset:offset + page_size]
        payload: dict[str, Any] = {"Orders": [_with_pii(data.orders[oid], pii) for oid in page if oid in data.orders],
                                   state["bound"][0]: state["bound"][1]}
        if offset + page_size < len(ids):
            payload["NextToken"] = self._new_next_token({**state, "offset": offset + page_size})
        return {"payload": payload}

    def get_order_items(self, seller: Seller, order_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        data = seller.seeder.data
        token = _one(query, "NextToken")
        if token:
            state = self._next_token(token, "items")
            if state["order_id"] != order_id:
                raise _bad("Invalid NextToken.", "The NextToken belongs to another order.")
            offset = state["offset"]
        else:
            offset = 0
        if order_id not in data.orders:
            raise ApiError(404, "NotFound", "Invalid AmazonOrderId.", f"Order {order_id} does not exist.")
        with self._lock:
            self.counters.order_items_ids.append(order_id)
        items = data.items[order_id]
        size = self.order_items_page_size
        payload: dict[str, Any] = {"AmazonOrderId": order_id,
                                   "OrderItems": [dict(i) for i in items[offset:offset + size]]}
        if offset + size < len(items):
            payload["NextToken"] = self._new_next_token({"kind": "items", "order_id": order_id,
                                                         "offset": offset + size})
        return {"payload": payload}

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
                        created_mono=time.monotonic(), outcome=seller.report_outcome)
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


RESTRICTED_PATH = re.compile(r"^/orders/v0/orders(/[^/]+(/(orderItems|address|buyerInfo))?)?$")
PII_ELEMENTS = {"buyerInfo", "shippingAddress", "buyerTaxInformation"}


def _with_pii(order: dict[str, Any], pii: set[str]) -> dict[str, Any]:
    """The order as getOrders returns it: buyer PII only for what a Restricted Data Token grants."""
    out = dict(order)
    n = int(order["AmazonOrderId"].replace("-", "")) % 9973
    if "buyerInfo" in pii:
        out["BuyerInfo"] = {"BuyerEmail": f"buyer{n}@marketplace.amazon.com", "BuyerName": f"Buyer {n}"}
    if "shippingAddress" in pii and order.get("OrderStatus") in ("Unshipped", "PartiallyShipped", "Shipped"):
        out["ShippingAddress"] = {"Name": f"Buyer {n}", "AddressLine1": f"{n} Main Street", "City": "Seattle",
                                  "StateOrRegion": "WA", "PostalCode": "98101", "CountryCode": "US",
                                  "AddressType": "Residential"}
    return out


# ----- query helpers ---------------------------------------------------------------------------------
def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _csv(query: dict[str, list[str]], name: str) -> list[str]:
    out: list[str] = []
    for value in query.get(name, []):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _parse(value: str) -> datetime:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _date(query: dict[str, list[str]], name: str) -> datetime | None:
    raw = _one(query, name)
    if raw is None or raw == "":
        return None
    try:
        return _parse(raw)
    except ValueError:
        raise _bad(f"{name} is not a valid ISO 8601 date: {raw}.") from None


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = _one(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise _bad(f"{name} must be between {low} and {high}.")
    return value


# ----- HTTP ------------------------------------------------------------------------------------------
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/sellers/v1/marketplaceParticipations$"), "getMarketplaceParticipations"),
    ("GET", re.compile(r"^/orders/v0/orders$"), "getOrders"),
    ("GET", re.compile(r"^/orders/v0/orders/(?P<id>[^/]+)/orderItems$"), "getOrderItems"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports$"), "getReports"),
    ("POST", re.compile(r"^/reports/2021-06-30/reports$"), "createReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/reports/(?P<id>[^/]+)$"), "getReport"),
    ("GET", re.compile(r"^/reports/2021-06-30/documents/(?P<id>[^/]+)$"), "getReportDocument"),
    ("GET", re.compile(r"^/fba/inventory/v1/summaries$"), "getInventorySummaries"),
    ("POST", re.compile(r"^/tokens/2021-03-01/restrictedDataToken$"), "createRestrictedDataToken"),
]


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
        headers = {"x-amzn-RateLimit-Limit": self.emulator.rate_header(operation)} if operation in _RATED else {}
        self._json(status, {"errors": [{"code": code, "message": message, "details": ""}]}, headers)
        return True

    def _dispatch(self, method: str) -> None:
        emu = self.emulator
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        body = self._read_body()
        if method == "POST" and path == "/auth/o2/token":
            if self._apply_fault("lwaToken"):
                return
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, obj = emu.lwa_token(form)
            self._json(status, obj)
            return
        if method == "GET" and path.startswith("/_documents/"):
            status, content, ctype = emu.download_document(path[len("/_documents/"):])
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
        rate_headers = {"x-amzn-RateLimit-Limit": emu.rate_header(operation)}
        try:
            if self._apply_fault(operation):
                return
            seller = emu.authenticate(self.headers.get("x-amz-access-token"), path)
            emu.meter(seller, operation)
            emu.count(operation)
            with emu._lock:  # one request at a time touches the seller's data (tests mutate it meanwhile)
                result = self._call(operation, seller, match.groupdict().get("id"), query, body)
            self._json(202 if operation == "createReport" else 200, result, rate_headers)
        except ApiError as exc:
            headers = rate_headers if exc.status != 403 else {}
            self._json(exc.status, {"errors": [{"code": exc.code, "message": exc.message,
                                                "details": exc.details}]}, headers)

    def _call(self, operation: str, seller: Seller, ident: str | None, query: dict[str, list[str]],
              body: bytes) -> dict[str, Any]:
        emu = self.emulator
        token = self.headers.get("x-amz-access-token")
        handlers: dict[str, Callable[[], dict[str, Any]]] = {
            "getMarketplaceParticipations": lambda: emu.get_marketplace_participations(seller, query),
            "getOrders": lambda: emu.get_orders(seller, query, emu.granted(token, "/orders/v0/orders")),
            "getOrderItems": lambda: emu.get_order_items(seller, ident or "", query),
            "getReports": lambda: emu.get_reports(seller, query),
            "createReport": lambda: emu.create_report(seller, _json_body(body)),
            "getReport": lambda: emu.get_report(seller, ident or ""),
            "getReportDocument": lambda: emu.get_report_document(seller, ident or ""),
            "getInventorySummaries": lambda: emu.get_inventory_summaries(seller, query),
            "createRestrictedDataToken": lambda: emu.create_restricted_data_token(
                seller, _json_body(body), token or ""),
        }
        return handlers[operation]()


_RATED = {op for _, _, op in _ROUTES}


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None

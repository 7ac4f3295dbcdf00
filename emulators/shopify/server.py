"""The emulator's HTTP side: Shopify's GraphQL endpoint, bulk result files, auth and injected faults."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, execute, parse, validate
from graphql.language import OperationDefinitionNode

from .. import http_faults
from .cost import operation_cost
from .executor import Context
from .shop import CostSample

if TYPE_CHECKING:
    from . import ShopifyEmulator
    from .shop import EmulatedShop

GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>\d{4}-\d{2}|unstable)/graphql\.json$")
BULK_PATH = re.compile(r"^/bulk-results/(?P<token>[A-Za-z0-9_-]+)\.jsonl$")
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
RATE_DOC = "https://shopify.dev/api/usage/rate-limits"


@dataclass
class Fault:
    """One injected failure, used up by the next matching request."""

    kind: str  # "429" | "5xx" | "slow" | "drop" | "internal"
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    operation: str | None = None  # only requests with this operation name ("bulk-file" for result downloads)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, emulator: "ShopifyEmulator"):
        super().__init__(address, Handler)
        self.emulator = emulator


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Shopify's edge does
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no delayed-ACK stalls
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read counters
        pass

    # --- plumbing ---------------------------------------------------------------------------------------
    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        payload = http_faults.sent(self, self.server.emulator, status, payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _apply_fault(self, fault: Fault | None, shop: "EmulatedShop | None") -> bool:
        """True when the fault answered (or dropped) the request."""
        if fault is None:
            return False
        if shop is not None:
            shop.stats.faults_injected += 1
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind == "429":
            headers = {"Retry-After": f"{fault.retry_after if fault.retry_after is not None else 2.0:g}"}
            self._send(429, {"errors": "Exceeded 2 calls per second for api client. "
                                       "Reduce request rates to resume uninterrupted service."}, headers)
            return True
        if fault.kind == "internal":
            # An error in Shopify's GraphQL layer comes as HTTP 200 with INTERNAL_SERVER_ERROR, not a 500.
            request_id = "3221c58f-3446-4843-a452-a517787121c6"
            self._send(200, {"errors": [{
                "message": f"Internal error. Looks like something went wrong on our end.\nRequest ID: {request_id} "
                           "(include this in support requests).",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]})
            return True
        self._send(fault.status, {"errors": "Internal Server Error"} if fault.status == 500
                   else b"<html><body>Service temporarily unavailable</body></html>",
                   content_type="application/json" if fault.status == 500 else "text/html")
        return True

    # --- routes -----------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        emulator = self.server.emulator
        match = BULK_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._send(404, {"errors": "Not Found"})
            return
        if http_faults.answer(self, emulator, "bulk-file", "shopify", download=lambda: _bulk_bytes(emulator, match)):
            return
        if self._apply_fault(emulator.take_fault("bulk-file"), None):
            return
        found = emulator.bulk_file(match["token"])
        if found is None:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
            return
        path, size = found
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            with open(path, "rb") as file:
                shutil.copyfileobj(file, self.wfile, 256 * 1024)  # streamed: a big export never sits in memory
        except OSError:
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802
        emulator = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        match = GRAPHQL_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._send(404, {"errors": "Not Found"})
            return
        shop = emulator.shop_for_token(self.headers.get("X-Shopify-Access-Token"))
        if shop is None:
            self._send(401, INVALID_TOKEN_BODY)
            return
        try:
            body = json.loads(raw or b"{}")
            query = body["query"]
        except (ValueError, KeyError, TypeError):
            self._send(400, {"errors": {"query": "Required parameter missing or invalid"}})
            return
        op_name = body.get("operationName") or _operation_name(query) or "anonymous"
        with shop.lock:
            shop.stats.requests[op_name] += 1
            shop.stats.sent.append((op_name, body.get("variables") or {}))
        if http_faults.answer(self, emulator, op_name, "shopify"):  # the reliability suite's faults
            return
        if self._apply_fault(emulator.take_fault(op_name), shop):
            return
        version = served_version(match["version"], emulator.supported_versions)
        status, answer = self._graphql(shop, query, body.get("variables") or {}, body.get("operationName"))
        with shop.lock:
            shop.stats.http_status[status] += 1
            shop.stats.versions[version] += 1
        self._send(status, answer, {"X-Shopify-API-Version": version})

    # --- GraphQL -----------------------------------------------------------------------------------------
    def _graphql(self, shop: "EmulatedShop", query: str, variables: dict, operation_name: str | None):
        emulator = self.server.emulator
        schema = emulator.schema
        try:
            document = parse(query)
        except GraphQLError as exc:
            return 200, {"errors": [exc.formatted]}
        if emulator.reference_schema is not None:
            errors = validate(emulator.reference_schema, document)
            if errors:
                return 200, {"errors": [e.formatted for e in errors]}
        errors = validate(schema, document)
        if errors:
            return 200, {"errors": [e.formatted for e in errors]}
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next((o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)), None)
        if operation is None:
            return 200, {"errors": [{"message": f"No operation named \"{operation_name}\""}]}
        try:
            requested = scaled(operation_cost(schema, document, operation, variables), emulator.requested_cost_scale)
        except Exception:  # bad variables: execution reports them, as Shopify does
            requested = 1
        if requested > emulator.max_query_cost:
            with shop.lock:
                shop.stats.max_cost_exceeded += 1
            return 200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({emulator.max_query_cost}).\n\nSee {RATE_DOC} for more information on how the\n"
                           "cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, "
                           "bulk operations should be used instead.\n",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": emulator.max_query_cost, "documentation": RATE_DOC}}]}
        with shop.lock:
            if not shop.bucket.take(requested):
                shop.stats.throttled += 1
                return 200, {"errors": [{"message": "Throttled",
                                         "extensions": {"code": "THROTTLED", "documentation": RATE_DOC}}],
                             "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                                     "throttleStatus": shop.bucket.status()}}}
            ctx = Context(shop)
            result = execute(schema, document, context_value=ctx, variable_values=variables,
                             operation_name=operation_name)
            actual = scaled(operation_cost(schema, document, operation, variables, result.data, actual=True),
                            emulator.requested_cost_scale) if result.data else 0
            actual = min(actual, requested)
            shop.bucket.refund(requested - actual)
            status_now = shop.bucket.status()
            shop.stats.costs.append(CostSample(time.monotonic(), requested, actual, status_now["currentlyAvailable"]))
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["data"] = result.data
        extensions: dict[str, Any] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                               "throttleStatus": status_now}}
        if ctx.search_warnings:
            extensions["search"] = [{"path": [], "query": "", "warnings": [{"field": None, "message": w}]
                                     } for w in dict.fromkeys(ctx.search_warnings)]
        answer["extensions"] = extensions
        return 200, answer


def _bulk_bytes(emulator: "ShopifyEmulator", match: re.Match) -> bytes:
    found = emulator.bulk_file(match["token"])
    if found is None:
        return b""
    with open(found[0], "rb") as file:
        return file.read()


def scaled(cost: int, scale: float) -> int:
    return cost if scale == 1.0 else max(1, round(cost * scale))


def served_version(requested: str, supported: tuple[str, ...]) -> str:
    """Shopify serves a supported version as asked; any other (too old, or not released) falls forward
    to the oldest supported one."""
    if requested == "unstable" or requested in supported:
        return requested
    return supported[0]


def _operation_name(query: str) -> str | None:
    m = re.search(r"\b(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)", query)
    return m.group(1) if m else None

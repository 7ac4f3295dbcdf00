"""The fault matrix's faults, for both emulators: one plan per emulator, every kind of HTTP trouble the
reliability suite injects, each aimed at one operation and, with `after`, at its n-th request (a middle page).

    plan = faults_of(emulator)           # created on first use; the emulator's server consults it
    plan.add("429", "Orders", after=1)   # the second Orders request gets a 429 with Retry-After

Kinds:
- "429": HTTP 429 with `Retry-After` (Shopify's REST-style throttle; SP-API only rarely sends one);
  "429-bare": the same without `Retry-After` (SP-API's usual QuotaExceeded);
- "500", "503": the platform's own JSON error body; "502-html": a gateway's HTML page;
- "slow": the answer comes after `delay` seconds (beyond the client's timeout);
- "drop": the connection closes with no answer; "truncated": the headers promise a body that is cut in the
  middle (for a download: the file stops half-way);
- "not-json": HTTP 200 with an HTML body (a captive portal, a proxy's error page);
- "graphql-internal": HTTP 200 whose GraphQL `errors` say INTERNAL_SERVER_ERROR (Shopify only);
- "revoked": the merchant or seller revoked the app there and then (Shopify 401; SP-API 403, and LWA
  refuses the refresh token; the test reinstates it);
- "replay": the answer this operation gave last time, sent again (a caching proxy replaying one answer): its
  next-page token is one the client already has, so a sync that trusts it pages forever;
- "missing-field": the normal answer with every key named `field` removed from its JSON (an answer not in the
  shape of the schema, e.g. a connection without `pageInfo`);
- "call": no fault: `on_call(operation)` runs, then the request is answered normally (the crash trials kill
  the syncing process there, in the middle of a download).

This module only answers; the emulators' servers call `answer()` at the top of each route (one line each),
so their own fault injection (`inject`) is untouched.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

KINDS = ("429", "429-bare", "500", "502-html", "503", "slow", "drop", "truncated", "not-json",
         "graphql-internal", "revoked", "replay", "missing-field", "call")


@dataclass
class PlannedFault:
    kind: str
    operation: str  # an operation name ("Orders", "searchOrders", "bulk-file", "reportDocument", ...) or "*"
    remaining: int
    after: int = 0  # matching requests answered normally first
    delay: float = 0.0
    field: str = ""  # for "missing-field"
    hits: int = 0


@dataclass
class FaultPlan:
    faults: list[PlannedFault] = field(default_factory=list)
    injected: int = 0
    requests: int = 0  # every request the emulator's routes asked about (the crash trials pick one to kill at)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_revoke: Callable[[Any], None] | None = None  # set by the test: what revoking means there
    on_call: Callable[[str], None] | None = None  # for "call"
    answers: dict[str, bytes] = field(default_factory=dict)  # each operation's last successful body, for "replay"

    def add(self, kind: str, operation: str = "*", *, times: int = 1, after: int = 0, delay: float = 0.0,
            field: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        with self.lock:
            self.faults.append(PlannedFault(kind, operation, times, after, delay, field))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def pending(self) -> int:
        with self.lock:
            return sum(f.remaining for f in self.faults)

    def take(self, operation: str) -> PlannedFault | None:
        with self.lock:
            self.requests += 1
            chosen = None
            for fault in self.faults:
                if fault.remaining <= 0 or fault.operation not in ("*", operation):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                elif chosen is None:
                    chosen = fault
            if chosen is not None:
                chosen.remaining -= 1
                chosen.hits += 1
                self.injected += 1
            return chosen


_PLANS_LOCK = threading.Lock()


def faults_of(emulator: Any) -> FaultPlan:
    """The emulator's plan (one per emulator object)."""
    with _PLANS_LOCK:
        plan = getattr(emulator, "_http_fault_plan", None)
        if plan is None:
            plan = FaultPlan()
            emulator._http_fault_plan = plan
        return plan


# -- answering ----------------------------------------------------------------------------------------------

def sent(handler: BaseHTTPRequestHandler, emulator: Any, status: int, body: bytes) -> bytes:
    """Called by the emulators' `_send` with every answer: remembers the operation's last successful body,
    and for a "replay" fault returns the one before instead (the body to send)."""
    plan = getattr(emulator, "_http_fault_plan", None)
    operation = getattr(handler, "_fault_operation", None)
    if plan is None or operation is None or status != 200:
        return body
    with plan.lock:
        if getattr(handler, "_fault_replay", False):
            handler._fault_replay = False
            return plan.answers.get(operation, body)
        plan.answers[operation] = body
    strip = getattr(handler, "_fault_strip", "")
    if strip:
        handler._fault_strip = ""
        return json.dumps(_without(json.loads(body), strip)).encode()
    return body


def _without(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_without(v, key) for v in value]
    return value


def _write(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
           headers: dict[str, str] | None = None, *, cut: bool = False) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2] if cut else body)
    if cut:
        _close(handler)


def _close(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    try:
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _error_body(dialect: str, status: int) -> bytes:
    if dialect == "shopify":
        text = {429: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
                     "service.", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
        return json.dumps({"errors": text}).encode()
    code, message = {429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
                     500: ("InternalFailure", "We encountered an internal error. Please try again."),
                     503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again.")}[status]
    return json.dumps({"errors": [{"code": code, "message": message, "details": ""}]}).encode()


def answer(handler: BaseHTTPRequestHandler, emulator: Any, operation: str, dialect: str, *,
           context: Any = None, download: Callable[[], bytes] | None = None,
           headers: Callable[[int], dict[str, str]] | None = None) -> bool:
    """Answer this request with the next planned fault for `operation`, if any; True when it was answered
    (or dropped) and the route must stop. "slow" sleeps and returns False: the normal answer follows, late.
    `context`: what `on_revoke` needs (the request's access token); `download`: the body a download route
    would send (read only for "truncated"); `headers(status)`: what the platform adds to an error answer of
    this operation (SP-API's x-amzn-RateLimit-Limit)."""
    plan = getattr(emulator, "_http_fault_plan", None)
    if plan is None:
        return False
    handler._fault_operation = operation  # what `sent()` files this request's answer under
    fault = plan.take(operation)
    if fault is None:
        return False
    kind = fault.kind
    if kind == "replay":
        handler._fault_replay = True
        return False
    if kind == "missing-field":
        handler._fault_strip = fault.field
        return False
    if kind == "call":
        if plan.on_call is not None:
            plan.on_call(operation)
        return False
    if kind == "slow":
        time.sleep(fault.delay)
        return False
    if kind == "drop":
        _close(handler)
        return True
    if kind in ("429", "429-bare"):
        extra = {**(headers(429) if headers else {}), **({"Retry-After": "0.05"} if kind == "429" else {})}
        _write(handler, 429, _error_body(dialect, 429), "application/json", extra)
    elif kind in ("500", "503"):
        _write(handler, int(kind), _error_body(dialect, int(kind)), "application/json",
               headers(int(kind)) if headers else None)
    elif kind == "502-html":
        _write(handler, 502, b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
                             b"</h1></center></body></html>", "text/html")
    elif kind == "not-json":
        _write(handler, 200, b"<!DOCTYPE html><html><body>Please sign in to the network</body></html>", "text/html")
    elif kind == "truncated":
        body = download() if download is not None else json.dumps(
            {"data": {"padding": "x" * 2048}, "extensions": {}}).encode()
        _write(handler, 200, body, "application/octet-stream" if download is not None else "application/json",
               cut=True)
    elif kind == "graphql-internal":
        request_id = "9a1b6a3c-5d2e-4f70-8e21-3c4d5e6f7a8b"
        _write(handler, 200, json.dumps({"errors": [{
            "message": f"Internal error. Looks like something went wrong on our end.\nRequest ID: {request_id} "
                       "(include this in support requests).",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}]}).encode(), "application/json")
    elif kind == "revoked":
        if plan.on_revoke is not None:
            plan.on_revoke(context)
        if dialect == "shopify":
            _write(handler, 401, json.dumps({"errors": "[API] Invalid API key or access token (unrecognized login "
                                                       "or wrong password)"}).encode(), "application/json")
        else:
            _write(handler, 403, json.dumps({"errors": [{
                "code": "Unauthorized", "message": "Access to requested resource is denied.",
                "details": "The access token you provided is revoked, malformed or invalid."}]}).encode(),
                "application/json")
    return True

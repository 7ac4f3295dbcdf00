"""A local PostgREST emulator for the Supabase REST store's tests: one real HTTP server on loopback.

It speaks the subset of Supabase's REST API (`/rest/v1`, PostgREST behind Supabase's API gateway) that
`sync.store.supabase_rest` uses, against a real PostgreSQL database:

- `POST /rest/v1/rpc/<function>` with a JSON object: the function whose parameter names fit the keys is
  called with named arguments, the JSON values converted to the parameter types by PostgreSQL itself
  (`json_to_record`, as PostgREST does); the answer is a JSON scalar, object (one composite) or array
  (a set), per the function's return type.
- `GET /rest/v1/<table>?select=...&col=eq.value&order=...`: a JSON array of rows (see reads.py).
- Keys: the `apikey` header must be one of the configured keys (else the gateway's 401); a
  `Authorization: Bearer` token, when sent, must be one too and JWT-shaped (three dot-separated parts,
  as legacy anon/service_role keys are; else PGRST301). Each key maps to a database
  role that the request's transaction switches to (`SET LOCAL ROLE`), like PostgREST does from the
  JWT's `role` claim; `None` runs as the connecting user.
- Every request is one transaction, rolled back on error; errors are `{"code", "message", "details",
  "hint"}` with PostgREST's HTTP statuses (errors.py).
- `max_rows` (Supabase's "Max rows", 1000 by default) caps table reads and set-returning functions,
  silently, as Supabase does; `limit`/`offset` query parameters page through both.
- Fault injection for tests: `fail_next["POST rpc/<name>"] = n` answers the next n such requests 503;
  `drop_next[...] = n` closes the connection of the next n without doing anything, `drop_after_next[...] = n`
  runs them and then closes the connection without answering (the call happened, the caller cannot know).

Usage: `with PostgrestEmulator(dsn) as emu: create_client(emu.url, emu.service_key)`.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit
from contextlib import contextmanager

import psycopg
from psycopg import sql

from . import catalog, reads
from .errors import PgrstError, bad_jwt, from_database, gateway_bad_key, gateway_no_key

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Pool:
    """A few open connections shared by the request threads (PostgREST keeps a pool too)."""

    def __init__(self, dsn: str, size: int):
        self._dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        self._slots.acquire()
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = psycopg.connect(self._dsn, autocommit=False, application_name="postgrest-emulator")
            try:
                yield conn
            finally:
                if conn.closed or conn.broken:
                    pass
                else:
                    conn.rollback()
                    self._idle.put(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class PostgrestEmulator:
    def __init__(self, dsn: str, *, keys: Mapping[str, str | None] | None = None, host: str = "127.0.0.1",
                 port: int = 0, pool_size: int = 10, max_rows: int | None = 1000):
        # JWT-shaped, as a legacy service_role key is (the emulator checks the shape, not a signature).
        self.service_key = f"eyJhbGciOiJIUzI1NiJ9.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        self.keys: dict[str, str | None] = dict(keys) if keys is not None else {self.service_key: None}
        if keys is not None:
            # The first key is the one tests hand to the store.
            self.service_key = next(iter(self.keys))
        # Supabase's "Max rows" (PostgREST's db-max-rows, 1000 by default on Supabase): a cap on the rows of
        # every table read and set-returning function, whatever limit the request asks.
        self.max_rows = max_rows
        self.requests: Counter[str] = Counter()  # "POST rpc/api_sync_write_page" -> count
        self.fail_next: dict[str, int] = {}  # path -> how many answers to replace with 503 (fault injection)
        self.drop_next: dict[str, int] = {}  # path -> how many requests to drop unanswered, not run
        self.drop_after_next: dict[str, int] = {}  # path -> how many requests to run, then drop unanswered
        self._lock = threading.Lock()
        self._pool = _Pool(dsn, pool_size)
        with self._pool.connection() as conn:
            # The exposed schema, resolved once as the connecting user (PostgREST's `db-schemas`).
            self.schema = conn.execute("SELECT current_schema()").fetchone()[0]
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PostgrestEmulator":
        self._thread = threading.Thread(target=self._server.serve_forever, name="postgrest-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._pool.close()

    def __enter__(self) -> "PostgrestEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- requests -----------------------------------------------------------------------------------
    def _count(self, key: str) -> bool:
        """Count a request; True when an injected fault should answer it instead."""
        with self._lock:
            self.requests[key] += 1
            left = self.fail_next.get(key, 0)
            if left:
                self.fail_next[key] = left - 1
                return True
        return False

    def _take(self, faults: dict[str, int], key: str) -> bool:
        """Consume one fault of `faults` for this request key, if any is left."""
        with self._lock:
            left = faults.get(key, 0)
            if left:
                faults[key] = left - 1
            return bool(left)

    def _role(self, headers: Mapping[str, str]) -> tuple[str | None, bool]:
        apikey = headers.get("apikey")
        if not apikey:
            raise gateway_no_key()
        if apikey not in self.keys:
            raise gateway_bad_key()
        auth = headers.get("Authorization")
        if auth:
            token = auth[7:] if auth.lower().startswith("bearer ") else ""
            # PostgREST reads the Bearer token as a JWT: it must have three parts, and (standing for the
            # signature check) be one of the configured keys.
            if len(token.split(".")) != 3 or token not in self.keys:
                raise bad_jwt(token)
            return self.keys[token], True
        return self.keys[apikey], False

    @staticmethod
    def _begin(conn: psycopg.Connection, role: str | None, *, read_only: bool = False) -> None:
        if read_only:
            # First statement of the transaction: PostgREST runs GET requests read-only.
            conn.execute("SET TRANSACTION READ ONLY")
        if role is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps({"role": role}),))

    def _window(self, query: list[tuple[str, str]]) -> tuple[int | None, int]:
        """limit and offset of a request, the limit capped by max_rows."""
        params = dict(query)
        try:
            limit = int(params["limit"]) if "limit" in params else None
            offset = int(params.get("offset") or 0)
        except ValueError:
            raise PgrstError(400, "PGRST100", "limit and offset must be integers") from None
        if self.max_rows is not None:
            limit = self.max_rows if limit is None else min(limit, self.max_rows)
        return limit, offset

    def call(self, function: str, args: Mapping[str, Any], role: str | None, with_token: bool,
             query: list[tuple[str, str]] | None = None) -> str:
        if not _NAME.match(function):
            raise PgrstError(404, "PGRST202", f"Could not find the function {function} in the schema cache")
        with self._pool.connection() as conn:
            try:
                self._begin(conn, role)
                fn = catalog.resolve(conn, self.schema, function, args)
                given = [p for p in fn.params if p.name in args]
                call = sql.SQL("{}.{}({})").format(
                    sql.Identifier(fn.schema), sql.Identifier(fn.name),
                    sql.SQL(", ").join(sql.SQL("{} := _args.{}").format(sql.Identifier(p.name), sql.Identifier(p.name))
                                       for p in given))
                record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(p.name), sql.SQL(p.type_sql))
                                            for p in given)
                source = (sql.SQL("json_to_record(%s::json) AS _args({})").format(record) if given
                          else sql.SQL("(SELECT 1) AS _args"))
                if fn.returns_set:
                    limit, offset = self._window(query or [])
                    rows = sql.SQL("SELECT _r FROM {}, LATERAL {} _r OFFSET {}").format(source, call, sql.Literal(offset))
                    if limit is not None:
                        rows += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
                    query = sql.SQL("SELECT COALESCE(json_agg(_w._r), '[]'::json)::text FROM ({}) _w").format(rows)
                elif fn.returns_composite:
                    query = sql.SQL("SELECT row_to_json(_r)::text FROM {}, LATERAL {} _r").format(source, call)
                else:
                    query = sql.SQL("SELECT to_json({})::text FROM {}").format(call, source)
                row = conn.execute(query, (json.dumps(dict(args)),) if given else ()).fetchone()
                conn.commit()
            except PgrstError:
                conn.rollback()
                raise
            except psycopg.Error as exc:
                conn.rollback()
                raise from_database(exc, with_token=with_token) from None
        if fn.returns_void:
            return ""
        return row[0] if row and row[0] is not None else "null"

    def read(self, table: str, query: list[tuple[str, str]], role: str | None, with_token: bool) -> str:
        if not _NAME.match(table):
            raise PgrstError(404, "PGRST205", f"Could not find the table '{table}' in the schema cache")
        with self._pool.connection() as conn:
            try:
                self._begin(conn, role, read_only=True)
                columns = catalog.table_columns(conn, self.schema, table)
                limit, offset = self._window(query)
                window = [(k, v) for k, v in query if k not in ("limit", "offset")]
                window += ([("limit", str(limit))] if limit is not None else []) + [("offset", str(offset))]
                statement, params = reads.build_select(self.schema, table, columns, window)
                text = conn.execute(statement, params).fetchone()[0]
                conn.commit()
            except PgrstError:
                conn.rollback()
                raise
            except psycopg.Error as exc:
                conn.rollback()
                raise from_database(exc, with_token=with_token) from None
        return text

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
                # until the client's delayed ACK (~40 ms a request on loopback), which no real server has.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:  # quiet: tests read counters instead
                pass

            def _answer(self, status: int, body: str, extra: Mapping[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, error: PgrstError) -> None:
                self._answer(error.status, json.dumps(error.body()))

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                path = parts.path
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not path.startswith("/rest/v1/"):
                    self._answer(404, json.dumps({"message": "no Route matched with those values"}))
                    return
                resource = path[len("/rest/v1/"):]
                try:
                    role, with_token = emulator._role(self.headers)
                    if emulator._count(f"{method} {resource}"):
                        raise PgrstError(503, "PGRST000", "Database client error. Retrying the connection.")
                    if emulator._take(emulator.drop_next, f"{method} {resource}"):
                        self.close_connection = True  # the gateway lost the request: nothing ran
                        return
                    profile = self.headers.get("Accept-Profile") or self.headers.get("Content-Profile")
                    if profile and profile not in ("public",):
                        raise PgrstError(406, "PGRST106", "Invalid schema: " + profile,
                                         hint="Only the following schemas are exposed: public")
                    if method == "POST" and resource.startswith("rpc/"):
                        try:
                            args = json.loads(raw or b"{}")
                        except ValueError:
                            raise PgrstError(400, "PGRST102", "Empty or invalid json") from None
                        if not isinstance(args, dict):
                            raise PgrstError(400, "PGRST102", "Empty or invalid json")
                        body = emulator.call(resource[4:], args, role, with_token,
                                             parse_qsl(parts.query, keep_blank_values=True))
                        if emulator._take(emulator.drop_after_next, f"{method} {resource}"):
                            self.close_connection = True  # committed, but the answer never leaves
                            return
                        self._answer(204 if body == "" else 200, body)
                    elif method == "GET" and "/" not in resource:
                        body = emulator.read(resource, parse_qsl(parts.query, keep_blank_values=True), role,
                                             with_token)
                        count = len(json.loads(body))
                        self._answer(200, body, {"Content-Range": f"0-{count - 1}/*" if count else "*/*"})
                    else:
                        raise PgrstError(405, "PGRST117", f"Unsupported HTTP method: {method}")
                except PgrstError as error:
                    self._error(error)

            def do_POST(self) -> None:
                self._route("POST")

            def do_GET(self) -> None:
                self._route("GET")

            def do_PATCH(self) -> None:
                self._route("PATCH")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        return Handler

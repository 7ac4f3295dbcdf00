"""The embedded SQLite store (stdlib): the default when no database is configured.

Every operation is a named statement of sql/sqlite_queries.sql; the tables are sql/sqlite_schema.sql.
WAL mode lets the dashboard read while a sync writes; every write transaction starts with BEGIN
IMMEDIATE, so claims are atomic across threads and processes on the same file.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .. import timeutil
from ..errors import ConfigError
from ..ids import client_of_data_table, data_table, normalize_uuid, quote_ident, sku_cache_table
from ..models import Integration, RunParams, WorkerId
from . import rows
from .base import LeaseLost, PageScope, SkuRow, StagedRow
from .core import StoreCore
from .rows import Json
from .statements import SCHEMA_VERSION, read, split, statements

# Rows of one multi-row statement: 100 rows of 9 values stay under 999 bound values, the limit of SQLite
# builds before 3.32.
ROWS_PER_STATEMENT = 100


class _Params(dict):
    """A parameter a statement names but the operation does not pass is NULL."""

    def __missing__(self, key: str) -> None:
        return None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return timeutil.fixed(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Json):
        return json.dumps(value.value)
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    if isinstance(value, Decimal):
        return str(value)  # into a NUMERIC column: an exact integer or a REAL, as it fits
    return value


class SqliteConnector:
    """Named statements on one sqlite3 connection. Datetimes go as fixed-width UTC text, lists and
    `Json` as JSON text; a block of several statements runs in one write transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.sql = statements("sqlite")
        self._in_write = False
        self._split: dict[str, list[str]] = {}
        self._rendered: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    @contextmanager
    def write(self) -> Iterator[None]:
        if self._in_write:
            yield
            return
        self.conn.execute(self.sql["begin_write"])
        self._in_write = True
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            self._in_write = False
        self.conn.commit()

    def _text(self, name: str, params: Mapping[str, Any], parts: Mapping[str, str] | None) -> str:
        if parts is None:
            if "{table}" not in self.sql[name]:
                return self.sql[name]
            parts = {"table": quote_ident(data_table(params["client_id"]))}  # the client's data table
        key = (name, tuple(sorted(parts.items())))
        found = self._rendered.get(key)
        if found is None:
            found = self._rendered[key] = self.sql.render(name, parts)
        return found

    def _statements(self, text: str) -> list[str]:
        # Split once per text: a page runs the same few statements over and over.
        found = self._split.get(text)
        if found is None:
            found = self._split[text] = split(text)
        return found

    def run(self, name: str, params: Mapping[str, Any], parts: Mapping[str, str] | None = None) -> sqlite3.Cursor:
        bound = _Params((k, _encode(v)) for k, v in params.items())
        statements_ = self._statements(self._text(name, params, parts))
        if len(statements_) == 1:
            return self.conn.execute(statements_[0], bound)
        with self.write():
            for statement in statements_:
                cur = self.conn.execute(statement, bound)
        return cur

    def many(self, name: str, values: Sequence[Any], parts: Mapping[str, str]) -> None:
        self.conn.executemany(self._text(name, {}, parts), values)

    def many_rows(self, name: str, values: Sequence[Sequence[Any]], parts: Mapping[str, str]) -> None:
        """`name` over many rows, ROWS_PER_STATEMENT rows a statement (its `{rows}` part): the page write.

        Not executemany: it steps SQLite once a row, releasing the GIL and taking it back each time, and
        while the staging thread serializes the next page each take-back waits for it; a page of 250 then
        costs the two threads' time added up. One statement of many rows steps once."""
        for start in range(0, len(values), ROWS_PER_STATEMENT):
            chunk = values[start:start + ROWS_PER_STATEMENT]
            marks = "(" + ", ".join("?" * len(chunk[0])) + ")"
            text = self._text(name, {}, {**parts, "rows": ", ".join([marks] * len(chunk))})
            self.conn.execute(text, [value for row in chunk for value in row])

    def rows(self, name: str, params: Mapping[str, Any], parts: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        cur = self.run(name, params, parts)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def value(self, name: str, params: Mapping[str, Any]) -> Any:
        row = self.run(name, params).fetchone()
        return row[0] if row else None

    def count(self, name: str, params: Mapping[str, Any]) -> int:
        return self.run(name, params).rowcount

    def close(self) -> None:
        self.conn.close()


@lru_cache(maxsize=None)
def _template(script: str) -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, declaration)]} of a script of CREATE TABLEs, read back from an empty database:
    the declarations an older table gets its missing columns with."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in split(script):
            conn.execute(statement)
        tables = [r[0] for r in conn.execute(statements("sqlite")["list_tables"])]
        out = {}
        for table in tables:
            columns = []
            for name, type_, _notnull, default, _pk in conn.execute(
                    statements("sqlite")["table_columns"], {"table": table}):
                # ADD COLUMN takes neither a key nor NOT NULL without a default: type and default only.
                columns.append((name, f"{type_} DEFAULT {default}" if default is not None else type_))
            out[table] = columns
        return out
    finally:
        conn.close()


class SqlitePageTransaction:
    def __init__(self, db: SqliteConnector, scope: PageScope):
        self._db = db
        self.scope = scope

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        cur = self._db.run("stored_hashes", {"client_id": self.scope.client_id, "credential_id": self.scope.credential_id,
                                             "data_type": self.scope.data_type, "external_ids": list(external_ids)})
        return dict(cur.fetchall())

    def write(self, new: Sequence[StagedRow], changed: Sequence[StagedRow], now: datetime) -> None:
        # One upsert for both: the page holds SQLite's single writer lock, so no other writer can have
        # stored a "new" row meanwhile (and the lease is checked in this transaction).
        stamp, fixed = timeutil.fixed(now), timeutil.fixed
        credential, platform, data_type = self.scope.credential_id, self.scope.platform, self.scope.data_type
        self._db.many_rows("upsert_rows", [
            (credential, platform, data_type, r.external_id, r.data_json, r.record_hash,
             fixed(r.source_updated_at) if r.source_updated_at else None, stamp, stamp)
            for part in (new, changed) for r in part
        ], {"table": quote_ident(data_table(self.scope.client_id))})

    def mark_deleted(self, data_type: str, external_ids: Sequence[str], deleted_at: datetime) -> int:
        # In the page's write transaction: its save_state checks the lease before anything commits.
        if not external_ids:
            return 0
        return self._db.count("mark_deleted", {"client_id": self.scope.client_id,
                                               "credential_id": self.scope.credential_id, "data_type": data_type,
                                               "external_ids": list(external_ids), "deleted_at": deleted_at})

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        saved = self._db.count("save_state", {
            "credential_id": self.scope.credential_id, "worker_id": self.scope.worker_id,
            "data_type": self.scope.data_type, "state": Json(state) if state is not None else None,
            "lease_until": lease_until})
        if saved != 1:
            raise LeaseLost(f"lease on integration {self.scope.credential_id} was lost")


class SqliteStore(StoreCore):
    kind = "sqlite"

    def __init__(self, path: str):
        # isolation_level=None: we issue BEGIN ourselves; check_same_thread: one store per thread anyway,
        # but the lease keeper opens and closes its own from another thread.
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            for statement in split(statements("sqlite")["open"]):
                conn.execute(statement)
        except (sqlite3.Error, OSError) as exc:  # a directory, no permission, not a database: bad configuration
            raise ConfigError(f"cannot open the SQLite database {path} (SQLITE_PATH): {exc}") from None
        self._sqlite = SqliteConnector(conn)
        super().__init__(self._sqlite)

    def _complete(self, table: str, script: str, template_table: str) -> None:
        """Add the columns an older `table` lacks, declared as in `script`'s `template_table`."""
        present = {r["name"] for r in self._sqlite.rows("table_columns", {"table": table})}
        for column, declaration in _template(script)[template_table]:
            if column not in present:
                self._sqlite.run("add_column", {}, {"table": quote_ident(table), "column": quote_ident(column),
                                                    "declaration": declaration})

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        schema = read("sqlite_schema.sql")
        with self._sqlite.write():
            for statement in split(schema):
                self._sqlite.conn.execute(statement)
            for table in _template(schema):
                self._complete(table, schema, table)
            # Client data tables an older version made get this version's columns (deleted_at, say).
            for table in self._sqlite.rows("list_tables", {}):
                client = client_of_data_table(table["name"])
                if client is not None:
                    self._create_data_table(client)
            self._sqlite.run("indexes", {})
            self._sqlite.run("key_results", {})
            self._sqlite.run("set_schema_version", {"version": SCHEMA_VERSION})

    def _create_data_table(self, client_id: str) -> None:
        name = data_table(client_id)
        parts = {"table": quote_ident(name), "dedup_index": quote_ident(f"{name}_dedup_key"),
                 "updated_index": quote_ident(f"{name}_updated_idx"),
                 "deleted_index": quote_ident(f"{name}_deleted_idx")}
        with self._sqlite.write():
            self._sqlite.run("create_data_table", {}, parts)
            self._complete(name, self._sqlite.sql.render("create_data_table", {"table": "t"}), "t")
            self._sqlite.run("create_data_indexes", {}, parts)

    # -- scheduling ---------------------------------------------------------------------------------
    def claim_next(self, now: datetime, params: RunParams, worker: WorkerId, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None:
        # Inside BEGIN IMMEDIATE: SQLite's single writer lock makes select-then-update atomic.
        with self._sqlite.write():
            due = self._sqlite.rows("list_due", {**rows.due_params(now, params), "exclude": list(exclude),
                                                 "limit": 1})
            if not due:
                return None
            row = due[0]
            self._sqlite.count("claim", {"credential_id": row["credential_id"], "worker_id": str(worker),
                                         "lease_until": lease_until})
        return rows.integration({**row, "locked_by": str(worker), "locked_until": lease_until,
                                 "previous_holder": row["locked_by"]})

    # -- data ---------------------------------------------------------------------------------------
    @contextmanager
    def _page(self, scope: PageScope) -> Iterator[SqlitePageTransaction]:
        with self._sqlite.write():
            yield SqlitePageTransaction(self._sqlite, scope)

    def ids_where(self, client_id: str, credential_id: str, data_type: str, path: Sequence[str],
                  values: Sequence[str]) -> list[str]:
        # SQLite has no path query that looks into arrays on the way: each live row's JSON is walked
        # here, read in keyset batches (never the whole table at once).
        wanted = set(values)
        if not wanted:
            return []
        client = normalize_uuid(client_id)
        found, after = [], ""
        while True:
            batch = self._sqlite.rows("live_rows", {"client_id": client, "credential_id": credential_id,
                                                    "data_type": data_type, "after": after, "limit": 2000})
            if not batch:
                return found
            for row in batch:
                if wanted.intersection(rows.values_at(json.loads(row["data"]), path)):
                    found.append(row["external_id"])
            after = batch[-1]["external_id"]

    # -- SKU analysis -------------------------------------------------------------------------------
    def replace_sku_cache(self, client_id: str, sku_rows: Sequence[SkuRow]) -> None:
        name = sku_cache_table(client_id)
        parts = {"table": quote_ident(name)}
        with self._sqlite.write():
            self._sqlite.run("create_sku_cache", {}, parts)
            self._complete(name, self._sqlite.sql.render("create_sku_cache", {"table": "t"}), "t")
            self._sqlite.run("clear_sku_cache", {}, parts)
            self._sqlite.many("insert_sku_row", [{k: _encode(v) for k, v in asdict(r).items()} for r in sku_rows],
                              parts)

"""The embedded SQLite store (stdlib): the default when no database is configured.

WAL mode lets the dashboard read while a sync writes; every write transaction starts with
BEGIN IMMEDIATE, so claims are atomic across threads and processes on the same file.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from decimal import Decimal
from typing import Any, Iterator, Sequence

from ..errors import ConfigError
from ..ids import data_table, quote_ident, sku_cache_table
from ..models import Integration, RunParams, ScheduleUpdate, SyncResult
from . import sqlite_sql as SQL
from .base import DataRow, LeaseLost, SkuRow, StagedRow

# SQLite's default limit of bound variables is 32766 on current builds, 999 on old ones.
_IN_CHUNK = 900

_TS_COLUMNS = ("last_sync_at", "next_sync_at", "locked_until", "created_at", "updated_at",
               "started_at", "finished_at", "source_updated_at", "first_synced_at", "last_synced_at")
_JSON_COLUMNS = ("sync_state", "data_types_synced", "params", "summary", "data")


def ts(value: datetime | None) -> str | None:
    """Fixed-width UTC text, so that comparing text compares time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in _TS_COLUMNS:
        if key in out and isinstance(out[key], str):
            out[key] = parse_ts(out[key])
    for key in _JSON_COLUMNS:
        if key in out and isinstance(out[key], str):
            out[key] = json.loads(out[key])
    for key in ("is_active", "success"):
        if key in out and out[key] is not None:
            out[key] = bool(out[key])
    return out


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i:i + _IN_CHUNK]


class SqlitePageTransaction:
    def __init__(self, conn: sqlite3.Connection, table: str, credential_id: str, platform: str, data_type: str,
                 worker_id: str):
        self._conn = conn
        self._table = table
        self._credential_id = credential_id
        self._platform = platform
        self._data_type = data_type
        self._worker_id = worker_id

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        return _lookup(self._conn, SQL.STORED_HASHES, self._table, self._credential_id, self._data_type,
                       external_ids)

    def upsert(self, rows: Sequence[StagedRow], now: datetime) -> None:
        stamp = ts(now)
        self._conn.executemany(SQL.UPSERT.format(table=self._table), [
            (self._credential_id, self._platform, self._data_type, r.external_id, r.data_json, r.record_hash,
             ts(r.source_updated_at), stamp, stamp)
            for r in rows
        ])

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        row = self._conn.execute(SQL.GET_SYNC_STATE, (self._credential_id, self._worker_id)).fetchone()
        if row is None:
            raise LeaseLost(f"lease on integration {self._credential_id} was lost")
        merged = json.loads(row[0] or "{}")
        if not isinstance(merged, dict):  # a hand-edited or legacy value starts over as an object
            merged = {}
        if state is not None:
            merged[self._data_type] = state
        self._conn.execute(SQL.SAVE_STATE, (json.dumps(merged), ts(lease_until), self._credential_id,
                                            self._worker_id))


def _lookup(conn: sqlite3.Connection, statement: str, table: str, credential_id: str, data_type: str,
            external_ids: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in _chunks(list(external_ids)):
        sql = statement.format(table=table, marks=",".join("?" * len(chunk)))
        out.update(conn.execute(sql, (credential_id, data_type, *chunk)).fetchall())
    return out


class SqliteStore:
    kind = "sqlite"

    def __init__(self, path: str):
        # isolation_level=None: we issue BEGIN ourselves; check_same_thread: one store per thread anyway,
        # but the lease keeper opens and closes its own from another thread.
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
        except (sqlite3.Error, OSError) as exc:  # a directory, no permission, not a database: bad configuration
            raise ConfigError(f"cannot open the SQLite database {path} (SQLITE_PATH): {exc}") from None
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=60000")
        self._ready_tables: set[str] = set()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self._conn.execute(sql, params)
        cur.row_factory = sqlite3.Row  # type: ignore[assignment]
        return [_decode(r) for r in cur.fetchall()]

    def _add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        present = {r[0] for r in self._conn.execute(SQL.TABLE_COLUMNS, (table,)).fetchall()}
        for column, decl in columns.items():
            if column not in present:
                self._conn.execute(SQL.ADD_COLUMN.format(table=quote_ident(table), column=quote_ident(column),
                                                         decl=decl))

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        schema = resources.files("sync.store").joinpath("sql/sqlite_schema.sql").read_text()
        with self._write() as conn:
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            self._add_missing_columns("client_api_credentials", SQL.CREDENTIAL_COLUMNS)
            self._add_missing_columns("client_api_sync_results", SQL.RESULT_COLUMNS)
            for statement in SQL.INDEXES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(SQL.CLEAR_SCHEMA_VERSION)
            conn.execute(SQL.SET_SCHEMA_VERSION, (SQL.SCHEMA_VERSION,))

    def ensure_schema(self) -> None:
        if self._conn.execute(SQL.TABLE_EXISTS, ("api_sync_schema_version",)).fetchone():
            version = self._conn.execute(SQL.GET_SCHEMA_VERSION).fetchone()[0]
            if (version or 0) >= SQL.SCHEMA_VERSION:
                return
        self.init_db()

    def ensure_data_table(self, client_id: str) -> None:
        name = data_table(client_id)
        if name in self._ready_tables:
            return
        table = quote_ident(name)
        with self._write() as conn:
            conn.execute(SQL.CREATE_DATA_TABLE.format(table=table))
            self._add_missing_columns(name, SQL.DATA_COLUMNS)
            for statement in SQL.CREATE_DATA_INDEXES.format(
                    table=table, dedup_index=quote_ident(f"{name}_dedup_key"),
                    updated_index=quote_ident(f"{name}_updated_idx")).split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._ready_tables.add(name)

    # -- integrations -------------------------------------------------------------------------------
    def insert_integration(self, integration: Integration) -> None:
        with self._write() as conn:
            conn.execute(SQL.INSERT_INTEGRATION, {
                "credential_id": integration.credential_id, "client_id": integration.client_id,
                "platform_type": integration.platform_type, "display_name": integration.display_name,
                "credentials": integration.credentials, "status": integration.status,
                "is_active": int(integration.is_active), "next_sync_at": ts(integration.next_sync_at),
                "sync_frequency_hours": integration.sync_frequency_hours, "now": ts(integration.created_at),
            })

    def get_integration(self, credential_id: str) -> Integration | None:
        rows = self._rows(SQL.GET_INTEGRATION, (credential_id,))
        return Integration(**rows[0]) if rows else None

    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]:
        return [Integration(**r) for r in self._rows(SQL.LIST_INTEGRATIONS,
                                                     {"client_id": client_id, "platform": platform})]

    def delete_integration(self, credential_id: str) -> bool:
        with self._write() as conn:
            return conn.execute(SQL.DELETE_INTEGRATION, (credential_id,)).rowcount == 1

    def set_credentials_blob(self, credential_id: str, token: str) -> None:
        with self._write() as conn:
            conn.execute(SQL.SET_CREDENTIALS_BLOB, (token, ts(datetime.now(timezone.utc)), credential_id))

    def reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        with self._write() as conn:  # BEGIN IMMEDIATE: no claim can slip in between the read and the write
            row = conn.execute(SQL.GET_UNLEASED_STATE, (credential_id, ts(now))).fetchone()
            if row is None:
                return False  # unknown, or a sync holds its lease
            state = json.loads(row[0] or "{}")
            state = {k: v for k, v in state.items() if k not in data_types} if isinstance(state, dict) else {}
            conn.execute(SQL.SET_STATE_AND_NEXT, (json.dumps(state), None if due_now else row[1], ts(now),
                                                  credential_id))
            return True

    # -- scheduling ---------------------------------------------------------------------------------
    @staticmethod
    def _due_params(now: datetime, params: RunParams) -> dict[str, Any]:
        return {"force": int(params.force), "now": ts(now), "client_id": params.client_id,
                "platform": params.platform}

    def list_due(self, now: datetime, params: RunParams) -> list[Integration]:
        return [Integration(**r) for r in self._rows(SQL.LIST_DUE, self._due_params(now, params))]

    def claim_next(self, now: datetime, params: RunParams, worker_id: str, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None:
        excluded = set(exclude)
        with self._write() as conn:
            for credential_id, previous in conn.execute(SQL.CLAIM_CANDIDATES, self._due_params(now, params)):
                if credential_id not in excluded:
                    conn.execute(SQL.CLAIM, (worker_id, ts(lease_until), credential_id))
                    break
            else:
                return None
        integration = self.get_integration(credential_id)
        if integration is not None:
            integration.previous_holder = previous
        return integration

    def renew_lease(self, credential_id: str, worker_id: str, lease_until: datetime) -> bool:
        with self._write() as conn:
            return conn.execute(SQL.RENEW_LEASE, (ts(lease_until), credential_id, worker_id)).rowcount == 1

    # -- data ---------------------------------------------------------------------------------------
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]:
        raw = _lookup(self._conn, SQL.STORED_VERSIONS, quote_ident(data_table(client_id)), credential_id,
                      data_type, external_ids)
        return {k: parse_ts(v) for k, v in raw.items()}

    @contextmanager
    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker_id: str) -> Iterator[SqlitePageTransaction]:
        with self._write() as conn:
            yield SqlitePageTransaction(conn, quote_ident(data_table(client_id)), credential_id, platform,
                                        data_type, worker_id)

    # -- results ------------------------------------------------------------------------------------
    def finish_attempt(self, result: SyncResult, update: ScheduleUpdate, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(SQL.INSERT_RESULT, {
                "result_id": result.result_id, "run_id": result.run_id, "client_id": result.client_id,
                "credential_id": result.credential_id, "platform_type": result.platform_type,
                "records_fetched": result.records_fetched, "records_stored": result.records_stored,
                "sync_duration_seconds": result.duration_seconds, "success": int(result.success),
                "data_types_synced": json.dumps(result.data_types_synced()), "triggered_by": result.triggered_by,
                "error_message": result.error_message, "started_at": ts(result.started_at),
                "finished_at": ts(result.finished_at),
            })
            conn.execute(SQL.FINISH_INTEGRATION, {
                "status": update.status, "error_message": update.error_message,
                "consecutive_failures": update.consecutive_failures, "last_sync_at": ts(update.last_sync_at),
                "next_sync_at": ts(update.next_sync_at), "now": ts(result.finished_at),
                "credential_id": result.credential_id, "worker_id": worker_id,
            })

    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None:
        with self._write() as conn:
            conn.execute(SQL.START_RUN, (run_id, params.triggered_by, json.dumps(params.as_json()), ts(started_at)))

    def close_abandoned_runs(self, now: datetime, older_than: datetime, message: str) -> int:
        with self._write() as conn:
            return conn.execute(SQL.CLOSE_ABANDONED_RUNS,
                                {"now": ts(now), "older_than": ts(older_than), "message": message}).rowcount

    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(SQL.FINISH_RUN, (status, ts(finished_at), json.dumps(summary), run_id))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._rows(SQL.GET_RUN, (run_id,))
        return rows[0] if rows else None

    def list_results(self, credential_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        return self._rows(SQL.LIST_RESULTS, {"credential_id": credential_id, "run_id": run_id})

    # -- SKU analysis ---------------------------------------------------------------------------------
    def list_client_ids(self) -> list[str]:
        return [r[0] for r in self._conn.execute(SQL.LIST_CLIENT_IDS).fetchall()]

    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        self.ensure_data_table(client_id)
        sql = SQL.DATA_BATCH.format(table=quote_ident(data_table(client_id)), marks=",".join("?" * len(data_types)))
        last_id = 0
        while True:
            batch = self._conn.execute(sql, (last_id, *data_types, batch_size)).fetchall()
            for row_id, credential_id, platform, data_type, external_id, data in batch:
                yield DataRow(credential_id=credential_id, platform_type=platform, data_type=data_type,
                              external_id=external_id, data=json.loads(data) if isinstance(data, str) else data)
            if len(batch) < batch_size:
                return
            last_id = batch[-1][0]

    def replace_sku_cache(self, client_id: str, rows: Sequence[SkuRow]) -> None:
        name = sku_cache_table(client_id)
        table = quote_ident(name)
        with self._write() as conn:
            conn.execute(SQL.CREATE_SKU_CACHE.format(table=table))
            self._add_missing_columns(name, SQL.SKU_CACHE_COLUMNS)
            conn.execute(SQL.CLEAR_SKU_CACHE.format(table=table))
            conn.executemany(SQL.INSERT_SKU_ROW.format(table=table), [
                (r.sku, r.title, json.dumps(r.platforms), r.units_sold_7d, r.units_sold_30d, r.units_sold_90d,
                 r.orders_30d, _number(r.revenue_30d), r.currency_code, r.inventory_available,
                 _number(r.avg_daily_units_30d), _number(r.days_of_cover), ts(r.last_sold_at), ts(r.computed_at))
                for r in rows
            ])


def _number(value: Decimal | None) -> str | None:
    # Text into a NUMERIC column: SQLite stores it as an exact integer or a REAL, as it fits.
    return None if value is None else str(value)

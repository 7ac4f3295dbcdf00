"""The PostgreSQL store (psycopg 3): production, including a client's Supabase database.

Prepared statements are off (`prepare_threshold=None`) because Supabase's transaction pooler
(port 6543) cannot keep them between transactions; every write is a short explicit transaction.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from typing import Any, Iterator, Sequence
from urllib.parse import unquote

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..errors import ConfigError
from ..ids import data_table, quote_ident, sku_cache_table
from ..models import Integration, RunParams, ScheduleUpdate, SyncResult
from . import postgres_sql as SQL
from .postgres_page import PostgresPageTransaction
from .base import DataRow, LeaseLost, SkuRow, StagedRow


def _integration(row: dict[str, Any]) -> Integration:
    return Integration(**row)


def _scrub_password(dsn: str, message: str) -> str:
    """`message` without the URL's password, nor any piece of it a URL delimiter would cut off."""
    rest = dsn.split("://", 1)[-1]
    userinfo = rest[:rest.rfind("@")] if "@" in rest else ""
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    if not password:
        return message
    pieces = {password, unquote(password), *re.split(r"[@:/?#%\s]", password)}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 3 and piece in message:
            message = message.replace(piece, "***")
    return message


class PostgresStore:
    kind = "postgres"

    def __init__(self, dsn: str, *, connect_timeout: int = 15):
        try:
            self._conn = psycopg.connect(
                dsn, autocommit=True, prepare_threshold=None, row_factory=dict_row,
                connect_timeout=connect_timeout, application_name="api_sync",
            )
        except psycopg.Error as exc:
            # The message names host and database; a malformed URL (an unencoded "@" or space in the
            # password) can make libpq quote the password or a piece of it: those are scrubbed.
            message = _scrub_password(dsn, (str(exc).strip().splitlines() or [type(exc).__name__])[0])
            raise ConfigError(f"cannot connect to DATABASE_URL: {message}") from None
        self._ready_tables: set[str] = set()

    def close(self) -> None:
        self._conn.close()

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        schema = resources.files("sync.store").joinpath("sql/postgres_schema.sql").read_text()
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SQL.INIT_LOCK_KEY,))
            self._conn.execute(schema)
            # The functions behind the Supabase REST store (supabase_rest.py): `init-db` with the pooler
            # DATABASE_URL installs them too, so a project can later run with only the REST settings.
            self._conn.execute(resources.files("sync.store").joinpath("sql/supabase_functions.sql").read_text())
            self._conn.execute(SQL.CLEAR_SCHEMA_VERSION)
            self._conn.execute(SQL.SET_SCHEMA_VERSION, {"version": SQL.SCHEMA_VERSION})

    def ensure_schema(self) -> None:
        if self._conn.execute(SQL.TABLE_EXISTS, ("api_sync_schema_version",)).fetchone()["present"]:
            version = self._conn.execute(SQL.GET_SCHEMA_VERSION).fetchone()
            if version and (version["max"] or 0) >= SQL.SCHEMA_VERSION:
                return
        self.init_db()

    def ensure_data_table(self, client_id: str) -> None:
        name = data_table(client_id)
        if name in self._ready_tables:
            return
        table = quote_ident(name)
        present = {r["column_name"] for r in self._conn.execute(SQL.DATA_TABLE_COLUMNS, (name,)).fetchall()}
        missing = [c for c in SQL.DATA_COLUMN_TYPES if c not in present]
        if not present or missing:
            with self._conn.transaction():
                # Two workers syncing one client's integrations both create its table on the first sync:
                # CREATE TABLE IF NOT EXISTS alone lets the second fail on pg_type's unique index.
                self._conn.execute(SQL.TABLE_DDL_LOCK, (name,))
                self._conn.execute(SQL.CREATE_DATA_TABLE.format(table=table))
                if not present:
                    self._conn.execute(SQL.ENABLE_RLS.format(table=table))
                for column in missing if present else ():
                    self._conn.execute(SQL.ADD_DATA_COLUMN.format(
                        table=table, column=quote_ident(column), type=SQL.DATA_COLUMN_TYPES[column]))
                self._conn.execute(SQL.CREATE_DATA_INDEXES.format(
                    table=table, dedup_index=quote_ident(f"{name}_dedup_key"),
                    updated_index=quote_ident(f"{name}_updated_idx")))
        self._ready_tables.add(name)

    # -- integrations -------------------------------------------------------------------------------
    def insert_integration(self, integration: Integration) -> None:
        with self._conn.transaction():
            self._conn.execute(SQL.INSERT_INTEGRATION, {
                "credential_id": integration.credential_id, "client_id": integration.client_id,
                "platform_type": integration.platform_type, "display_name": integration.display_name,
                "credentials": integration.credentials, "status": integration.status,
                "is_active": integration.is_active, "next_sync_at": integration.next_sync_at,
                "sync_frequency_hours": integration.sync_frequency_hours, "now": integration.created_at,
            })

    def get_integration(self, credential_id: str) -> Integration | None:
        row = self._conn.execute(SQL.GET_INTEGRATION, (credential_id,)).fetchone()
        return _integration(row) if row else None

    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]:
        rows = self._conn.execute(SQL.LIST_INTEGRATIONS, {"client_id": client_id, "platform": platform}).fetchall()
        return [_integration(r) for r in rows]

    def delete_integration(self, credential_id: str) -> bool:
        return self._conn.execute(SQL.DELETE_INTEGRATION, (credential_id,)).rowcount == 1

    def set_credentials_blob(self, credential_id: str, token: str) -> None:
        self._conn.execute(SQL.SET_CREDENTIALS_BLOB, (token, credential_id))

    def reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        return self._conn.execute(SQL.RESET_CURSORS, {"credential_id": credential_id, "data_types": list(data_types),
                                                      "due_now": due_now, "now": now}).rowcount == 1

    # -- scheduling ---------------------------------------------------------------------------------
    @staticmethod
    def _due_params(now: datetime, params: RunParams) -> dict[str, Any]:
        return {"force": params.force, "now": now, "client_id": params.client_id, "platform": params.platform}

    def list_due(self, now: datetime, params: RunParams) -> list[Integration]:
        return [_integration(r) for r in self._conn.execute(SQL.LIST_DUE, self._due_params(now, params)).fetchall()]

    def claim_next(self, now: datetime, params: RunParams, worker_id: str, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None:
        with self._conn.transaction():
            row = self._conn.execute(SQL.CLAIM_NEXT, {
                **self._due_params(now, params), "exclude": list(exclude), "worker_id": worker_id,
                "lease_until": lease_until,
            }).fetchone()
        return _integration(row) if row else None

    def renew_lease(self, credential_id: str, worker_id: str, lease_until: datetime) -> bool:
        return self._conn.execute(SQL.RENEW_LEASE, (lease_until, credential_id, worker_id)).rowcount == 1

    # -- data ---------------------------------------------------------------------------------------
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]:
        if not external_ids:
            return {}
        rows = self._conn.execute(
            SQL.STORED_VERSIONS.format(table=quote_ident(data_table(client_id))),
            (list(external_ids), credential_id, data_type),
        ).fetchall()
        return {r["external_id"]: r["source_updated_at"] for r in rows}

    @contextmanager
    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker_id: str) -> Iterator[PostgresPageTransaction]:
        with self._conn.transaction():
            yield PostgresPageTransaction(self._conn, quote_ident(data_table(client_id)), credential_id,
                                          platform, data_type, worker_id)

    # -- results ------------------------------------------------------------------------------------
    def finish_attempt(self, result: SyncResult, update: ScheduleUpdate, worker_id: str) -> None:
        with self._conn.transaction():
            self._conn.execute(SQL.INSERT_RESULT, {
                "result_id": result.result_id, "run_id": result.run_id, "client_id": result.client_id,
                "credential_id": result.credential_id, "platform_type": result.platform_type,
                "records_fetched": result.records_fetched, "records_stored": result.records_stored,
                "sync_duration_seconds": result.duration_seconds, "success": result.success,
                "data_types_synced": Jsonb(result.data_types_synced()), "triggered_by": result.triggered_by,
                "error_message": result.error_message, "started_at": result.started_at,
                "finished_at": result.finished_at,
            })
            self._conn.execute(SQL.FINISH_INTEGRATION, {
                "status": update.status, "error_message": update.error_message,
                "consecutive_failures": update.consecutive_failures, "last_sync_at": update.last_sync_at,
                "next_sync_at": update.next_sync_at, "now": result.finished_at,
                "credential_id": result.credential_id, "worker_id": worker_id,
            })

    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None:
        self._conn.execute(SQL.START_RUN, (run_id, params.triggered_by, Jsonb(params.as_json()), started_at))

    def close_abandoned_runs(self, now: datetime, older_than: datetime, message: str) -> int:
        return self._conn.execute(SQL.CLOSE_ABANDONED_RUNS,
                                  {"now": now, "older_than": older_than, "message": message}).rowcount

    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        self._conn.execute(SQL.FINISH_RUN, (status, finished_at, Jsonb(summary), run_id))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._conn.execute(SQL.GET_RUN, (run_id,)).fetchone()

    def list_results(self, credential_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        return self._conn.execute(SQL.LIST_RESULTS, {"credential_id": credential_id, "run_id": run_id}).fetchall()

    # -- SKU analysis ---------------------------------------------------------------------------------
    def list_client_ids(self) -> list[str]:
        return [r["client_id"] for r in self._conn.execute(SQL.LIST_CLIENT_IDS).fetchall()]

    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        self.ensure_data_table(client_id)
        table = quote_ident(data_table(client_id))
        bounds = self._conn.execute(SQL.DATA_ID_BOUNDS.format(table=table)).fetchone()
        if bounds is None or bounds["low"] is None:
            return
        low, high = bounds["low"] - 1, bounds["high"]
        sql = SQL.DATA_RANGE.format(table=table)
        while low < high:
            # At most `batch_size` rows per range (ids are unique); upserts leave gaps, so ranges may hold fewer.
            top = low + batch_size
            for row in self._conn.execute(sql, (low, top, list(data_types))).fetchall():
                yield DataRow(credential_id=row["credential_id"], platform_type=row["platform_type"],
                              data_type=row["data_type"], external_id=row["external_id"], data=row["data"])
            low = top

    def replace_sku_cache(self, client_id: str, rows: Sequence[SkuRow]) -> None:
        name = sku_cache_table(client_id)
        table = quote_ident(name)
        with self._conn.transaction():
            self._conn.execute(SQL.TABLE_DDL_LOCK, (name,))
            created = not self._conn.execute(SQL.TABLE_EXISTS, (table,)).fetchone()["present"]
            self._conn.execute(SQL.CREATE_SKU_CACHE.format(table=table))
            if created:
                self._conn.execute(SQL.ENABLE_RLS.format(table=table))
            # ALTER only what is missing: an ALTER locks out the dashboard's readers until the commit.
            present = {r["column_name"] for r in self._conn.execute(SQL.DATA_TABLE_COLUMNS, (name,)).fetchall()}
            for column, type_ in SQL.SKU_CACHE_COLUMN_TYPES.items():
                if column not in present:
                    self._conn.execute(SQL.ADD_SKU_CACHE_COLUMN.format(table=table, column=quote_ident(column),
                                                                       type=type_))
            self._conn.execute(SQL.CLEAR_SKU_CACHE.format(table=table))
            with self._conn.cursor() as cur:
                cur.executemany(SQL.INSERT_SKU_ROW.format(table=table), [
                    (r.sku, r.title, Jsonb(r.platforms), r.units_sold_7d, r.units_sold_30d, r.units_sold_90d,
                     r.orders_30d, r.revenue_30d, r.currency_code, r.inventory_available, r.avg_daily_units_30d,
                     r.days_of_cover, r.last_sold_at, r.computed_at)
                    for r in rows
                ])

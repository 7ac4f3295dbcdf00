"""One page of one data type written to PostgreSQL: the hot path of every sync.

Per page the engine asks for the stored hashes of the page's ids, then writes the new and changed
rows and moves the cursor, all in one transaction. The write avoids a staging table (creating a
temp table per page costs catalog writes and round trips and doubled the heap work):
- new rows are COPYed straight into the data table (the fastest load PostgreSQL has). The unique
  dedup index still guards against a row another writer inserted meanwhile: only another sync of the
  same integration writes these keys, i.e. the lease was lost, so the page rolls back with LeaseLost
  (no savepoint: it cost two round trips per page);
- changed rows go through `api_sync_upsert_rows`, one statement over parallel arrays sent in binary,
  sent with the cursor and the lease check (`api_sync_save_state`) in one round trip.
Both functions are those the Supabase REST store calls (sql/postgres_functions.sql); the COPY and the
lookup (a function would cost a fifth of it) are this store's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from ..ids import data_table, quote_ident
from .base import LeaseLost, PageScope, StagedRow
from .statements import statements

LEASE_LOST_SQLSTATE = "ASL01"  # raised by api_sync_save_state


def probe(conn: psycopg.Connection, client_id: str, column: str, params: dict[str, Any]) -> list[tuple[str, Any]]:
    """(external_id, column) of the ids stored (the page's lookup, and the fetchers' stored versions)."""
    statement = statements("postgres").render("stored_hashes", {
        "table": quote_ident(data_table(client_id)), "column": quote_ident(column)})
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(statement, params).fetchall()


class PostgresPageTransaction:
    def __init__(self, conn: psycopg.Connection, scope: PageScope):
        self._conn = conn
        self._sql = statements("postgres")
        self.scope = scope
        self._changed: list[StagedRow] = []  # written with the next save_state, or by flush
        self._now: datetime | None = None

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        return dict(probe(self._conn, self.scope.client_id, "record_hash", {
            "credential_id": self.scope.credential_id, "data_type": self.scope.data_type,
            "external_ids": list(external_ids)}))

    def write(self, new: Sequence[StagedRow], changed: Sequence[StagedRow], now: datetime) -> None:
        if new:
            try:
                self._copy_new(new, now)
            except psycopg.errors.UniqueViolation:
                # A row this page found absent is there now: only another sync of the same integration
                # writes these keys, so the lease was lost. The page rolls back.
                raise LeaseLost(f"another worker wrote integration {self.scope.credential_id}'s records "
                                "meanwhile") from None
        if changed:
            # Sent with the cursor (save_state, or the end of the page): one round trip less per page.
            self._changed.extend(changed)
            self._now = now

    def _changed_params(self) -> dict[str, Any]:
        rows, self._changed = self._changed, []
        return {"client_id": self.scope.client_id, "credential_id": self.scope.credential_id,
                "platform": self.scope.platform, "data_type": self.scope.data_type, "now": self._now,
                "external_ids": [r.external_id for r in rows], "data": [r.data_json for r in rows],
                "hashes": [r.record_hash for r in rows], "updated": [r.source_updated_at for r in rows]}

    def flush(self) -> None:
        """Write changed rows no save_state has taken along (the page's transaction ends next)."""
        if self._changed:
            self._conn.execute(self._sql["upsert_rows"], self._changed_params())

    def _copy_new(self, rows: Sequence[StagedRow], now: datetime) -> None:
        fixed = (self.scope.credential_id, self.scope.platform, self.scope.data_type)
        table = quote_ident(data_table(self.scope.client_id))
        with self._conn.cursor().copy(self._sql.render("copy_new_rows", {"table": table})) as copy:
            for row in rows:
                copy.write_row((*fixed, row.external_id, row.data_json, row.record_hash, row.source_updated_at,
                                now, now))

    def mark_deleted(self, data_type: str, external_ids: Sequence[str], deleted_at: datetime) -> int:
        if not external_ids:
            return 0
        try:
            row = self._conn.execute(self._sql["mark_deleted"], {
                "client_id": self.scope.client_id, "credential_id": self.scope.credential_id, "data_type": data_type,
                "external_ids": list(external_ids), "deleted_at": deleted_at,
                "worker_id": self.scope.worker_id}).fetchone()
        except psycopg.Error as exc:
            if exc.sqlstate == LEASE_LOST_SQLSTATE:
                raise LeaseLost(f"lease on integration {self.scope.credential_id} was lost") from None
            raise
        return int(next(iter(row.values())) or 0) if row else 0

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        params = {"credential_id": self.scope.credential_id, "worker_id": self.scope.worker_id,
                  "data_type": self.scope.data_type, "state": Jsonb(state) if state is not None else None,
                  "lease_until": lease_until}
        try:
            if self._changed:
                self._conn.execute(self._sql["upsert_rows_and_save_state"], {**self._changed_params(), **params})
            else:
                self._conn.execute(self._sql["save_state"], params)
        except psycopg.Error as exc:
            if exc.sqlstate == LEASE_LOST_SQLSTATE:
                raise LeaseLost(f"lease on integration {self.scope.credential_id} was lost") from None
            raise

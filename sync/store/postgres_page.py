"""One page of one data type written to PostgreSQL: the hot path of every sync.

Per page the engine asks for the stored hashes of the page's ids, then writes the new and changed
rows and moves the cursor, all in one transaction. The write avoids a staging table (creating a
temp table per page costs catalog writes and round trips and doubled the heap work):
- new rows are COPYed straight into the data table (the fastest load PostgreSQL has). The unique
  dedup index still guards against a row another writer inserted meanwhile: only another sync of the
  same integration writes these keys, i.e. the lease was lost, so the page rolls back with LeaseLost
  (no savepoint: it cost two round trips per page);
- changed rows go through `api_sync_upsert_rows`, one statement over parallel arrays sent in binary;
- the cursor and the lease check are `api_sync_save_state`.
The lookup and both functions are those the Supabase REST store calls (sql/postgres_functions.sql);
only the COPY is this store's own.
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


class PostgresPageTransaction:
    def __init__(self, conn: psycopg.Connection, scope: PageScope):
        self._conn = conn
        self._sql = statements("postgres")
        self.scope = scope

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        with self._conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(self._sql["stored_hashes"], (self.scope.client_id, self.scope.credential_id,
                                                     self.scope.data_type, list(external_ids)))
            return dict(cur.fetchall())

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
            self._conn.execute(self._sql["upsert_rows"], {
                "client_id": self.scope.client_id, "credential_id": self.scope.credential_id,
                "platform": self.scope.platform, "data_type": self.scope.data_type, "now": now,
                "external_ids": [r.external_id for r in changed],
                "data": [r.data_json for r in changed], "hashes": [r.record_hash for r in changed],
                "updated": [r.source_updated_at for r in changed],
            })

    def _copy_new(self, rows: Sequence[StagedRow], now: datetime) -> None:
        fixed = (self.scope.credential_id, self.scope.platform, self.scope.data_type)
        table = quote_ident(data_table(self.scope.client_id))
        with self._conn.cursor().copy(self._sql.render("copy_new_rows", {"table": table})) as copy:
            for row in rows:
                copy.write_row((*fixed, row.external_id, row.data_json, row.record_hash, row.source_updated_at,
                                now, now))

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        try:
            self._conn.execute(self._sql["save_state"], {
                "credential_id": self.scope.credential_id, "worker_id": self.scope.worker_id,
                "data_type": self.scope.data_type, "state": Jsonb(state) if state is not None else None,
                "lease_until": lease_until})
        except psycopg.Error as exc:
            if exc.sqlstate == LEASE_LOST_SQLSTATE:
                raise LeaseLost(f"lease on integration {self.scope.credential_id} was lost") from None
            raise

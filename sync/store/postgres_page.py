"""One page of one data type written to PostgreSQL: the hot path of every sync.

Per page the engine asks for the stored hashes of the page's ids, then writes the new and changed
rows and moves the cursor, all in one transaction. The write avoids a staging table (creating a
temp table per page costs catalog writes and round trips and doubled the heap work):
- rows whose id `stored_hashes` did not find are COPYed straight into the data table (the fastest
  load PostgreSQL has). The unique dedup index still guards against a row another writer inserted
  meanwhile: only another sync of the same integration writes these keys, i.e. the lease was lost,
  so the page rolls back with LeaseLost (no savepoint: it cost two round trips per page);
- changed rows (all rows, when the hashes were not asked for) go through one
  `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE`, with the arrays sent in binary.
The statements are in postgres_sql.py with the rest of the store's SQL.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Sequence

import psycopg
from psycopg.rows import tuple_row

from . import postgres_sql as SQL
from .base import LeaseLost, StagedRow


class PostgresPageTransaction:
    def __init__(self, conn: psycopg.Connection, table: str, credential_id: str, platform: str,
                 data_type: str, worker_id: str):
        self._conn = conn
        self._table = table
        self._credential_id = credential_id
        self._platform = platform
        self._data_type = data_type
        self._worker_id = worker_id
        # Ids this transaction saw stored (None: not asked, so every row may exist).
        self._stored: set[str] | None = None

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        if external_ids:
            with self._conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(SQL.STORED_HASHES.format(table=self._table),
                            (list(external_ids), self._credential_id, self._data_type))
                found = dict(cur.fetchall())
        self._stored = set(found) if self._stored is None else self._stored | set(found)
        return found

    def upsert(self, rows: Sequence[StagedRow], now: datetime) -> None:
        if not rows:
            return
        stored = self._stored
        new = [] if stored is None else [r for r in rows if r.external_id not in stored]
        existing = list(rows) if stored is None else [r for r in rows if r.external_id in stored]
        if new:
            try:
                self._copy_new(new, now)
            except psycopg.errors.UniqueViolation:
                # A row this transaction just saw absent is there now: only another sync of the same
                # integration writes these keys, so the lease was lost. The page rolls back.
                raise LeaseLost(f"another worker wrote integration {self._credential_id}'s records meanwhile") \
                    from None
        if existing:
            self._upsert(existing, now)

    def _copy_new(self, rows: Sequence[StagedRow], now: datetime) -> None:
        fixed = (self._credential_id, self._platform, self._data_type)
        with self._conn.cursor().copy(SQL.COPY_NEW.format(table=self._table)) as copy:
            for row in rows:
                copy.write_row((*fixed, row.external_id, row.data_json, row.record_hash, row.source_updated_at,
                                now, now))

    def _upsert(self, rows: Sequence[StagedRow], now: datetime) -> None:
        self._conn.execute(SQL.UPSERT_ARRAYS.format(table=self._table), {
            "credential_id": self._credential_id, "platform": self._platform, "data_type": self._data_type,
            "now": now, "external_ids": [r.external_id for r in rows], "data": [r.data_json for r in rows],
            "hashes": [r.record_hash for r in rows], "updated": [r.source_updated_at for r in rows],
        })

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        cur = self._conn.execute(
            SQL.SAVE_STATE,
            {"state": json.dumps(state) if state is not None else None, "data_type": self._data_type,
             "lease_until": lease_until, "credential_id": self._credential_id, "worker_id": self._worker_id},
        )
        if cur.rowcount != 1:
            raise LeaseLost(f"lease on integration {self._credential_id} was lost")

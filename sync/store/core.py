"""The store logic written once, over a small connector per database (procrastinate's JobManager over
its connectors): what each operation means, its parameters, and what its rows become.

A `Connector` runs a named operation and nothing else: PostgreSQL and SQLite run the statement of that
name from their `sql/<dialect>_queries.sql` (on PostgreSQL mostly one call of a function of
postgres_functions.sql), the Supabase REST store calls the same function over HTTPS, the in-memory
store of the engine's tests runs a Python function. A store is `StoreCore` plus what differs: how it
connects, installs its schema and writes a page (and, on SQLite, a claim).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Iterator, Mapping, Protocol, Sequence

from .. import timeutil
from ..ids import data_table, normalize_uuid
from ..models import Integration, RunParams, ScheduleUpdate, SyncResult, WorkerId
from . import rows
from .base import DataRow, PageScope, PageTransaction, SkuRow
from .rows import Json
from .statements import SCHEMA_VERSION


class Connector(Protocol):
    """Runs one named operation with named parameters (datetimes, lists, `rows.Json`, scalars)."""

    def rows(self, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def value(self, name: str, params: Mapping[str, Any]) -> Any:
        """The first column of the first row (a function's result); None when there is no row."""

    def count(self, name: str, params: Mapping[str, Any]) -> int:
        """How many rows the operation changed (or the count or flag its function returns)."""

    def close(self) -> None: ...


class StoreCore:
    """Every store operation but the schema, the page write and the DDL of per-client tables."""

    kind = "?"

    def __init__(self, db: Connector):
        self._db = db
        self._ready_tables: set[str] = set()  # per-client tables this connection made sure of

    def close(self) -> None:
        self._db.close()

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        raise NotImplementedError

    def ensure_schema(self) -> None:
        present = self._db.value("schema_present", {})
        if not present or (self._db.value("schema_version", {}) or 0) < SCHEMA_VERSION:
            self.init_db()

    def ensure_data_table(self, client_id: str) -> None:
        client = normalize_uuid(client_id)
        name = data_table(client)
        if name not in self._ready_tables:
            self._create_data_table(client)
            self._ready_tables.add(name)

    def _create_data_table(self, client_id: str) -> None:
        self._db.value("ensure_data_table", {"client_id": client_id})

    # -- integrations -------------------------------------------------------------------------------
    def insert_integration(self, integration: Integration) -> None:
        self._db.value("insert_integration", rows.integration_params(integration))

    def get_integration(self, credential_id: str) -> Integration | None:
        found = self._db.rows("get_integration", {"credential_id": credential_id})
        return rows.integration(found[0]) if found else None

    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]:
        found = self._db.rows("list_integrations", {"client_id": client_id, "platform": platform})
        return [rows.integration(r) for r in found]

    def delete_integration(self, credential_id: str) -> bool:
        return self._db.count("delete_integration", {"credential_id": credential_id}) == 1

    def set_credentials_blob(self, credential_id: str, token: str) -> None:
        self._db.count("set_credentials", {"credential_id": credential_id, "credentials": token,
                                           "now": timeutil.utcnow()})

    def reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        return self._db.count("reset_cursors", {"credential_id": credential_id, "data_types": list(data_types),
                                                "due_now": due_now, "now": now}) == 1

    # -- scheduling and leases ----------------------------------------------------------------------
    def list_due(self, now: datetime, params: RunParams) -> list[Integration]:
        return [rows.integration(r) for r in self._db.rows("list_due", rows.due_params(now, params))]

    def claim_next(self, now: datetime, params: RunParams, worker: WorkerId, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None:
        row = rows.decode_json(self._db.value("claim_next", {
            **rows.due_params(now, params), "worker_id": str(worker), "lease_until": lease_until,
            "exclude": list(exclude)}))
        return rows.integration(row) if row else None

    def acquire_lease(self, credential_id: str, worker: WorkerId, now: datetime, lease_until: datetime) -> bool:
        return self._db.count("acquire_lease", {"credential_id": credential_id, "worker_id": str(worker), "now": now,
                                                "lease_until": lease_until}) == 1

    def release_lease(self, credential_id: str, worker: WorkerId) -> bool:
        return self._db.count("release_lease", {"credential_id": credential_id, "worker_id": str(worker)}) == 1

    def renew_lease(self, credential_id: str, worker: WorkerId, lease_until: datetime) -> bool:
        return self._db.count("renew_lease", {"credential_id": credential_id, "worker_id": str(worker),
                                              "lease_until": lease_until}) == 1

    # -- data ---------------------------------------------------------------------------------------
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]:
        if not external_ids:
            return {}
        found = self._db.rows("stored_versions", {"client_id": normalize_uuid(client_id),
                                                  "credential_id": credential_id, "data_type": data_type,
                                                  "external_ids": list(external_ids)})
        return {r["external_id"]: timeutil.parse_optional(r["source_updated_at"]) for r in found}

    # -- completeness: what is stored live, for the audit and for following deletions ---------------
    def count_live(self, client_id: str, credential_id: str, data_type: str,
                   updated_between: tuple[datetime, datetime] | None = None) -> int:
        low, high = updated_between or (None, None)
        return int(self._db.value("count_live", {"client_id": normalize_uuid(client_id), "credential_id": credential_id,
                                                 "data_type": data_type, "updated_from": low, "updated_to": high}) or 0)

    def iter_live_ids(self, client_id: str, credential_id: str, data_type: str, batch_size: int = 5000,
                      updated_between: tuple[datetime, datetime] | None = None
                      ) -> Iterator[tuple[str, datetime | None]]:
        client = normalize_uuid(client_id)
        low, high = updated_between or (None, None)
        after = ""
        while True:
            # Keyset on the dedup index; only an empty batch ends the walk (Supabase's "Max rows" may
            # cut a batch short).
            batch = self._db.rows("live_ids", {"client_id": client, "credential_id": credential_id,
                                               "data_type": data_type, "after": after, "limit": batch_size,
                                               "updated_from": low, "updated_to": high})
            for row in batch:
                yield row["external_id"], timeutil.parse_optional(row["source_updated_at"])
            if not batch:
                return
            after = batch[-1]["external_id"]

    def stored_rows(self, client_id: str, credential_id: str, data_type: str,
                    external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not external_ids:
            return {}
        found = self._db.rows("stored_rows", {"client_id": normalize_uuid(client_id), "credential_id": credential_id,
                                              "data_type": data_type, "external_ids": list(external_ids)})
        return {r["external_id"]: rows.decode_json(r["data"]) for r in found}

    def ids_where(self, client_id: str, credential_id: str, data_type: str, path: Sequence[str],
                  values: Sequence[str]) -> list[str]:
        if not values:
            return []
        found = self._db.rows("ids_where", {"client_id": normalize_uuid(client_id), "credential_id": credential_id,
                                            "data_type": data_type, "path": list(path), "values": list(values)})
        return [r["external_id"] for r in found]

    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker: WorkerId) -> AbstractContextManager[PageTransaction]:
        return self._page(PageScope(normalize_uuid(client_id), credential_id, platform, data_type, str(worker)))

    def _page(self, scope: PageScope) -> AbstractContextManager[PageTransaction]:
        """One page's transaction: what each store does its own way."""
        raise NotImplementedError

    # -- results and runs ---------------------------------------------------------------------------
    def finish_attempt(self, result: SyncResult, update: ScheduleUpdate, worker: WorkerId) -> None:
        self._db.count("finish_attempt", rows.attempt_params(result, update, worker))

    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None:
        self._db.count("start_run", {"run_id": run_id, "triggered_by": params.triggered_by,
                                     "params": Json(params.as_json()), "started_at": started_at})

    def close_abandoned_runs(self, now: datetime, older_than: datetime, message: str) -> int:
        """A run is abandoned once it is older than `older_than` and none of its workers holds a live
        lease (their ids name the run); a live run caught between two claims is set right by its own
        finish_run."""
        holders = rows.decode_json(self._db.value("lease_holders", {"now": now})) or []
        live = sorted({worker.run_id for worker in map(WorkerId.parse, holders) if worker is not None})
        return self._db.count("close_abandoned_runs", {"now": now, "older_than": older_than, "message": message,
                                                       "live_runs": live})

    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        self._db.count("finish_run", {"run_id": run_id, "status": status, "finished_at": finished_at,
                                      "summary": Json(rows.plain(summary))})

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        found = self._db.rows("get_run", {"run_id": run_id})
        return rows.decode(found[0]) if found else None

    def list_results(self, credential_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        return [rows.decode(r) for r in self._db.rows("list_results", {"credential_id": credential_id,
                                                                       "run_id": run_id})]

    def latest_results(self) -> dict[str, dict[str, Any]]:
        """{credential_id: its latest result (credential_id, started_at, success, data_types_synced)}."""
        found = rows.decode_json(self._db.value("latest_results", {})) or []
        return {str(r["credential_id"]): rows.decode(r) for r in found}

    # -- SKU analysis -------------------------------------------------------------------------------
    def list_client_ids(self) -> list[str]:
        return list(rows.decode_json(self._db.value("list_client_ids", {})) or [])

    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        client = normalize_uuid(client_id)
        self.ensure_data_table(client)
        after = 0
        while True:
            # Keyset on the primary key. A short batch proves nothing (Supabase's "Max rows" may cap
            # it): only an empty one ends the scan.
            batch = self._db.rows("data_batch", {"client_id": client, "data_types": list(data_types),
                                                 "after_id": after, "limit": batch_size})
            for row in batch:
                yield rows.data_row(row)
            if not batch:
                return
            after = batch[-1]["id"]

    def replace_sku_cache(self, client_id: str, sku_rows: Sequence[SkuRow]) -> None:
        self._db.count("replace_sku_cache", {"client_id": normalize_uuid(client_id),
                                             "rows": Json([rows.sku_row_values(r) for r in sku_rows])})

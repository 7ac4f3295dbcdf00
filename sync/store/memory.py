"""An in-memory store for the engine's unit tests (procrastinate's InMemoryConnector): the store logic
of core.py over Python dicts instead of a database, every operation by the same name.

One `MemoryStore` is shared by every worker of a run (`store_factory=lambda: store`); `close()` keeps
its data. A page transaction holds the store's lock from start to end, as SQLite's writer lock does,
and applies its rows and cursor only when it ends without an error. Nothing here is persisted: the
real stores keep their own tests.
"""

from __future__ import annotations

import copy
import json
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from .base import LeaseLost, PageScope, StagedRow
from .core import StoreCore
from .rows import Json, values_at
from .statements import SCHEMA_VERSION

_INTEGRATION_COLUMNS = ("credential_id", "client_id", "platform_type", "display_name", "credentials", "status",
                        "is_active", "last_sync_at", "next_sync_at", "sync_frequency_hours", "error_message",
                        "sync_state", "consecutive_failures", "locked_by", "locked_until", "created_at", "updated_at")


def _plain(value: Any) -> Any:
    return copy.deepcopy(value.value) if isinstance(value, Json) else value


class MemoryConnector:
    """The named operations, as Python over dicts (what the SQL of the other stores says)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.integrations: dict[str, dict[str, Any]] = {}
        self.results: list[dict[str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.data: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}  # client -> key -> row
        self.sku: dict[str, list[dict[str, Any]]] = {}
        self.next_id = 0
        self.calls: dict[str, int] = {}

    # -- the connector ------------------------------------------------------------------------------
    def _run(self, name: str, params: Mapping[str, Any]) -> Any:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            return copy.deepcopy(getattr(self, f"_{name}")(**{k: _plain(v) for k, v in params.items()}))

    def rows(self, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return list(self._run(name, params))

    def value(self, name: str, params: Mapping[str, Any]) -> Any:
        return self._run(name, params)

    def count(self, name: str, params: Mapping[str, Any]) -> int:
        return int(self._run(name, params) or 0)

    def close(self) -> None:
        pass

    # -- schema -------------------------------------------------------------------------------------
    def _schema_present(self) -> bool:
        return True

    def _schema_version(self) -> int:
        return SCHEMA_VERSION

    def _ensure_data_table(self, client_id: str) -> None:
        self.data.setdefault(client_id, {})

    # -- integrations -------------------------------------------------------------------------------
    def _insert_integration(self, now: datetime, **row: Any) -> str:
        if row["credential_id"] in self.integrations:
            raise ValueError(f"duplicate credential_id {row['credential_id']}")
        self.integrations[row["credential_id"]] = {
            **{c: None for c in _INTEGRATION_COLUMNS}, **row, "sync_state": {}, "consecutive_failures": 0,
            "created_at": now, "updated_at": now}
        return row["credential_id"]

    def _get_integration(self, credential_id: str) -> list[dict[str, Any]]:
        row = self.integrations.get(credential_id)
        return [row] if row else []

    def _list_integrations(self, client_id: str | None, platform: str | None) -> list[dict[str, Any]]:
        rows = [r for r in self.integrations.values()
                if (client_id is None or r["client_id"] == client_id) and (platform is None or r["platform_type"] == platform)]
        return sorted(rows, key=lambda r: (r["client_id"], r["platform_type"], r["created_at"], r["credential_id"]))

    def _delete_integration(self, credential_id: str) -> bool:
        return self.integrations.pop(credential_id, None) is not None

    def _set_credentials(self, credential_id: str, credentials: str, now: datetime) -> bool:
        row = self.integrations.get(credential_id)
        if row:
            row.update(credentials=credentials, updated_at=now)
        return row is not None

    def _reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        row = self.integrations.get(credential_id)
        if row is None or (row["locked_until"] is not None and row["locked_until"] > now):
            return False
        state = row["sync_state"] if isinstance(row["sync_state"], dict) else {}
        row.update(sync_state={k: v for k, v in state.items() if k not in data_types}, updated_at=now,
                   next_sync_at=None if due_now else row["next_sync_at"])
        return True

    # -- scheduling and leases ----------------------------------------------------------------------
    def _list_due(self, now: datetime, force: bool, client_id: str | None, platform: str | None,
                  exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
        due = [r for r in self.integrations.values()
               if r["is_active"] is not False
               and (force or r["next_sync_at"] is None or r["next_sync_at"] <= now)
               and (r["locked_until"] is None or r["locked_until"] <= now)
               and (client_id is None or r["client_id"] == client_id)
               and (platform is None or r["platform_type"] == platform)
               and r["credential_id"] not in exclude]
        return sorted(due, key=lambda r: (r["next_sync_at"] is not None, r["next_sync_at"] or now, r["credential_id"]))

    def _claim_next(self, worker_id: str, lease_until: datetime, **due: Any) -> dict[str, Any] | None:
        found = self._list_due(**due)
        if not found:
            return None
        row = found[0]
        previous = row["locked_by"]
        row.update(locked_by=worker_id, locked_until=lease_until)
        return {**row, "previous_holder": previous}

    def _renew_lease(self, credential_id: str, worker_id: str, lease_until: datetime) -> bool:
        row = self.integrations.get(credential_id)
        if row is None or row["locked_by"] != worker_id:
            return False
        row["locked_until"] = lease_until
        return True

    def _acquire_lease(self, credential_id: str, worker_id: str, now: datetime, lease_until: datetime) -> bool:
        row = self.integrations.get(credential_id)
        if row is None or not (row["locked_until"] is None or row["locked_until"] <= now
                               or row["locked_by"] == worker_id):
            return False
        row.update(locked_by=worker_id, locked_until=lease_until)
        return True

    def _release_lease(self, credential_id: str, worker_id: str) -> bool:
        row = self.integrations.get(credential_id)
        if row is None or row["locked_by"] != worker_id:
            return False
        row.update(locked_by=None, locked_until=None)
        return True

    def _lease_holders(self, now: datetime) -> list[str]:
        return sorted({r["locked_by"] for r in self.integrations.values()
                       if r["locked_by"] and r["locked_until"] and r["locked_until"] > now})

    # -- data ---------------------------------------------------------------------------------------
    def _stored_versions(self, client_id: str, credential_id: str, data_type: str,
                         external_ids: Sequence[str]) -> list[dict[str, Any]]:
        # A row marked deleted has no version: a record that comes back is fetched and written again.
        table = self.data.get(client_id, {})
        return [{"external_id": i, "source_updated_at": None if row["deleted_at"] else row["source_updated_at"]}
                for i in dict.fromkeys(external_ids) if (row := table.get((credential_id, data_type, i)))]

    def _data_batch(self, client_id: str, data_types: Sequence[str], after_id: int,
                    limit: int) -> list[dict[str, Any]]:
        rows = sorted((r for r in self.data.get(client_id, {}).values()
                       if r["id"] > after_id and r["data_type"] in data_types and r["deleted_at"] is None),
                      key=lambda r: r["id"])
        return rows[:limit]

    def _live(self, client_id: str, credential_id: str, data_type: str, updated_from: datetime | None = None,
              updated_to: datetime | None = None) -> list[dict[str, Any]]:
        return sorted((r for r in self.data.get(client_id, {}).values()
                       if r["credential_id"] == credential_id and r["data_type"] == data_type and r["deleted_at"] is None
                       and (updated_from is None or (r["source_updated_at"] and r["source_updated_at"] >= updated_from))
                       and (updated_to is None or (r["source_updated_at"] and r["source_updated_at"] <= updated_to))),
                      key=lambda r: r["external_id"])

    def _count_live(self, client_id: str, credential_id: str, data_type: str, updated_from: datetime | None,
                    updated_to: datetime | None) -> int:
        return len(self._live(client_id, credential_id, data_type, updated_from, updated_to))

    def _live_ids(self, client_id: str, credential_id: str, data_type: str, after: str, limit: int,
                  updated_from: datetime | None, updated_to: datetime | None) -> list[dict[str, Any]]:
        return [{"external_id": r["external_id"], "source_updated_at": r["source_updated_at"]}
                for r in self._live(client_id, credential_id, data_type, updated_from, updated_to)
                if r["external_id"] > after][:limit]

    def _stored_rows(self, client_id: str, credential_id: str, data_type: str,
                     external_ids: Sequence[str]) -> list[dict[str, Any]]:
        table = self.data.get(client_id, {})
        return [{"external_id": i, "data": row["data"], "deleted_at": row["deleted_at"]}
                for i in dict.fromkeys(external_ids) if (row := table.get((credential_id, data_type, i)))]

    def _ids_where(self, client_id: str, credential_id: str, data_type: str, path: Sequence[str],
                   values: Sequence[str]) -> list[dict[str, Any]]:
        wanted = set(values)
        return [{"external_id": r["external_id"]} for r in self._live(client_id, credential_id, data_type)
                if wanted.intersection(values_at(r["data"], path))]

    # -- results and runs ---------------------------------------------------------------------------
    def _finish_attempt(self, status: str, schedule_error: str | None, consecutive_failures: int,
                        last_sync_at: datetime | None, next_sync_at: datetime, worker_id: str,
                        **result: Any) -> bool:
        if not any(r["result_id"] == result["result_id"] for r in self.results):  # idempotent, as the SQL is
            self.results.append({**result, "sync_triggered_by": result.pop("triggered_by")})
        row = self.integrations.get(result["credential_id"])
        if row is None or row["locked_by"] != worker_id:
            return False
        row.update(status=status, error_message=schedule_error, consecutive_failures=consecutive_failures,
                   last_sync_at=last_sync_at or row["last_sync_at"], next_sync_at=next_sync_at, locked_by=None,
                   locked_until=None, updated_at=result["finished_at"])
        return True

    def _start_run(self, run_id: str, triggered_by: str, params: Any, started_at: datetime) -> bool:
        if run_id in self.runs:
            return False
        self.runs[run_id] = {"run_id": run_id, "triggered_by": triggered_by, "params": params, "status": "running",
                             "started_at": started_at, "finished_at": None, "summary": None}
        return True

    def _close_abandoned_runs(self, now: datetime, older_than: datetime, message: str,
                              live_runs: Sequence[str]) -> int:
        closed = 0
        for run in self.runs.values():
            if run["status"] == "running" and run["started_at"] < older_than and run["run_id"] not in live_runs:
                run.update(status="failed", finished_at=now, summary={**(run["summary"] or {}), "error": message})
                closed += 1
        return closed

    def _finish_run(self, run_id: str, status: str, finished_at: datetime, summary: Any) -> bool:
        run = self.runs.get(run_id)
        if run:
            run.update(status=status, finished_at=finished_at, summary=summary)
        return run is not None

    def _get_run(self, run_id: str) -> list[dict[str, Any]]:
        return [self.runs[run_id]] if run_id in self.runs else []

    def _list_results(self, credential_id: str | None, run_id: str | None) -> list[dict[str, Any]]:
        rows = [r for r in self.results if (credential_id is None or r["credential_id"] == credential_id)
                and (run_id is None or r["run_id"] == run_id)]
        return sorted(rows, key=lambda r: (r["started_at"], r["result_id"]))

    def _latest_results(self) -> list[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for r in sorted(self.results, key=lambda r: (r["started_at"], r["result_id"])):
            latest[r["credential_id"]] = {k: r[k] for k in ("credential_id", "started_at", "success")} | {
                "data_types_synced": r["data_types_synced"]}
        return list(latest.values())

    # -- SKU analysis -------------------------------------------------------------------------------
    def _list_client_ids(self) -> list[str]:
        return sorted({r["client_id"].lower() for r in self.integrations.values()})

    def _replace_sku_cache(self, client_id: str, rows: list[dict[str, Any]]) -> int:
        self.sku[client_id] = rows
        return len(rows)


class MemoryPageTransaction:
    def __init__(self, db: MemoryConnector, scope: PageScope):
        self._db = db
        self.scope = scope
        self._key = (scope.credential_id, scope.data_type)
        self._rows: list[tuple[StagedRow, bool, datetime]] = []
        self._state: tuple[dict[str, Any] | None, datetime] | None = None
        self._marks: dict[tuple[str, str, str], datetime] = {}

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        table = self._db.data.get(self.scope.client_id, {})
        return {i: None if row["deleted_at"] else row["record_hash"]  # type: ignore[misc]
                for i in external_ids if (row := table.get((*self._key, i)))}

    def write(self, new: Sequence[StagedRow], changed: Sequence[StagedRow], now: datetime) -> None:
        self._rows.extend((row, True, now) for row in new)
        self._rows.extend((row, False, now) for row in changed)

    def mark_deleted(self, data_type: str, external_ids: Sequence[str], deleted_at: datetime) -> int:
        table = self._db.data.get(self.scope.client_id, {})
        keys = [k for i in dict.fromkeys(external_ids)
                if (row := table.get(k := (self._key[0], data_type, i))) is not None and row["deleted_at"] is None
                and k not in self._marks]
        self._marks.update((k, deleted_at) for k in keys)
        return len(keys)

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        integration = self._db.integrations.get(self._key[0])
        if integration is None or integration["locked_by"] != self.scope.worker_id:
            raise LeaseLost(f"lease on integration {self._key[0]} was lost")
        self._state = (copy.deepcopy(state), lease_until)

    def commit(self) -> None:
        table = self._db.data.setdefault(self.scope.client_id, {})
        if any(is_new and (*self._key, row.external_id) in table for row, is_new, _ in self._rows):
            raise LeaseLost(f"another worker wrote integration {self._key[0]}'s records meanwhile")
        for row, _, now in self._rows:
            key = (*self._key, row.external_id)
            stored = table.get(key)
            if stored is not None and stored["record_hash"] == row.record_hash and stored["deleted_at"] is None:
                continue
            if stored is None:
                self._db.next_id += 1
                stored = table[key] = {"id": self._db.next_id, "credential_id": self._key[0],
                                       "platform_type": self.scope.platform, "data_type": self._key[1],
                                       "external_id": row.external_id, "first_synced_at": now}
            stored.update(data=json.loads(row.data_json), record_hash=row.record_hash,
                          source_updated_at=row.source_updated_at, last_synced_at=now, deleted_at=None)
        for key, deleted_at in self._marks.items():
            if key in table and table[key]["deleted_at"] is None:
                table[key]["deleted_at"] = deleted_at
        if self._state is not None:
            state, lease_until = self._state
            integration = self._db.integrations[self._key[0]]
            if state is not None:
                sync_state = integration["sync_state"] if isinstance(integration["sync_state"], dict) else {}
                integration["sync_state"] = {**sync_state, self._key[1]: state}
            integration["locked_until"] = lease_until


class MemoryStore(StoreCore):
    kind = "memory"

    def __init__(self) -> None:
        self.memory = MemoryConnector()
        super().__init__(self.memory)

    def init_db(self) -> None:
        pass

    @contextmanager
    def _page(self, scope: PageScope) -> Iterator[MemoryPageTransaction]:
        with self.memory.lock:
            tx = MemoryPageTransaction(self.memory, scope)
            yield tx
            tx.commit()

"""The Supabase REST store: a Supabase project reached over HTTPS (PostgREST) with the service-role key.

Used when only SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are set (SPEC section 1). PostgREST runs
no DDL and no multi-request transaction, so every write, and every read of a per-client table, is one
of the PostgreSQL functions of sql/supabase_functions.sql (installed once with the SQL editor); plain
reads of the shared tables use PostgREST's table endpoints.

A page is written by buffering: `stored_hashes` asks the database now (read-only, outside the page's
transaction, which is sound because the lease makes this worker the integration's only writer),
`upsert` and `save_state` collect, and leaving the `page_transaction` block sends one
`api_sync_write_page` call that checks the lease, writes the changed rows and moves the cursor in one
transaction. The pooler DATABASE_URL (the PostgreSQL store) is faster; this store needs no database
password and no outbound port but 443.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError
from ..ids import data_table, normalize_uuid
from ..models import Integration, RunParams, ScheduleUpdate, SyncResult
from .base import DataRow, SkuRow, StagedRow
from .postgres_sql import SCHEMA_VERSION
from .supabase_rpc import INSTALL_HINT, RestClient, RestOptions

log = logging.getLogger("api_sync_cron")

# The version of supabase_functions.sql this code needs (`api_sync_functions_version()`).
FUNCTIONS_VERSION = 2

_INTEGRATION_FIELDS = {f.name for f in fields(Integration)}
_TIMESTAMPS = ("last_sync_at", "next_sync_at", "locked_until", "created_at", "updated_at", "started_at",
               "finished_at")
_RESULT_COLUMNS = ("result_id,run_id,client_id,credential_id,platform_type,records_fetched,records_stored,"
                   "sync_duration_seconds,success,data_types_synced,sync_triggered_by,error_message,started_at,"
                   "finished_at")
_RUN_COLUMNS = "run_id,triggered_by,params,status,started_at,finished_at,summary"


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _parse_ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _TIMESTAMPS:
        if key in row:
            row[key] = _parse_ts(row[key])
    return row


def _integration(row: Mapping[str, Any]) -> Integration:
    """A row of client_api_credentials (any extra columns of an older table are left out)."""
    values = _decode({k: v for k, v in row.items() if k in _INTEGRATION_FIELDS})
    values["credential_id"] = str(values["credential_id"])
    values["client_id"] = str(values["client_id"])
    values.setdefault("display_name", None)
    values.setdefault("credentials", None)
    for key, default in (("is_active", True), ("sync_frequency_hours", 24), ("consecutive_failures", 0)):
        if values.get(key) is None:
            values[key] = default
    if values.get("sync_state") is None:
        values["sync_state"] = {}
    return Integration(**values)


@dataclass
class SupabasePageTransaction:
    """Collects one page; `SupabaseStore.page_transaction` sends it as one atomic call on exit."""

    rest: RestClient
    client_id: str
    credential_id: str
    platform: str
    data_type: str
    worker_id: str
    rows: list[StagedRow] = field(default_factory=list)
    now: datetime | None = None
    state: dict[str, Any] | None = None
    lease_until: datetime | None = None
    written: dict[str, int] = field(default_factory=dict)  # what the database counted, for the log

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        return self.rest.rpc("api_sync_stored_hashes", {
            "p_client_id": self.client_id, "p_credential_id": self.credential_id, "p_data_type": self.data_type,
            "p_external_ids": list(external_ids)}) or {}

    def upsert(self, rows: Sequence[StagedRow], now: datetime) -> None:
        self.rows.extend(rows)
        self.now = now

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        # Checked and applied by api_sync_write_page at commit; LeaseLost is raised from there.
        self.state = state
        self.lease_until = lease_until

    def commit(self, now: datetime) -> None:
        """One api_sync_write_page call, or several when the page is larger than one request may be:
        then only the last part moves the cursor, so a failure between parts re-reads, never skips."""
        parts = list(self._parts())
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            counts = self.rest.rpc("api_sync_write_page", {
                "p_client_id": self.client_id, "p_credential_id": self.credential_id, "p_platform": self.platform,
                "p_data_type": self.data_type, "p_worker_id": self.worker_id,
                "p_rows": [{"external_id": r.external_id, "data": r.data_json, "record_hash": r.record_hash,
                            "source_updated_at": _ts(r.source_updated_at)} for r in part],
                "p_state": self.state if last else None, "p_lease_until": _ts(self.lease_until),
                "p_now": _ts(self.now or now)})
            for key, value in (counts or {}).items():
                self.written[key] = self.written.get(key, 0) + int(value)

    def _parts(self) -> Iterator[list[StagedRow]]:
        limit = self.rest.options.max_request_bytes
        part: list[StagedRow] = []
        size = 0
        for row in self.rows:
            row_size = len(row.data_json) + len(row.external_id) + 200
            if part and size + row_size > limit:
                yield part
                part, size = [], 0
            part.append(row)
            size += row_size
        yield part  # possibly empty: the lease check and the cursor still go through


class SupabaseStore:
    kind = "supabase"

    def __init__(self, url: str, key: str, *, env: Mapping[str, str] | None = None):
        self._rest = RestClient(url, key, RestOptions.from_env(env))
        self._ready_tables: set[str] = set()
        self._schema_checked = False

    def close(self) -> None:
        self._rest.close()

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        """Run the installed api_sync_init_db(): tables created or upgraded, through the REST API.

        The functions themselves cannot be installed over REST; without them this is a ConfigError that
        says which files to run in the SQL editor (the CLI exits 2)."""
        self._check_functions(self._versions())
        self._rest.rpc("api_sync_init_db", {})
        self._schema_checked = True

    def ensure_schema(self) -> None:
        if self._schema_checked:
            return
        versions = self._versions()
        self._check_functions(versions)
        if (versions.get("schema") or 0) < SCHEMA_VERSION:
            self._rest.rpc("api_sync_init_db", {})
        self._schema_checked = True

    def _versions(self) -> Mapping[str, Any]:
        return self._rest.rpc("api_sync_functions_version", {}) or {}

    def _check_functions(self, versions: Mapping[str, Any]) -> None:
        # Functions from an older release would write an older schema or miss an operation: the user
        # must run the files of this release again (the functions cannot be installed over REST).
        if (versions.get("functions") or 0) < FUNCTIONS_VERSION or \
                (versions.get("schema_embedded") or 0) < SCHEMA_VERSION:
            raise ConfigError(f"the API Sync functions in the Supabase project at {self._rest.host} are older "
                              f"than this code: {INSTALL_HINT}")

    def ensure_data_table(self, client_id: str) -> None:
        name = data_table(client_id)
        if name in self._ready_tables:
            return
        self._rest.rpc("api_sync_ensure_data_table", {"p_client_id": normalize_uuid(client_id)})
        self._ready_tables.add(name)

    # -- integrations -------------------------------------------------------------------------------
    def insert_integration(self, integration: Integration) -> None:
        self._rest.rpc("api_sync_insert_integration", {
            "p_credential_id": integration.credential_id, "p_client_id": integration.client_id,
            "p_platform_type": integration.platform_type, "p_display_name": integration.display_name,
            "p_credentials": integration.credentials, "p_status": integration.status,
            "p_is_active": integration.is_active, "p_next_sync_at": _ts(integration.next_sync_at),
            "p_sync_frequency_hours": integration.sync_frequency_hours,
            "p_now": _ts(integration.created_at or datetime.now(timezone.utc)),
        }, idempotent=False)

    def get_integration(self, credential_id: str) -> Integration | None:
        rows = self._rest.select("client_api_credentials", eq={"credential_id": credential_id},
                                 order=("credential_id",))
        return _integration(rows[0]) if rows else None

    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]:
        rows = self._rest.select("client_api_credentials", eq={"client_id": client_id, "platform_type": platform},
                                 order=("client_id", "platform_type", "created_at", "credential_id"))
        return [_integration(r) for r in rows]

    def delete_integration(self, credential_id: str) -> bool:
        return bool(self._rest.rpc("api_sync_delete_integration", {"p_credential_id": credential_id}))

    def set_credentials_blob(self, credential_id: str, token: str) -> None:
        self._rest.rpc("api_sync_set_credentials", {"p_credential_id": credential_id, "p_credentials": token})

    def reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        return bool(self._rest.rpc("api_sync_reset_cursors", {
            "p_credential_id": credential_id, "p_data_types": list(data_types), "p_due_now": due_now,
            "p_now": _ts(now)}))

    # -- scheduling ---------------------------------------------------------------------------------
    @staticmethod
    def _due_params(now: datetime, params: RunParams) -> dict[str, Any]:
        return {"p_now": _ts(now), "p_force": params.force, "p_client_id": params.client_id,
                "p_platform": params.platform}

    def list_due(self, now: datetime, params: RunParams) -> list[Integration]:
        return [_integration(r) for r in self._rest.rpc_rows("api_sync_list_due", self._due_params(now, params))]

    def claim_next(self, now: datetime, params: RunParams, worker_id: str, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None:
        # Not idempotent: a lost answer to a claim that went through must not claim a second one.
        row = self._rest.rpc("api_sync_claim_next", {
            **self._due_params(now, params), "p_worker_id": worker_id, "p_lease_until": _ts(lease_until),
            "p_exclude": list(exclude)}, idempotent=False)
        return _integration(row) if row else None

    def renew_lease(self, credential_id: str, worker_id: str, lease_until: datetime) -> bool:
        return bool(self._rest.rpc("api_sync_renew_lease", {
            "p_credential_id": credential_id, "p_worker_id": worker_id, "p_lease_until": _ts(lease_until)}))

    # -- data ---------------------------------------------------------------------------------------
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]:
        if not external_ids:
            return {}
        found = self._rest.rpc("api_sync_stored_versions", {
            "p_client_id": client_id, "p_credential_id": credential_id, "p_data_type": data_type,
            "p_external_ids": list(external_ids)}) or {}
        return {external_id: _parse_ts(value) for external_id, value in found.items()}

    @contextmanager
    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker_id: str) -> Iterator[SupabasePageTransaction]:
        tx = SupabasePageTransaction(self._rest, client_id, credential_id, platform, data_type, worker_id)
        yield tx  # an exception in the block leaves here: nothing was sent, as a rollback
        tx.commit(datetime.now(timezone.utc))
        log.debug("Page of %s written through Supabase REST: %s", data_type, tx.written)

    # -- results ------------------------------------------------------------------------------------
    def finish_attempt(self, result: SyncResult, update: ScheduleUpdate, worker_id: str) -> None:
        self._rest.rpc("api_sync_finish_attempt", {
            "p_result": {
                "result_id": result.result_id, "run_id": result.run_id, "client_id": result.client_id,
                "credential_id": result.credential_id, "platform_type": result.platform_type,
                "records_fetched": result.records_fetched, "records_stored": result.records_stored,
                "sync_duration_seconds": result.duration_seconds, "success": result.success,
                "data_types_synced": result.data_types_synced(), "triggered_by": result.triggered_by,
                "error_message": result.error_message, "started_at": _ts(result.started_at),
                "finished_at": _ts(result.finished_at),
            },
            "p_schedule": {
                "status": update.status, "error_message": update.error_message,
                "consecutive_failures": update.consecutive_failures, "last_sync_at": _ts(update.last_sync_at),
                "next_sync_at": _ts(update.next_sync_at),
            },
            "p_worker_id": worker_id,
        }, idempotent=False)

    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None:
        self._rest.rpc("api_sync_start_run", {"p_run_id": run_id, "p_triggered_by": params.triggered_by,
                                              "p_params": params.as_json(), "p_started_at": _ts(started_at)})

    def close_abandoned_runs(self, now: datetime, older_than: datetime, message: str) -> int:
        return int(self._rest.rpc("api_sync_close_abandoned_runs", {
            "p_now": _ts(now), "p_older_than": _ts(older_than), "p_message": message}) or 0)

    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        self._rest.rpc("api_sync_finish_run", {"p_run_id": run_id, "p_status": status,
                                               "p_finished_at": _ts(finished_at), "p_summary": summary})

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._rest.select("api_sync_runs", _RUN_COLUMNS, eq={"run_id": run_id}, order=("run_id",))
        return _decode(rows[0]) if rows else None

    def list_results(self, credential_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        rows = self._rest.select("client_api_sync_results", _RESULT_COLUMNS,
                                 eq={"credential_id": credential_id, "run_id": run_id},
                                 order=("started_at", "result_id"))
        return [_decode(r) for r in rows]

    # -- SKU analysis -------------------------------------------------------------------------------
    def list_client_ids(self) -> list[str]:
        return list(self._rest.rpc("api_sync_list_client_ids", {}) or [])

    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        self.ensure_data_table(client_id)
        last_id = 0
        while True:
            batch = self._rest.rpc("api_sync_data_batch", {
                "p_client_id": normalize_uuid(client_id), "p_data_types": list(data_types), "p_after_id": last_id,
                "p_limit": batch_size}) or []
            for row in batch:
                yield DataRow(credential_id=row["credential_id"], platform_type=row["platform_type"],
                              data_type=row["data_type"], external_id=row["external_id"], data=row["data"])
            if not batch:  # (a short batch proves nothing: Supabase's "Max rows" may cap it)
                return
            last_id = batch[-1]["id"]

    def replace_sku_cache(self, client_id: str, rows: Sequence[SkuRow]) -> None:
        def plain(value: Any) -> Any:
            # Decimal as text keeps every digit (PostgreSQL reads it into numeric); times as ISO 8601.
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, datetime):
                return _ts(value)
            return value

        self._rest.rpc("api_sync_replace_sku_cache", {
            "p_client_id": normalize_uuid(client_id),
            "p_rows": [{k: plain(v) for k, v in asdict(r).items()} for r in rows]})

"""The Supabase REST store: a Supabase project reached over HTTPS (PostgREST) with the service-role key.

Used when only SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are set (SPEC section 1). PostgREST runs
no DDL and no multi-request transaction, so every write, and every read of a per-client table, is one
of the functions of sql/postgres_functions.sql, the same the PostgreSQL store calls (installed by the
Supabase migration or by `init-db` with DATABASE_URL); plain reads of the shared tables use PostgREST's
table endpoints.

A page is written by buffering: `stored_hashes` asks the database now (read-only, outside the page's
transaction, which is sound because the lease makes this worker the integration's only writer),
`write` and `save_state` collect, and leaving the `page_transaction` block sends one
`api_sync_write_page` call that checks the lease, writes the changed rows and moves the cursor in one
transaction. The pooler DATABASE_URL (the PostgreSQL store) is faster; this store needs no database
password and no outbound port but 443.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from .. import timeutil
from ..config import Settings, SupabaseOptions
from ..errors import ConfigError
from .base import PageScope, StagedRow
from .core import StoreCore
from .rows import Json
from .statements import SCHEMA_VERSION
from .supabase_rpc import INSTALL_HINT, RestClient

log = logging.getLogger("api_sync_cron")

_RESULT_COLUMNS = ("result_id,run_id,client_id,credential_id,platform_type,records_fetched,records_stored,"
                   "sync_duration_seconds,success,data_types_synced,sync_triggered_by,error_message,started_at,"
                   "finished_at")
_RUN_COLUMNS = "run_id,triggered_by,params,status,started_at,finished_at,summary"
# Plain reads of the shared tables through the table endpoints: (table, columns, filters, order).
_READS = {
    "get_integration": ("client_api_credentials", "*", ("credential_id",), ("credential_id",)),
    "list_integrations": ("client_api_credentials", "*", ("client_id", "platform_type"),
                          ("client_id", "platform_type", "created_at", "credential_id")),
    "get_run": ("api_sync_runs", _RUN_COLUMNS, ("run_id",), ("run_id",)),
    "list_results": ("client_api_sync_results", _RESULT_COLUMNS, ("credential_id", "run_id"),
                     ("started_at", "result_id")),
}
# Calls that must not be sent twice: a lost answer to one that went through would claim a second
# integration, or store a second row.
_ONCE = {"claim_next", "insert_integration", "finish_attempt"}
# Operations the other stores read as rows of api_sync_stored: over REST one JSON object
# {external_id: value} from api_sync_stored_object (one request, whatever Supabase's "Max rows" is).
_STORED = {"stored_versions": "source_updated_at", "stored_hashes": "record_hash"}
# Set-returning functions read page by page (Supabase's "Max rows" cuts an answer short, silently); the
# other sets (data_batch, live_ids) are read by keyset, where a short batch is harmless.
_PAGED = {"list_due", "ids_where"}


def _arg(value: Any) -> Any:
    if isinstance(value, datetime):
        return timeutil.iso(value)
    if isinstance(value, Json):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


class RestConnector:
    """Each operation is the function `api_sync_<name>` called with `p_<parameter>` arguments, or a
    table read."""

    def __init__(self, rest: RestClient):
        self.rest = rest

    def call(self, name: str, params: Mapping[str, Any]) -> Any:
        return self.rest.rpc(f"api_sync_{name}", {f"p_{k}": _arg(v) for k, v in params.items()},
                             idempotent=name not in _ONCE)

    def rows(self, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if name in _READS:
            table, columns, filters, order = _READS[name]
            eq = {column: params.get("platform" if column == "platform_type" else column) for column in filters}
            return self.rest.select(table, columns, eq=eq, order=order)
        if name in _STORED:
            return [{"external_id": k, _STORED[name]: v} for k, v in self.stored(name, params).items()]
        if name in _PAGED:  # a set Supabase's "Max rows" may cut: read page by page
            return self.rest.rpc_rows(f"api_sync_{name}", {f"p_{k}": _arg(v) for k, v in params.items()})
        return list(self.call(name, params) or [])

    def stored(self, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("stored_object", {**params, "field": _STORED[name]}) or {}

    def value(self, name: str, params: Mapping[str, Any]) -> Any:
        return self.call(name, params)

    def count(self, name: str, params: Mapping[str, Any]) -> int:
        return int(self.call(name, params) or 0)

    def close(self) -> None:
        self.rest.close()


@dataclass
class SupabasePageTransaction:
    """Collects one page; `SupabaseStore.page_transaction` sends it as one atomic call on exit."""

    db: RestConnector
    scope: PageScope
    rows: list[StagedRow] = field(default_factory=list)
    now: datetime | None = None
    state: dict[str, Any] | None = None
    lease_until: datetime | None = None
    written: dict[str, int] = field(default_factory=dict)  # what the database counted, for the log

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        return self.db.stored("stored_hashes", {"client_id": self.scope.client_id,
                                                "credential_id": self.scope.credential_id,
                                                "data_type": self.scope.data_type, "external_ids": list(external_ids)})

    def write(self, new: Sequence[StagedRow], changed: Sequence[StagedRow], now: datetime) -> None:
        self.rows.extend(new)
        self.rows.extend(changed)
        self.now = now

    def mark_deleted(self, data_type: str, external_ids: Sequence[str], deleted_at: datetime) -> int:
        # A call of its own, now, before the page that moves the cursor: marking is idempotent, so a page
        # that fails afterwards only marks again next time. The function checks the lease.
        if not external_ids:
            return 0
        return self.db.count("mark_deleted", {
            "client_id": self.scope.client_id, "credential_id": self.scope.credential_id, "data_type": data_type,
            "external_ids": list(external_ids), "deleted_at": deleted_at, "worker_id": self.scope.worker_id})

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
            counts = self.db.value("write_page", {
                "client_id": self.scope.client_id, "credential_id": self.scope.credential_id,
                "platform": self.scope.platform, "data_type": self.scope.data_type, "worker_id": self.scope.worker_id,
                "rows": Json([{"external_id": r.external_id, "data": r.data_json, "record_hash": r.record_hash,
                               "source_updated_at": timeutil.iso(r.source_updated_at) if r.source_updated_at
                               else None} for r in part]),
                "state": Json(self.state if last else None), "lease_until": self.lease_until,
                "now": self.now or now})
            for key, value in (counts or {}).items():
                self.written[key] = self.written.get(key, 0) + int(value)

    def _parts(self) -> Iterator[list[StagedRow]]:
        limit = self.db.rest.options.max_request_bytes
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


class SupabaseStore(StoreCore):
    kind = "supabase"

    def __init__(self, url: str, key: str, *, options: SupabaseOptions | None = None):
        self._rest = RestClient(url, key, options or SupabaseOptions())
        super().__init__(RestConnector(self._rest))
        self._schema_checked = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "SupabaseStore":
        return cls(settings.supabase_url or "", settings.supabase_key or "", options=settings.supabase_options)

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        """Run the installed api_sync_init_db(): tables created or upgraded, through the REST API.

        The functions themselves cannot be installed over REST; without them this is a ConfigError that
        says what to run (the CLI exits 2)."""
        self._check_functions(self._versions())
        self._db.value("init_db", {})
        self._schema_checked = True

    def ensure_schema(self) -> None:
        if self._schema_checked:
            return
        versions = self._versions()
        self._check_functions(versions)
        if (versions.get("schema") or 0) < SCHEMA_VERSION:
            self._db.value("init_db", {})
        self._schema_checked = True

    def _versions(self) -> Mapping[str, Any]:
        return self._db.value("functions_version", {}) or {}

    def _check_functions(self, versions: Mapping[str, Any]) -> None:
        # Functions from an older release would write an older schema or miss an operation: the user
        # must run this release's migration (the functions cannot be installed over REST).
        if (versions.get("functions") or 0) < SCHEMA_VERSION or (versions.get("schema_embedded") or 0) < SCHEMA_VERSION:
            raise ConfigError(f"the API Sync functions in the Supabase project at {self._rest.host} are older "
                              f"than this code: {INSTALL_HINT}")

    # -- data ---------------------------------------------------------------------------------------
    @contextmanager
    def _page(self, scope: PageScope) -> Iterator[SupabasePageTransaction]:
        tx = SupabasePageTransaction(self._db, scope)
        yield tx  # an exception in the block leaves here: nothing was sent, as a rollback
        tx.commit(timeutil.utcnow())
        log.debug("Page of %s written through Supabase REST: %s", scope.data_type, tx.written)

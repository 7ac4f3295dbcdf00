"""The store interfaces: what the engine, the admin API, the SKU job and the CLI each need from a database.

One store holds one connection and is used by one thread at a time; the engine opens one per worker.
Implementations: PostgreSQL (psycopg 3), SQLite (stdlib), Supabase REST (PostgREST) and, for the
engine's tests, memory; their common logic is in core.py, their rows in rows.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ContextManager, Iterator, Protocol, Sequence

from ..models import Integration, RunParams, ScheduleUpdate, SyncResult, WorkerId


class LeaseLost(Exception):
    """Another worker holds the integration now: this worker must stop writing."""


@dataclass(frozen=True)
class StagedRow:
    """A record ready to write: serialized once, hashed once."""

    external_id: str
    data_json: str
    record_hash: str
    source_updated_at: datetime | None


@dataclass(frozen=True)
class DataRow:
    """A stored record of a client's data table, as read back for analysis."""

    credential_id: str
    platform_type: str
    data_type: str
    external_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class SkuRow:
    """One row of `client_<id>_sku_cache` (SPEC section 2)."""

    sku: str
    title: str | None
    platforms: list[str]
    units_sold_7d: int
    units_sold_30d: int
    units_sold_90d: int
    orders_30d: int
    revenue_30d: Decimal
    currency_code: str | None
    inventory_available: int | None
    avg_daily_units_30d: Decimal
    days_of_cover: Decimal | None
    last_sold_at: datetime | None
    computed_at: datetime


@dataclass(frozen=True)
class PageScope:
    """What one page transaction writes: one data type of one integration, by one worker."""

    client_id: str  # canonical lower-case
    credential_id: str
    platform: str
    data_type: str
    worker_id: str  # str(WorkerId)


class PageTransaction(Protocol):
    """One page of one data type, committed atomically with the stream's cursor."""

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        """{external_id: record_hash} of the ids already stored (absent: never stored)."""

    def write(self, new: Sequence[StagedRow], changed: Sequence[StagedRow], now: datetime) -> None:
        """Insert `new` (rows not stored: one that is stored after all means another writer of the same
        integration, so LeaseLost) and upsert `changed` (rows stored with other content). In any order,
        with or without `stored_hashes` first."""

    def save_state(self, state: dict[str, Any] | None, lease_until: datetime) -> None:
        """Store the cursor (when given) and extend the lease; LeaseLost if the lease is not ours."""

    def mark_deleted(self, data_type: str, external_ids: Sequence[str], deleted_at: datetime) -> int:
        """Set `deleted_at` on the integration's live rows of these ids, of any of its data types (rows
        already marked keep their first time; rows are never removed). Returns how many were marked.
        Idempotent, and committed no later than the page's cursor."""


# The store as each caller sees it: a caller is typed with the protocol it needs, and every store
# (PostgreSQL, SQLite, Supabase REST, and the in-memory one of the engine's tests) implements `Store`.

class Closable(Protocol):
    def close(self) -> None: ...


class LeaseStore(Closable, Protocol):
    """The lease keeper's own connection (sync/leases.py)."""

    def renew_lease(self, credential_id: str, worker: WorkerId, lease_until: datetime) -> bool: ...


class SchemaStore(Closable, Protocol):
    kind: str

    def init_db(self) -> None: ...
    def ensure_schema(self) -> None:
        """init_db when the tables are missing or older than this code (cheap when they are current)."""


class EngineStore(SchemaStore, LeaseStore, Protocol):
    """What a sync run needs (sync/engine.py): claim -> fetch -> dedup -> store -> record."""

    def close_abandoned_runs(self, now: datetime, older_than: datetime, message: str) -> int:
        """Mark `running` runs whose process died as failed; returns how many."""
    def list_due(self, now: datetime, params: RunParams) -> list[Integration]: ...
    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None: ...
    def claim_next(self, now: datetime, params: RunParams, worker: WorkerId, lease_until: datetime,
                   exclude: Sequence[str]) -> Integration | None: ...
    def set_credentials_blob(self, credential_id: str, token: str) -> None: ...
    def ensure_data_table(self, client_id: str) -> None: ...
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]: ...
    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker: WorkerId) -> ContextManager[PageTransaction]: ...
    def finish_attempt(self, result: SyncResult, update: ScheduleUpdate, worker: WorkerId) -> None: ...
    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None: ...
    # Completeness (the audit after each sync, and the platforms following a deletion to the rows it
    # implies): reads of the live rows, those whose deleted_at is null.
    def count_live(self, client_id: str, credential_id: str, data_type: str,
                   updated_between: tuple[datetime, datetime] | None = None) -> int:
        """Live rows of one data type (only those whose source_updated_at is in the closed range, if given)."""
    def iter_live_ids(self, client_id: str, credential_id: str, data_type: str, batch_size: int = 5000,
                      updated_between: tuple[datetime, datetime] | None = None
                      ) -> Iterator[tuple[str, datetime | None]]:
        """(external_id, source_updated_at) of the live rows, in external_id order, read in batches."""
    def stored_rows(self, client_id: str, credential_id: str, data_type: str,
                    external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """{external_id: data} of the stored rows of these ids, deleted or not."""
    def ids_where(self, client_id: str, credential_id: str, data_type: str, path: Sequence[str],
                  values: Sequence[str]) -> list[str]:
        """Ids of the live rows whose data holds one of `values` at `path` (arrays on the way looked into)."""


class AuditStore(SchemaStore, Protocol):
    """What `python -m sync audit` needs (sync/audit.py): the integrations, their live rows, and page
    transactions to repair them under a lease of its own."""

    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]: ...
    def get_integration(self, credential_id: str) -> Integration | None: ...
    def acquire_lease(self, credential_id: str, worker: WorkerId, now: datetime, lease_until: datetime) -> bool:
        """Lease this integration when nobody holds a live lease on it (its schedule untouched)."""
    def renew_lease(self, credential_id: str, worker: WorkerId, lease_until: datetime) -> bool: ...
    def release_lease(self, credential_id: str, worker: WorkerId) -> bool: ...
    def ensure_data_table(self, client_id: str) -> None: ...
    def count_live(self, client_id: str, credential_id: str, data_type: str,
                   updated_between: tuple[datetime, datetime] | None = None) -> int: ...
    def iter_live_ids(self, client_id: str, credential_id: str, data_type: str, batch_size: int = 5000,
                      updated_between: tuple[datetime, datetime] | None = None
                      ) -> Iterator[tuple[str, datetime | None]]: ...
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]: ...
    def stored_rows(self, client_id: str, credential_id: str, data_type: str,
                    external_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    def ids_where(self, client_id: str, credential_id: str, data_type: str, path: Sequence[str],
                  values: Sequence[str]) -> list[str]: ...
    def page_transaction(self, client_id: str, credential_id: str, platform: str, data_type: str,
                         worker: WorkerId) -> ContextManager[PageTransaction]: ...


class AdminStore(SchemaStore, Protocol):
    """What the admin HTTP API needs (sync/admin_api.py): queue a run, report on it."""

    def start_run(self, run_id: str, params: RunParams, started_at: datetime) -> None: ...
    def finish_run(self, run_id: str, status: str, finished_at: datetime, summary: dict[str, Any]) -> None: ...
    def get_run(self, run_id: str) -> dict[str, Any] | None: ...
    def list_results(self, credential_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]: ...


class SkuStore(SchemaStore, Protocol):
    """What the SKU analysis needs (sync/sku/job.py)."""

    def list_client_ids(self) -> list[str]:
        """Every client with an integration (active or not), canonical lower-case UUIDs."""
    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        """The client's stored records of these data types, read in batches of `batch_size` (never the
        whole table at once). Creates the client's (empty) data table when it does not exist yet."""
    def replace_sku_cache(self, client_id: str, rows: Sequence[SkuRow]) -> None:
        """Create `client_<id>_sku_cache` if needed and replace its content with `rows` in one transaction."""


class CliStore(SchemaStore, Protocol):
    """What `python -m sync` and the dry run need (sync/cli.py, sync/credentials.py, sync/runner.py)."""

    def insert_integration(self, integration: Integration) -> None: ...
    def get_integration(self, credential_id: str) -> Integration | None: ...
    def list_integrations(self, client_id: str | None = None, platform: str | None = None) -> list[Integration]: ...
    def delete_integration(self, credential_id: str) -> bool: ...
    def set_credentials_blob(self, credential_id: str, token: str) -> None: ...
    def latest_results(self) -> dict[str, dict[str, Any]]:
        """{credential_id: its latest result row (credential_id, started_at, success, data_types_synced)}."""
    def reset_cursors(self, credential_id: str, data_types: Sequence[str], due_now: bool, now: datetime) -> bool:
        """Forget these data types' cursors (their next sync reads the whole history); `due_now` also clears
        next_sync_at. False, and nothing changed, while a sync holds the integration's lease."""
    def list_due(self, now: datetime, params: RunParams) -> list[Integration]: ...


class Store(EngineStore, AdminStore, SkuStore, CliStore, AuditStore, Protocol):
    """Every operation: what `open_store` returns."""

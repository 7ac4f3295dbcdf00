"""Typed dataclasses at the module boundaries: what flows from platforms to the engine to the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from .timeutil import iso, parse

TRIGGERS = ("cron", "manual", "api")
# Which platforms there are, their data types and their secrets are the platform packages' own
# (sync/platforms/): PLATFORMS, `Platform.data_types`, `Platform.validate_secrets`.


@dataclass(frozen=True)
class Record:
    """One record as the platform returned it, keyed by its id on that platform."""

    external_id: str
    data: Mapping[str, Any]
    # When the platform last changed it (Shopify `updatedAt`, Amazon `lastUpdatedTime`), if it says.
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Deletion:
    """A record the platform reports gone: its stored row gets `deleted_at` (rows are never removed)."""

    data_type: str  # the stored data type (a Shopify product's deletion also names its inventory rows)
    external_id: str
    at: datetime | None = None  # when the platform says it happened (None: when the sync learnt it)


@dataclass(frozen=True)
class Census:
    """The platform's own account of a data type, handed with one of its stream's pages (the last one
    given counts): the audit after the sync puts it next to the stored live rows.

    `ids` makes the stream a complete snapshot: once the stream has ended without error, every stored
    live row it covers that is not among them is marked deleted (a fetcher whose snapshot was cut short
    gives no census at all). `covers` limits which stored ids the snapshot speaks for (an Amazon
    marketplace that could not be read is not covered); `updated_between` says the count is of records
    last updated in that window only (Amazon orders), and the stored rows are counted alike.
    """

    count: int | None = None  # the platform's count of its live records (None: unknown this sync)
    ids: frozenset[str] | None = None
    covers: Callable[[str], bool] | None = None
    updated_between: tuple[datetime, datetime] | None = None
    exact: bool = True  # False: `count` is a lower bound (Shopify's precision AT_LEAST)

    @property
    def platform(self) -> int | None:
        return len(self.ids) if self.ids is not None else self.count


@dataclass
class Page:
    """A batch of records of one data type; the engine commits each page in one transaction.

    `state` is the stream's new cursor, committed in the same transaction as the records: a fetcher
    sets it only once every record it covers is in this page or an earlier one (None: keep the cursor).
    `skipped_unchanged` counts records the platform showed but the fetcher did not fetch in full
    because their version equals the stored one (counted as fetched and unchanged).
    `deleted` are rows to mark deleted, of this data type or another, in the same transaction;
    `census` is the platform's count or snapshot of the data type, for the audit (see `Census`).
    """

    records: list[Record]
    state: dict[str, Any] | None = None
    skipped_unchanged: int = 0
    deleted: list[Deletion] = field(default_factory=list)
    census: Census | None = None


@dataclass(frozen=True)
class Cursor:
    """Where one stream's last sync got to: its committed `sync_state` entry, read through one type.

    `key` names the timestamp the platform declared the stream's reads incremental on
    (`Platform.cursor_fields`: Shopify's largest `updatedAt` committed, Amazon's last window end);
    `since()` is where the next read starts, `lookback` before it (dedup absorbs the overlap), None
    before a first sync. Whatever else the platform keeps beside it (learnt page sizes, a half-read
    window) is in `state`. The state a page commits is `at(...)`.
    """

    state: Mapping[str, Any] = field(default_factory=dict)
    lookback: timedelta = timedelta(0)
    key: str | None = "updated_at"  # None: the stream has no time cursor (a full snapshot each sync)

    @classmethod
    def of(cls, state: Any, lookback: timedelta, key: str | None = "updated_at") -> "Cursor":
        """A stored entry as found (a hand-edited one that is not an object counts as none)."""
        return cls(dict(state) if isinstance(state, Mapping) else {}, lookback, key)

    @property
    def raw(self) -> str | None:
        """The time as stored: the platform's own text, which it may compare as it wrote it."""
        value = self.state.get(self.key) if self.key else None
        return value if isinstance(value, str) and value else None

    @property
    def value(self) -> datetime | None:
        """The time; None before a first sync or when the stored text is not a time."""
        try:
            return parse(self.raw) if self.raw else None
        except ValueError:
            return None

    @property
    def first_sync(self) -> bool:
        return self.value is None

    def since(self) -> datetime | None:
        """Where the next read starts: the cursor minus the lookback; None before a first sync."""
        value = self.value
        return value - self.lookback if value is not None else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def at(self, value: datetime | str, **extra: Any) -> dict[str, Any]:
        """The state to commit with a page: the time at `value` (a datetime, or the platform's own text
        for it), `extra` beside it."""
        if self.key is None:
            raise ValueError("this stream has no time cursor")
        return {**extra, self.key: value if isinstance(value, str) else iso(value)}


@dataclass(frozen=True)
class StreamRequest:
    """What a fetcher gets for one data type of one integration."""

    data_type: str
    cursor: Cursor  # where the last sync got to, and the lookback
    started_at: datetime  # the sync's start (UTC)
    # external_id -> stored `source_updated_at`, for the ids asked (absent: never stored).
    stored_versions: Callable[[Sequence[str]], dict[str, datetime | None]]
    # The integration's stored rows of every data type, read-only: what a fetcher follows a deletion
    # through (a deleted product's inventory rows) or reconciles ids with. None in tests that need none.
    stored: "StoredRows | None" = None


class StoredRows(Protocol):
    """One integration's stored rows, as a fetcher may read them (sync/completeness.py binds a store)."""

    def live_ids(self, data_type: str) -> Iterator[tuple[str, datetime | None]]:
        """(external_id, source_updated_at) of the live rows, in id order, read in batches."""

    def count_live(self, data_type: str) -> int: ...

    def rows(self, data_type: str, external_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """{external_id: data} of these ids' rows, deleted or not."""

    def ids_where(self, data_type: str, path: Sequence[str], values: Sequence[str]) -> list[str]:
        """Live rows whose data holds one of `values` at `path` (arrays on the way looked into)."""


@dataclass
class Integration:
    """A row of `client_api_credentials` (secrets still encrypted)."""

    credential_id: str
    client_id: str
    platform_type: str
    display_name: str | None
    credentials: str | None
    status: str = "pending"
    is_active: bool = True
    last_sync_at: datetime | None = None
    next_sync_at: datetime | None = None
    sync_frequency_hours: int = 24
    error_message: str | None = None
    sync_state: dict[str, Any] = field(default_factory=dict)
    consecutive_failures: int = 0
    locked_by: str | None = None
    locked_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Set by a claim: the worker whose lease had expired, when its sync never finished (it crashed).
    previous_holder: str | None = None


@dataclass(frozen=True)
class WorkerId:
    """Who holds a lease: one worker thread of one run in one process, written to `locked_by` as
    `host:pid:run_id:index`. The run id lets a later run tell whether a `running` run still has a live
    worker (see `close_abandoned_runs`)."""

    host: str
    pid: int
    run_id: str
    index: int

    @classmethod
    def for_run(cls, run_id: str, index: int) -> "WorkerId":
        import os
        import socket

        return cls(socket.gethostname(), os.getpid(), run_id, index)

    @classmethod
    def parse(cls, text: str | None) -> "WorkerId | None":
        """The worker a `locked_by` names, or None for a holder this version did not write."""
        parts = (text or "").rsplit(":", 3)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit():
            return None
        try:
            run_id = str(uuid.UUID(parts[2]))
        except ValueError:
            return None
        return cls(parts[0], int(parts[1]), run_id, int(parts[3]))

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.run_id}:{self.index}"


@dataclass
class StreamCounts:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0  # records that could not be stored as given (an unusable id, ...): fetched, not stored
    skipped: str | None = None  # reason, when the data type was skipped
    error: str | None = None  # reason, when the data type failed
    deleted: int = 0  # rows this sync marked deleted
    audit: "Audit | None" = None  # the platform's count next to the stored live rows, after the sync
    note: str | None = None  # what the platform does not show this integration (Connection.limits)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fetched": self.fetched, "new": self.new, "updated": self.updated,
                               "unchanged": self.unchanged}
        if self.refused:
            out["refused"] = self.refused
        if self.skipped:
            out["skipped"] = self.skipped
        if self.error:
            out["error"] = self.error
        if self.audit is not None:
            out["audit"] = self.audit.as_json()
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Audit:
    """`data_types_synced.<type>.audit` (SPEC section 3): the platform's own count (or snapshot size)
    next to the stored live rows, checked after the sync. `platform` and `missing` are None when the
    platform gave no figure this sync."""

    platform: int | None
    stored: int
    missing: int | None
    deleted: int

    @property
    def matches(self) -> bool:
        return self.platform is None or self.platform == self.stored

    def as_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "stored": self.stored, "missing": self.missing, "deleted": self.deleted}


@dataclass
class SyncResult:
    """One `client_api_sync_results` row: one integration, one attempt."""

    run_id: str
    credential_id: str
    client_id: str
    platform_type: str
    triggered_by: str
    started_at: datetime
    finished_at: datetime | None = None
    success: bool = False
    error_message: str | None = None
    streams: dict[str, StreamCounts] = field(default_factory=dict)
    result_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def records_fetched(self) -> int:
        return sum(s.fetched for s in self.streams.values())

    @property
    def records_stored(self) -> int:
        return sum(s.new + s.updated for s in self.streams.values())

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def data_types_synced(self) -> dict[str, Any]:
        return {name: counts.as_json() for name, counts in self.streams.items()}

    def summary(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "client_id": self.client_id,
            "platform_type": self.platform_type,
            "success": self.success,
            "records_fetched": self.records_fetched,
            "records_stored": self.records_stored,
            "data_types_synced": self.data_types_synced(),
            "error_message": self.error_message,
        }


@dataclass
class ScheduleUpdate:
    """What finishing an attempt writes back to the integration's row (SPEC section 3)."""

    status: str
    error_message: str | None
    consecutive_failures: int
    last_sync_at: datetime | None
    next_sync_at: datetime


@dataclass(frozen=True)
class RunParams:
    triggered_by: str = "cron"
    force: bool = False
    client_id: str | None = None
    platform: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"force": self.force, "client_id": self.client_id, "platform": self.platform}

"""Typed dataclasses at the module boundaries: what flows from platforms to the engine to the store."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

PLATFORMS = ("shopify", "amazon")
DATA_TYPES = {
    "shopify": ("orders", "products", "customers", "inventory"),
    "amazon": ("orders", "products", "inventory"),
}
TRIGGERS = ("cron", "manual", "api")
# The secrets JSON of each platform (SPEC section 2); "seller_id" is optional for Amazon.
REQUIRED_SECRETS = {
    "shopify": ("shop_domain", "access_token"),
    "amazon": ("refresh_token", "lwa_app_id", "lwa_client_secret", "marketplace_ids"),
}


@dataclass(frozen=True)
class Record:
    """One record as the platform returned it, keyed by its id on that platform."""

    external_id: str
    data: Mapping[str, Any]
    # When the platform last changed it (Shopify `updatedAt`, Amazon `lastUpdatedTime`), if it says.
    updated_at: datetime | None = None


@dataclass
class Page:
    """A batch of records of one data type; the engine commits each page in one transaction.

    `state` is the stream's new cursor, committed in the same transaction as the records: a fetcher
    sets it only once every record it covers is in this page or an earlier one (None: keep the cursor).
    `skipped_unchanged` counts records the platform showed but the fetcher did not fetch in full
    because their version equals the stored one (counted as fetched and unchanged).
    """

    records: list[Record]
    state: dict[str, Any] | None = None
    skipped_unchanged: int = 0


@dataclass(frozen=True)
class StreamRequest:
    """What a fetcher gets for one data type of one integration."""

    data_type: str
    state: Mapping[str, Any] | None  # the cursor committed by the last page of an earlier sync
    lookback: timedelta  # re-read this much behind the cursor; dedup absorbs the overlap
    started_at: datetime  # the sync's start (UTC)
    # external_id -> stored `source_updated_at`, for the ids asked (absent: never stored).
    stored_versions: Callable[[Sequence[str]], dict[str, datetime | None]]


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

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fetched": self.fetched, "new": self.new, "updated": self.updated,
                               "unchanged": self.unchanged}
        if self.refused:
            out["refused"] = self.refused
        if self.skipped:
            out["skipped"] = self.skipped
        if self.error:
            out["error"] = self.error
        return out


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

"""Completeness of one sync, after its data is stored: rows the platform reports deleted are marked,
a complete snapshot's missing rows are marked, and each data type gets its audit (SPEC section 3).

The engine hands every page's `deleted` to `Completeness.mark` inside the page's transaction, keeps the last
`Census` each stream gave, and once the integration's streams are done calls `Completeness.finish`:
snapshots are reconciled with the stored live ids (walked by keyset, never loaded whole), then each
data type's platform figure is put next to its stored live rows, recorded in `StreamCounts.audit` and
logged — a difference is a warning with the numbers, never a failure.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Sequence

from .models import Audit, Census, Deletion, Integration, StreamCounts, WorkerId
from .store.base import AuditStore, EngineStore, PageTransaction

log = logging.getLogger("api_sync_cron")

MARK_BATCH = 1000  # ids marked per transaction when a snapshot is reconciled
PLATFORM_NAMES = {"shopify": "Shopify", "amazon": "Amazon"}


class StoreRows:
    """`models.StoredRows` over one integration's rows in a store: what a fetcher may read back."""

    def __init__(self, store: EngineStore, client_id: str, credential_id: str):
        self._store, self._client, self._credential = store, client_id, credential_id

    def live_ids(self, data_type: str) -> Iterator[tuple[str, datetime | None]]:
        return self._store.iter_live_ids(self._client, self._credential, data_type)

    def count_live(self, data_type: str) -> int:
        return self._store.count_live(self._client, self._credential, data_type)

    def rows(self, data_type: str, external_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        return self._store.stored_rows(self._client, self._credential, data_type, external_ids)

    def ids_where(self, data_type: str, path: Sequence[str], values: Sequence[str]) -> list[str]:
        return self._store.ids_where(self._client, self._credential, data_type, path, values)


def mark(tx: PageTransaction, deletions: Sequence[Deletion], now: datetime) -> Counter:
    """Mark a page's deletions in its transaction; {data type: rows marked now}."""
    groups: dict[tuple[str, datetime], list[str]] = {}
    for deletion in deletions:
        groups.setdefault((deletion.data_type, deletion.at or now), []).append(deletion.external_id)
    marked: Counter = Counter()
    for (data_type, at), ids in groups.items():
        marked[data_type] += tx.mark_deleted(data_type, list(dict.fromkeys(ids)), at)
    return marked


def mark_in_batches(store: EngineStore | AuditStore, integration: Integration, data_type: str, ids: Sequence[str],
                    now: datetime, worker: WorkerId, lease_until: Callable[[], datetime]) -> int:
    """Mark `ids` deleted, MARK_BATCH a transaction, each checking the lease; returns how many were marked
    now (rows already marked keep their first deleted_at)."""
    marked = 0
    for start in range(0, len(ids), MARK_BATCH):
        with store.page_transaction(integration.client_id, integration.credential_id, integration.platform_type,
                                    data_type, worker) as tx:
            marked += tx.mark_deleted(data_type, ids[start:start + MARK_BATCH], now)
            tx.save_state(None, lease_until())
    return marked


@dataclass
class _Snapshot:
    stored: int  # live rows the snapshot covers, once reconciled
    missing: int  # snapshot ids with no live row


@dataclass
class Completeness:
    """One integration's deletions and censuses during a sync, and the audit at its end."""

    store: EngineStore
    integration: Integration
    worker: WorkerId
    lease_until: Callable[[], datetime]
    clock: Callable[[], datetime]
    censuses: dict[str, Census] = field(default_factory=dict)
    marked: Counter = field(default_factory=Counter)
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)

    def mark(self, tx: PageTransaction, deletions: Sequence[Deletion]) -> Counter:
        """A page's deletions marked in its transaction; the caller adds them to `marked` once it commits."""
        return mark(tx, deletions, self.clock()) if deletions else Counter()

    def census(self, data_type: str, census: Census | None) -> None:
        if census is not None:
            self.censuses[data_type] = census

    def stream_done(self, data_type: str) -> None:
        """The data type's stream ended without error: a complete snapshot is reconciled now."""
        census = self.censuses.get(data_type)
        if census is not None and census.ids is not None:
            self.snapshots[data_type] = self._reconcile(data_type, census)

    def drop(self, data_type: str) -> None:
        """The stream failed: what it said of the platform is not to be trusted."""
        self.censuses.pop(data_type, None)

    def _reconcile(self, data_type: str, census: Census) -> _Snapshot:
        assert census.ids is not None
        covers = census.covers or (lambda _id: True)
        present = 0
        gone: list[str] = []
        integration = self.integration
        for external_id, _ in self.store.iter_live_ids(integration.client_id, integration.credential_id, data_type):
            if not covers(external_id):
                continue
            if external_id in census.ids:
                present += 1
            else:
                gone.append(external_id)
        self.marked[data_type] += mark_in_batches(self.store, integration, data_type, gone, self.clock(),
                                                  self.worker, self.lease_until)
        return _Snapshot(stored=present, missing=len(census.ids) - present)

    def finish(self, streams: Mapping[str, StreamCounts], label: str) -> None:
        """Each data type's audit, recorded in its counts and logged (skipped data types have none)."""
        for data_type, counts in streams.items():
            if counts.skipped:
                continue
            counts.deleted = self.marked.get(data_type, 0)
            try:
                counts.audit = self._audit(data_type, counts)
            except Exception:  # the audit reads only: a failure of it is reported, the sync stands
                log.exception("The audit of %s for %s could not be computed", data_type, label)
                continue
            self._log(data_type, counts.audit, self.censuses.get(data_type), label)

    def _audit(self, data_type: str, counts: StreamCounts) -> Audit:
        census = self.censuses.get(data_type)
        snapshot = self.snapshots.get(data_type)
        if snapshot is not None:
            assert census is not None
            return Audit(platform=census.platform, stored=snapshot.stored, missing=snapshot.missing,
                         deleted=counts.deleted)
        integration = self.integration
        stored = self.store.count_live(integration.client_id, integration.credential_id, data_type,
                                       updated_between=census.updated_between if census else None)
        platform = census.platform if census else None
        missing = max(0, platform - stored) if platform is not None else None
        return Audit(platform=platform, stored=stored, missing=missing, deleted=counts.deleted)

    def _log(self, data_type: str, audit: Audit, census: Census | None, label: str) -> None:
        name = PLATFORM_NAMES.get(self.integration.platform_type, self.integration.platform_type)
        if audit.deleted:
            log.info("🗑️ Marked %d %s deleted (gone from %s)", audit.deleted, data_type, name)
        if audit.platform is None:
            log.info("🧮 Audit of %s: %d stored; %s gave no count this sync", data_type, audit.stored, name)
            return
        scope = ""
        if census is not None and census.updated_between is not None:
            low, high = census.updated_between
            scope = f" updated {low.isoformat()} to {high.isoformat()}"
        at_least = "" if census is None or census.exact else "at least "
        if audit.matches:
            log.info("🧮 Audit of %s: %s%d%s on %s, %d stored", data_type, at_least, audit.platform, scope, name,
                     audit.stored)
            return
        if audit.stored < audit.platform:
            difference = f"{audit.missing} missing"
        else:
            difference = f"{audit.stored - audit.platform} more stored than {name} has"
        log.warning("⚠️ Audit of %s for %s: %s%d%s on %s, %d stored (%s); `python -m sync audit --repair "
                    "--client-id %s --platform %s` compares the ids and repairs", data_type, label, at_least,
                    audit.platform, scope, name, audit.stored, difference, self.integration.client_id,
                    self.integration.platform_type)


def describe(data_types_synced: Mapping[str, Any] | None) -> str:
    """One line of a result's audits, for `python -m sync status` and the manual script's summary:
    `orders 120 ✓, products 28 of 30 (2 missing), inventory 412` (no platform figure: the stored count)."""
    parts = []
    for data_type, entry in (data_types_synced or {}).items():
        audit = entry.get("audit") if isinstance(entry, Mapping) else None
        if not isinstance(audit, Mapping):
            continue
        stored, platform = audit.get("stored"), audit.get("platform")
        deleted = f", {audit['deleted']} deleted" if audit.get("deleted") else ""
        if platform is None:
            part = f"{data_type} {stored}{deleted}"
        elif platform == stored:
            part = f"{data_type} {stored} ✓{deleted}"
        elif stored < platform:
            part = f"{data_type} {stored} of {platform} ({platform - stored} missing{deleted})"
        else:
            part = f"{data_type} {stored} of {platform} ({stored - platform} extra{deleted})"
        # The platform's own count cannot show what it hides from the app: said next to it.
        parts.append(f"{part} ⚠ {entry['note']}" if entry.get("note") else part)
    return ", ".join(parts)

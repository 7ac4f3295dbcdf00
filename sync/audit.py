"""`python -m sync audit`: compare each data type's stored rows with the platform by id, and repair.

For every chosen integration, each data type its platform can list ids of (the connection's optional
`auditor`, see platforms/base.py) is compared id by id (sync/idcompare.py, never a whole set in memory):

- missing: the platform has the record, no live row holds it (lost from the table, skipped by a cursor);
- extra: a live row the platform no longer lists (a deletion nobody reported);
- stale: a live row whose stored version is older than the platform's (a change the cursor skipped).

`--repair` fetches the missing and stale records by id and writes them through the sync's own dedup
path (so a row comes back exactly as a sync would have stored it, and a row marked deleted that the
platform still has is live again), and marks the extra rows deleted once the platform confirms they are
gone (rows are never removed). It holds the integration's lease meanwhile, so it never races a sync; an
integration a sync holds is left alone. Exit code: 0 when every table matches (after the repair, with
`--repair`), 1 when a difference remains or an integration could not be audited, 2 for bad usage.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Sequence

from . import dedup
from .completeness import mark_in_batches
from .config import Settings
from .crypto import SecretBox, secret_strings
from .errors import DataTypeSkipped, SyncError
from .idcompare import Comparison, compare
from .logs import Redactor
from .models import Integration, Record, WorkerId
from .platforms import PlatformRegistry
from .platforms.base import close_quietly
from .store.base import AuditStore, LeaseLost
from .timeutil import utcnow

LISTED = 20  # ids shown per list in the table (the JSON holds up to JSON_IDS)
JSON_IDS = 1000
WRITE_BATCH = 250


@dataclass
class TypeAudit:
    data_type: str
    platform: int | None = None  # ids the platform listed
    stored: int = 0  # live rows compared
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    repaired: int = 0  # missing or stale records fetched and written
    marked: int = 0  # extra rows marked deleted, the platform having confirmed they are gone
    unresolved: list[str] = field(default_factory=list)  # what the repair could not settle
    skipped: str | None = None
    error: str | None = None
    repair_done: bool = False

    @property
    def differs(self) -> bool:
        return bool(self.missing or self.extra or self.stale)

    @property
    def remains(self) -> bool:
        """A difference left (after the repair, when there was one), or the data type could not be compared."""
        return self.error is not None or bool(self.unresolved) or (self.differs and not self.repair_done)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"platform": self.platform, "stored": self.stored, "missing": len(self.missing),
                               "extra": len(self.extra), "stale": len(self.stale),
                               "missing_ids": self.missing[:JSON_IDS], "extra_ids": self.extra[:JSON_IDS],
                               "stale_ids": self.stale[:JSON_IDS], "matches": not self.remains}
        if self.repair_done:
            out.update(repaired=self.repaired, marked_deleted=self.marked, unresolved_ids=self.unresolved[:JSON_IDS])
        if self.skipped:
            out["skipped"] = self.skipped
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class IntegrationAudit:
    integration: Integration
    types: list[TypeAudit] = field(default_factory=list)
    error: str | None = None

    @property
    def remains(self) -> bool:
        return self.error is not None or any(t.remains for t in self.types)

    def as_json(self) -> dict[str, Any]:
        i = self.integration
        return {"credential_id": i.credential_id, "client_id": i.client_id, "platform_type": i.platform_type,
                "display_name": i.display_name, "matches": not self.remains, "error": self.error,
                "data_types": {t.data_type: t.as_json() for t in self.types}}


@dataclass
class AuditReport:
    integrations: list[IntegrationAudit] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(a.remains for a in self.integrations) else 0

    def as_json(self) -> dict[str, Any]:
        return {"matches": self.exit_code == 0, "integrations": [a.as_json() for a in self.integrations]}


class Auditor:
    """Audits (and repairs) integrations of one store."""

    def __init__(self, store: AuditStore, settings: Settings, *, platforms: PlatformRegistry | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.settings = settings
        self.platforms = platforms or PlatformRegistry()
        self.clock = clock
        self.box = SecretBox(settings.encryption_keys)

    def run(self, integrations: Iterable[Integration], *, repair: bool) -> AuditReport:
        report = AuditReport()
        for integration in integrations:
            report.integrations.append(self.audit(integration, repair=repair))
        return report

    def audit(self, integration: Integration, *, repair: bool) -> IntegrationAudit:
        out = IntegrationAudit(integration)
        redactor = Redactor(self.settings.secret_values())
        worker = WorkerId.for_run(str(uuid.uuid4()), 0)
        leased = False
        connection = None
        try:
            if repair:
                now = self.clock()
                if not self.store.acquire_lease(integration.credential_id, worker, now, self._lease_until()):
                    out.error = "a sync is running on it; nothing was compared. Run the audit again once it has finished."
                    return out
                leased = True
            secrets = self.box.decrypt(integration.credentials)
            redactor.add(secret_strings(secrets))
            platform = self.platforms.get(integration.platform_type)
            platform.validate_secrets(secrets)
            self.store.ensure_data_table(integration.client_id)
            connection = platform.connect(secrets, self.settings)
            connection.test()
            auditor = getattr(connection, "auditor", None)
            if auditor is None:
                out.error = f"{integration.platform_type} cannot list its ids for an audit"
                return out
            for data_type in auditor.data_types:
                out.types.append(self._data_type(integration, auditor, data_type, repair, worker, redactor))
        except LeaseLost:
            out.error = "another worker took over this integration during the repair; run the audit again"
        except SyncError as exc:
            out.error = redactor.scrub(str(exc))
        finally:
            close_quietly(connection)
            if leased:
                self.store.release_lease(integration.credential_id, worker)
        return out

    def _lease_until(self) -> datetime:
        return self.clock() + timedelta(seconds=self.settings.lease_seconds)

    def _data_type(self, integration: Integration, auditor: Any, data_type: str, repair: bool, worker: WorkerId,
                   redactor: Redactor) -> TypeAudit:
        result = TypeAudit(data_type)
        try:
            found = self._compare(integration, auditor, data_type)
            result.platform, result.stored = found.platform, found.stored
            result.missing, result.extra, result.stale = found.missing, found.extra, found.stale
            if repair and result.differs:
                self._repair(integration, auditor, result, worker)
        except DataTypeSkipped as exc:
            result.skipped = redactor.scrub(str(exc))
        except LeaseLost:
            raise
        except SyncError as exc:
            result.error = redactor.scrub(str(exc))
        return result

    def _compare(self, integration: Integration, auditor: Any, data_type: str) -> Comparison:
        listing = auditor.platform_ids(data_type)

        def stored() -> Iterator[tuple[str, datetime | None]]:
            # Asked once the platform's ids are spooled: the window (Amazon orders) is known by then.
            window = auditor.window(data_type)
            covers = auditor.covers(data_type)
            for pair in self.store.iter_live_ids(integration.client_id, integration.credential_id, data_type,
                                                 updated_between=window):
                if covers is None or covers(pair[0]):
                    yield pair

        return compare(listing, stored())

    def _repair(self, integration: Integration, auditor: Any, result: TypeAudit, worker: WorkerId) -> None:
        result.repair_done = True
        wanted = list(dict.fromkeys(result.missing + result.stale))
        fetched: set[str] = set()
        records: list[Record] = []
        for record in auditor.records(result.data_type, wanted):
            fetched.add(record.external_id)
            records.append(record)
            if len(records) >= WRITE_BATCH:
                result.repaired += self._write(integration, result.data_type, records, worker, result.unresolved)
                records = []
        if records:
            result.repaired += self._write(integration, result.data_type, records, worker, result.unresolved)
        result.unresolved += [i for i in wanted if i not in fetched]
        if result.extra:
            gone = auditor.gone(result.data_type, result.extra)
            result.unresolved += [i for i in result.extra if i not in gone]
            ids = [i for i in result.extra if i in gone]
            result.marked += mark_in_batches(self.store, integration, result.data_type, ids, self.clock(), worker,
                                             self._lease_until)

    def _write(self, integration: Integration, data_type: str, records: Sequence[Record], worker: WorkerId,
               unresolved: list[str]) -> int:
        staged, repeats, refused = dedup.stage(records)
        unresolved.extend(r.external_id for r in refused)
        with self.store.page_transaction(integration.client_id, integration.credential_id, integration.platform_type,
                                         data_type, worker) as tx:
            plan = dedup.classify(staged, tx.stored_hashes(list(staged)), repeats)
            tx.write(plan.new_rows, plan.changed_rows, self.clock())
            tx.save_state(None, self._lease_until())
        return plan.new + plan.updated


def audit_integrations(store: AuditStore, settings: Settings, *, client_id: str | None, platform: str | None,
                       repair: bool, platforms: PlatformRegistry | None = None) -> AuditReport:
    integrations = [i for i in store.list_integrations(client_id, platform) if i.is_active]
    return Auditor(store, settings, platforms=platforms).run(integrations, repair=repair)


def table_rows(report: AuditReport) -> list[list[Any]]:
    """The rows `python -m sync audit` prints: one per integration and data type."""
    rows: list[list[Any]] = []
    for audit in report.integrations:
        i = audit.integration
        if audit.error or not audit.types:
            rows.append([i.credential_id, i.client_id, i.platform_type, "-", None, None, None, None, None, None,
                         f"❌ {audit.error or 'nothing to compare'}"])
            continue
        for t in audit.types:
            if t.skipped or t.error:
                rows.append([i.credential_id, i.client_id, i.platform_type, t.data_type, None, None, None, None, None,
                             None, f"⏭️ {t.skipped}" if t.skipped else f"❌ {t.error}"])
                continue
            repaired = f"{t.repaired} fetched, {t.marked} marked deleted" if t.repair_done else None
            verdict = "✅ matches" if not t.remains else "❗ differs"
            if t.unresolved:
                verdict += f" ({len(t.unresolved)} not settled: {_ids(t.unresolved)})"
            elif t.differs and not t.repair_done:
                verdict += f" (missing: {_ids(t.missing)}; extra: {_ids(t.extra)}; stale: {_ids(t.stale)})"
            rows.append([i.credential_id, i.client_id, i.platform_type, t.data_type, t.platform, t.stored,
                         len(t.missing), len(t.extra), len(t.stale), repaired, verdict])
    return rows


TABLE_HEADERS = ["credential_id", "client", "platform", "data type", "platform ids", "stored", "missing", "extra",
                 "stale", "repair", "result"]


def _ids(ids: Sequence[str]) -> str:
    if not ids:
        return "-"
    shown = ", ".join(ids[:LISTED])
    return shown + (f" and {len(ids) - LISTED} more" if len(ids) > LISTED else "")

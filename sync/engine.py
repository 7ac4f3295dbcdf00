"""The sync engine: claim -> fetch -> dedup -> store -> record, for every due integration.

`SyncEngine.run` claims due integrations one at a time per worker thread (so several processes share
the work fairly), syncs each data type page by page, and records one result row per integration.
One integration's failure never stops the others; data already committed always stays.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Protocol

from . import dedup, personal, schedule
from .completeness import Completeness, StoreRows
from .config import Settings
from .crypto import SecretBox, is_plaintext, secret_strings
from .errors import AuthError, CredentialError, DataTypeSkipped, StoreError, SyncError
from .leases import LeaseKeeper
from .logs import Redactor
from .models import (Cursor, Integration, RunParams, ScheduleUpdate, StreamCounts, StreamRequest, SyncResult,
                     WorkerId)
from .platforms import PlatformRegistry
from .platforms.base import Connection, close_quietly
from .reconnect import ReconnectingStore
from .store import open_store
from .store.base import EngineStore, LeaseLost
from .timeutil import utcnow

log = logging.getLogger("api_sync_cron")


class Progress(Protocol):
    """What a front end (the manual script's progress bars) hears while a run goes on."""

    def integration_started(self, integration: Integration) -> None: ...
    def page_stored(self, integration: Integration, data_type: str, counts: StreamCounts) -> None: ...
    def integration_finished(self, integration: Integration, result: SyncResult) -> None: ...


class NoProgress:
    def integration_started(self, integration: Integration) -> None:
        pass

    def page_stored(self, integration: Integration, data_type: str, counts: StreamCounts) -> None:
        pass

    def integration_finished(self, integration: Integration, result: SyncResult) -> None:
        pass


@dataclass
class RunSummary:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    due: int = 0
    results: list[SyncResult] = field(default_factory=list)
    # Failures outside any one integration's sync (the database went away under a worker).
    worker_errors: list[str] = field(default_factory=list)

    @property
    def synced(self) -> int:
        return sum(1 for r in self.results if r.success)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.success) + len(self.worker_errors)

    @property
    def status(self) -> str:
        if self.failed == 0:
            return "succeeded"
        return "partial" if self.synced else "failed"

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "due": self.due,
            "synced": self.synced,
            "failed": self.failed,
            "results": [r.summary() for r in self.results],
            **({"errors": self.worker_errors} if self.worker_errors else {}),
        }


class SyncEngine:
    def __init__(self, settings: Settings, *, store_factory: Callable[[], EngineStore] | None = None,
                 platforms: PlatformRegistry | None = None, clock: Callable[[], datetime] = utcnow,
                 redactor: Redactor | None = None, progress: Progress | None = None):
        self.settings = settings
        self._store_factory = store_factory or (lambda: open_store(settings))
        self._platforms = platforms or PlatformRegistry()
        self._clock = clock
        self._redactor = redactor or Redactor(settings.secret_values())
        self._progress = progress or NoProgress()
        self._box = SecretBox(settings.encryption_keys)
        self._lookback = timedelta(minutes=settings.lookback_minutes)

    def _reconnecting(self) -> ReconnectingStore[EngineStore]:
        return ReconnectingStore(self._store_factory, self.settings.db_retry_seconds)

    # -- the run ------------------------------------------------------------------------------------
    def list_due(self, params: RunParams) -> list[Integration]:
        store = self._store_factory()
        try:
            store.ensure_schema()
            return store.list_due(self._clock(), params)
        finally:
            store.close()

    def run(self, params: RunParams, *, workers: int | None = None, run_id: str | None = None) -> RunSummary:
        run_id = run_id or str(uuid.uuid4())
        summary = RunSummary(run_id=run_id, started_at=self._clock())
        log.info("🚀 Starting full API sync cron job (run %s, triggered by %s)", run_id, params.triggered_by)
        store = self._reconnecting()
        try:
            store.call("checking the tables", lambda s: s.ensure_schema())
            abandoned = store.call("closing abandoned runs", lambda s: s.close_abandoned_runs(
                summary.started_at, summary.started_at - timedelta(seconds=self.settings.lease_seconds),
                "the process running this sync stopped before it finished (killed or crashed)"))
            if abandoned:
                log.warning("⚠️ Marked %d earlier run(s) as failed: their process stopped before finishing", abandoned)
            due = store.call("listing the due integrations", lambda s: s.list_due(summary.started_at, params))
            summary.due = len(due)
            log.info("🔍 Found %d API integrations due for sync", summary.due)
            store.call("recording the run", lambda s: s.start_run(run_id, params, summary.started_at))
            if due:
                self._run_workers(run_id, params, min(workers or self.settings.max_workers, len(due)), summary)
            summary.finished_at = self._clock()
            # This connection sat idle through the run: if the server went away meanwhile, a new one is opened.
            store.call("recording the run's end", lambda s: s.finish_run(run_id, summary.status, summary.finished_at,
                                                                         summary.as_json()))
        finally:
            store.close()
        log.info("🏁 API sync cron job finished: %d synced, %d failed, %.1fs", summary.synced, summary.failed,
                 (summary.finished_at - summary.started_at).total_seconds())
        return summary

    def _run_workers(self, run_id: str, params: RunParams, workers: int, summary: RunSummary) -> None:
        attempted: set[str] = set()
        lock = threading.Lock()
        with LeaseKeeper(self._store_factory, self.settings.lease_seconds, self._clock) as leases:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
                futures = [pool.submit(self._worker, WorkerId.for_run(run_id, i), run_id, params, attempted, lock,
                                       summary, leases) for i in range(workers)]
                for future in futures:
                    future.result()

    def _worker(self, worker_id: WorkerId, run_id: str, params: RunParams, attempted: set[str],
                lock: threading.Lock, summary: RunSummary, leases: LeaseKeeper) -> None:
        store: ReconnectingStore[EngineStore] | None = None
        try:
            store = self._reconnecting()  # may fail too (e.g. too many connections): counted like the rest
            while True:
                # The lock spans the claim: with a snapshot taken before it, an integration another
                # worker had just finished (a fast failure, lease released) could be claimed twice in
                # one forced run. Claims are one short statement, so serializing them costs little.
                # (A claim whose acknowledgement was lost stays leased to this worker until the lease
                # expires; the next run after that takes it.)
                with lock:
                    integration = store.call("claiming the next integration", lambda s: s.claim_next(
                        self._clock(), params, worker_id, leases.lease_until(), list(attempted)))
                    if integration is None:
                        return
                    attempted.add(integration.credential_id)
                result = self._sync_integration(store, integration, run_id, params, worker_id, leases)
                with lock:
                    summary.results.append(result)
        except Exception as exc:
            # Only the store failing for good gets here (past SYNC_DB_RETRY_SECONDS); held leases expire
            # and a later run retries.
            log.error("❌ Worker %s stopped: %s", worker_id, self._redactor.scrub(str(exc)),
                      exc_info=not isinstance(exc, StoreError))
            with lock:
                summary.worker_errors.append(self._redactor.scrub(
                    str(exc) if isinstance(exc, StoreError) else f"database error: {type(exc).__name__}: {exc}"))
        finally:
            if store is not None:
                store.close()

    # -- one integration ----------------------------------------------------------------------------
    def _sync_integration(self, store: ReconnectingStore[EngineStore], integration: Integration, run_id: str, params: RunParams,
                          worker_id: WorkerId, leases: LeaseKeeper) -> SyncResult:
        started = self._clock()
        result = SyncResult(run_id=run_id, credential_id=integration.credential_id, client_id=integration.client_id,
                            platform_type=integration.platform_type, triggered_by=params.triggered_by,
                            started_at=started)
        label = f"Client {integration.client_id} ({integration.platform_type} - {integration.display_name or '-'})"
        log.info("🔄 Starting API sync for %s", label)
        if integration.previous_holder:
            log.warning("⚠️ The previous sync of %s (worker %s) stopped without finishing and its lease expired; "
                        "resuming from its last committed page", label, integration.previous_holder)
        self._progress.integration_started(integration)
        if not isinstance(integration.sync_state, dict):
            # JSON null or an array (a hand edit, an older tool): no usable cursor, so a full read.
            log.warning("sync_state of %s is not a JSON object; starting every data type from scratch", label)
            integration.sync_state = {}
        leases.hold(integration.credential_id, worker_id)
        connection: Connection | None = None
        try:
            secrets = self._box.decrypt(integration.credentials)
            self._redactor.add(secret_strings(secrets))
            if self._box.enabled and is_plaintext(integration.credentials or ""):
                # A row from the guide's first version: encrypt it now that a key is set.
                token = self._box.encrypt(secrets)
                store.call("encrypting the credentials", lambda s: s.set_credentials_blob(integration.credential_id,
                                                                                          token))
            platform = self._platforms.get(integration.platform_type)
            try:
                platform.validate_secrets(secrets)
            except CredentialError as exc:
                raise CredentialError(f"{exc}: store the integration again with "
                                      "`python -m sync credentials add`") from None
            # SYNC_STORE_PII=false: each platform names its personal fields; they go before dedup.
            personal_data = {} if self.settings.store_pii else dict(getattr(platform, "personal_data", None) or {})
            store.ensure_data_table(integration.client_id)
            connection = platform.connect(secrets, self.settings)
            try:
                connection.test()
            except SyncError as exc:
                raise type(exc)(f"API connection failed for {integration.platform_type}: {exc}") from exc
            log.info("✅ API connection successful for %s", integration.platform_type)
            log.info("📥 Fetching new data from %s API...", integration.platform_type)
            cursor_fields = getattr(platform, "cursor_fields", None) or {}
            requests = {data_type: self._stream_request(store, integration, data_type, started,
                                                        cursor_fields.get(data_type))
                        for data_type in platform.data_types}
            for data_type in requests:
                result.streams.setdefault(data_type, StreamCounts())
            limits = getattr(connection, "limits", None)
            for data_type, note in (limits() if limits is not None else {}).items():
                if data_type in result.streams:
                    result.streams[data_type].note = self._redactor.scrub(note)
                    log.warning("⚠️ %s: %s", data_type, result.streams[data_type].note)
            tally = Completeness(store, integration, worker_id, leases.lease_until, self._clock)
            failures = []
            # Streams that are no data type of their own (Shopify's deletion events) come first, while
            # the stored rows they follow a deletion through are as the last sync left them.
            for name in getattr(platform, "side_streams", ()):
                error = self._sync_stream(store, connection, integration,
                                          self._stream_request(store, integration, name, started,
                                                               cursor_fields.get(name)),
                                          StreamCounts(), worker_id, leases, tally)
                if error:
                    failures.append(f"{name}: {error}")
            for data_type in stream_order(connection, requests):
                try:
                    error = self._sync_stream(store, connection, integration, requests[data_type],
                                              result.streams[data_type], worker_id, leases, tally,
                                              personal_data.get(data_type, ()))
                except StoreError:
                    # The database is gone for this integration: the other data types would write there too.
                    tally.drop(data_type)
                    failures.append(f"{data_type}: {result.streams[data_type].error}")
                    break
                if error:
                    failures.append(f"{data_type}: {error}")
            tally.finish(result.streams, label)
            if failures:
                result.error_message = "; ".join(failures)
            else:
                result.success = True
        except LeaseLost:
            result.error_message = ("another worker took over this integration after its lease expired; "
                                    "raise SYNC_LEASE_SECONDS if syncs are slow")
        except SyncError as exc:
            result.error_message = str(exc)
        except Exception as exc:  # a bug or an unforeseen answer: still fail this integration alone
            log.exception("Unexpected error while syncing %s", label)
            result.error_message = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            close_quietly(connection)
            leases.release(integration.credential_id)
        if result.error_message:
            result.error_message = self._redactor.scrub(result.error_message)
        result.finished_at = self._clock()
        update = self._schedule_update(integration, result)
        # Safe to repeat: the result row is keyed by its id, the schedule by this worker's lease.
        store.call("recording the result", lambda s: s.finish_attempt(result, update, worker_id))
        if result.success:
            log.info("✅ API sync completed for %s", label)
        else:
            log.error("❌ API sync failed for %s: %s", label, result.error_message)
        log.info("📅 Next sync scheduled for: %s", update.next_sync_at.isoformat())
        self._progress.integration_finished(integration, result)
        return result

    def _stream_request(self, store: EngineStore, integration: Integration, data_type: str, started: datetime,
                        cursor_key: str | None) -> StreamRequest:
        return StreamRequest(
            data_type=data_type,
            cursor=Cursor.of(integration.sync_state.get(data_type), self._lookback, cursor_key),
            started_at=started,
            stored_versions=lambda ids: store.stored_versions(integration.client_id, integration.credential_id,
                                                              data_type, ids),
            stored=StoreRows(store, integration.client_id, integration.credential_id),
        )

    def _sync_stream(self, store: ReconnectingStore[EngineStore], connection: Connection, integration: Integration,
                     request: StreamRequest, counts: StreamCounts, worker_id: WorkerId,
                     leases: LeaseKeeper, tally: Completeness,
                     personal_paths: tuple[str, ...] = ()) -> str | None:
        """Sync one data type; returns an error sentence when it failed (and the integration should too)."""
        data_type = request.data_type
        stager = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        refused_examples: list[dedup.Refused] = []
        try:
            pages = connection.fetch(request)
            if personal_paths:
                pages = personal.pages_without(pages, personal_paths)
            for page, staging in dedup.stage_ahead(pages, stager):
                if leases.is_lost(integration.credential_id):
                    raise LeaseLost(integration.credential_id)
                staged, repeats, refused = staging.result()

                def write_page(s: EngineStore) -> tuple[dedup.PagePlan, Counter]:
                    # One transaction; after a failure it is rolled back (its deletion marks with it) and the
                    # whole page is written again on a fresh connection. Its marks count once it committed.
                    with s.page_transaction(integration.client_id, integration.credential_id,
                                            integration.platform_type, data_type, worker_id) as tx:
                        plan = dedup.classify(staged, tx.stored_hashes(list(staged)), repeats)
                        tx.write(plan.new_rows, plan.changed_rows, self._clock())
                        marked = tally.mark(tx, page.deleted)
                        tx.save_state(page.state, leases.lease_until())
                    return plan, marked

                plan, marked = store.call(f"storing a page of {data_type}", write_page)
                tally.marked.update(marked)
                tally.census(data_type, page.census)
                if page.state is not None:
                    integration.sync_state[data_type] = page.state
                counts.fetched += len(page.records) + page.skipped_unchanged
                counts.new += plan.new
                counts.updated += plan.updated
                counts.unchanged += plan.unchanged + page.skipped_unchanged
                if refused:
                    # The rest of the page is stored and the cursor moves: these records cannot be stored
                    # as the platform gave them, so waiting for them would only hold back the others.
                    counts.refused += len(refused)
                    refused_examples.extend(refused[:3 - len(refused_examples)])
                    for item in refused:
                        log.warning("Record %s of %s could not be stored: %s", item.external_id, data_type,
                                    item.reason)
                self._progress.page_stored(integration, data_type, counts)
        except DataTypeSkipped as exc:
            tally.drop(data_type)
            counts.skipped = self._redactor.scrub(str(exc))
            log.warning("⏭️ Skipped %s for %s: %s", data_type, integration.platform_type, counts.skipped)
            return None
        except (AuthError, CredentialError, LeaseLost):
            raise  # nothing else will work either
        except StoreError as exc:
            counts.error = self._redactor.scrub(str(exc))
            log.error("❌ %s failed after %d stored records: %s", data_type, counts.new + counts.updated, counts.error)
            raise
        except SyncError as exc:
            counts.error = self._redactor.scrub(str(exc))
        except Exception as exc:
            log.exception("Unexpected error while syncing %s", data_type)
            counts.error = self._redactor.scrub(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            stager.shutdown(wait=False, cancel_futures=True)
        if counts.refused:
            examples = "; ".join(f"{r.external_id}: {r.reason}" for r in refused_examples)
            more = f" and {counts.refused - len(refused_examples)} more" if counts.refused > len(refused_examples) else ""
            refusal = (f"{counts.refused} record(s) could not be stored as the platform sent them ({examples}{more}); "
                       "every other record was stored")
            counts.error = self._redactor.scrub(f"{counts.error}; {refusal}" if counts.error else refusal)
        if counts.error:
            tally.drop(data_type)
            log.error("❌ %s failed after %d stored records: %s", data_type, counts.new + counts.updated, counts.error)
            return counts.error
        tally.stream_done(data_type)
        log.info("✅ Stored %d new %s records (after deduplication)", counts.new, data_type)
        if counts.updated:
            log.info("🔁 Updated %d changed %s records", counts.updated, data_type)
        return None

    def _schedule_update(self, integration: Integration, result: SyncResult) -> ScheduleUpdate:
        now = result.finished_at or self._clock()
        if result.success:
            return ScheduleUpdate(
                status="connected", error_message=None, consecutive_failures=0, last_sync_at=result.started_at,
                next_sync_at=schedule.next_after_success(integration.next_sync_at, result.started_at,
                                                         integration.sync_frequency_hours, now),
            )
        failures = integration.consecutive_failures + 1
        return ScheduleUpdate(
            status="error", error_message=result.error_message, consecutive_failures=failures, last_sync_at=None,
            next_sync_at=schedule.next_after_failure(failures, integration.sync_frequency_hours, now),
        )


def stream_order(connection: Connection, requests: dict[str, StreamRequest]) -> Iterator[str]:
    """The data types in the order the engine stores them: the platform's, or the order its
    optional `prepare` hook says they become ready (see platforms/base.py).

    Every data type is synced exactly once: names the hook repeats or does not know are ignored, and
    any it leaves out follow in the platform's order.
    """
    prepare = getattr(connection, "prepare", None)
    order = prepare(list(requests.values())) if prepare is not None else None
    seen: set[str] = set()
    for data_type in order or ():
        if data_type in requests and data_type not in seen:
            seen.add(data_type)
            yield data_type
    for data_type in requests:
        if data_type not in seen:
            yield data_type


def run_sync(settings: Settings, params: RunParams, *, platforms: PlatformRegistry | None = None,
             workers: int | None = None, progress: Progress | None = None,
             clock: Callable[[], datetime] = utcnow) -> RunSummary:
    """One run with the configured store (each worker opens its own connection)."""
    return SyncEngine(settings, platforms=platforms, progress=progress, clock=clock).run(params, workers=workers)

"""The admin HTTP API (SPEC section 5): trigger a sync in the background, read a run's status.

    POST /api/admin/trigger-api-sync?force_sync=&client_id_filter=&platform_filter=   -> 202
    GET  /api/admin/sync-runs/{run_id}                                                 -> 200 / 404
    GET  /healthz                                                                      -> 200

The run row is written before the 202 is sent, so the status URL answers at once; the sync itself
runs in a thread of this process with `triggered_by = "api"`. Two triggers at once are safe: the
engine's leases make sure no integration is synced twice, whoever started the run.

Authentication is in `sync.admin_auth`. Every endpoint is a plain `def`: FastAPI runs it in its thread
pool, so the blocking database calls never stall the event loop.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from .admin_auth import AdminAuth
from .config import Settings
from .errors import ConfigError
from .models import RunParams
from .platforms import PLATFORMS
from .store import open_store
from .store.base import AdminStore
from .timeutil import utcnow

log = logging.getLogger("api_sync.admin_api")

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}


class Engine(Protocol):
    """What the API needs from the sync engine (`sync.engine.SyncEngine`)."""

    def run(self, params: RunParams, *, run_id: str | None = None) -> Any: ...


EngineFactory = Callable[[], Engine]


@dataclass
class TriggerQuery:
    """The trigger's query parameters, validated (bad values: 422 with the reason)."""

    force: bool = False
    client_id: str | None = None
    platform: str | None = None


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def parse_trigger_query(force_sync: str | None = None, client_id_filter: str | None = None,
                        platform_filter: str | None = None) -> TriggerQuery:
    # Parsed by hand rather than by FastAPI's types: an empty value (`?client_id_filter=`) means "no filter",
    # and the 422 bodies say in words what to send instead.
    force_word = (force_sync or "").strip().lower()
    if force_word in TRUE_WORDS:
        force = True
    elif force_word in FALSE_WORDS:
        force = False
    else:
        raise _bad_request(f"force_sync must be true or false, got {force_sync!r}")
    client_id = None
    if client_id_filter and client_id_filter.strip():
        try:
            client_id = str(uuid.UUID(client_id_filter.strip()))
        except ValueError:
            raise _bad_request(f"client_id_filter must be a client UUID, got {client_id_filter!r}") from None
    platform = None
    if platform_filter and platform_filter.strip():
        platform = platform_filter.strip().lower()
        if platform not in PLATFORMS:
            raise _bad_request(f"platform_filter must be one of {', '.join(PLATFORMS)}, got {platform_filter!r}")
    return TriggerQuery(force=force, client_id=client_id, platform=platform)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class BackgroundRuns:
    """The sync threads this process started (tests join them; the process does not wait for them)."""

    threads: dict[str, threading.Thread] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, run_id: str, target: Callable[[], None]) -> None:
        # Daemon: stopping the server must not hang on a long sync. An interrupted sync loses nothing
        # committed; its leases expire and the next run goes on from the committed cursors.
        thread = threading.Thread(target=target, name=f"api-sync-{run_id[:8]}", daemon=True)
        with self.lock:
            self.threads = {k: t for k, t in self.threads.items() if t.is_alive()}
            self.threads[run_id] = thread
        thread.start()

    def join(self, run_id: str, timeout: float | None = None) -> bool:
        with self.lock:
            thread = self.threads.get(run_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


class StoreOpener:
    """Opens a store per request; makes sure the tables exist once per process."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._ready = False
        self._lock = threading.Lock()

    def open(self) -> AdminStore:
        try:
            store = open_store(self._settings)
        except ConfigError as exc:
            raise HTTPException(status_code=503, detail=f"the database is unavailable: {exc}") from None
        try:
            if not self._ready:
                with self._lock:
                    if not self._ready:
                        store.ensure_schema()
                        self._ready = True
        except Exception:
            store.close()
            raise
        return store


def create_app(settings: Settings, *, engine_factory: EngineFactory | None = None) -> FastAPI:
    """The admin API for one configuration. `engine_factory` builds the engine of each triggered run
    (tests pass one with their own platforms); by default a `SyncEngine` on `settings`."""
    if engine_factory is None:
        def engine_factory() -> Engine:
            from .engine import SyncEngine

            return SyncEngine(settings)

    auth = AdminAuth(settings.admin_api_token, settings.supabase_jwt_secret)
    stores = StoreOpener(settings)
    runs = BackgroundRuns()
    app = FastAPI(title="API Sync admin API", version="1.0",
                  description="Trigger a Shopify/Amazon sync and follow its progress.")
    app.state.settings = settings
    app.state.background_runs = runs

    @app.exception_handler(HTTPException)
    def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/admin/trigger-api-sync", status_code=202, dependencies=[Depends(auth)])
    def trigger_api_sync(request: Request, query: TriggerQuery = Depends(parse_trigger_query)) -> dict[str, Any]:
        params = RunParams(triggered_by="api", force=query.force, client_id=query.client_id,
                           platform=query.platform)
        run_id = str(uuid.uuid4())
        store = stores.open()
        try:
            # The row exists (status "running") before the 202 leaves; the engine's own start_run
            # for this run_id then does nothing.
            store.start_run(run_id, params, utcnow())
        finally:
            store.close()
        runs.start(run_id, lambda: _run_in_background(engine_factory, stores, run_id, params))
        log.info("Sync run %s queued by the admin API (force=%s, client=%s, platform=%s)", run_id, params.force,
                 params.client_id or "all", params.platform or "all")
        return {"run_id": run_id, "status": "queued",
                "status_url": str(request.url_for("get_sync_run", run_id=run_id))}

    @app.get("/api/admin/sync-runs/{run_id}", dependencies=[Depends(auth)], name="get_sync_run")
    def get_sync_run(run_id: str) -> dict[str, Any]:
        try:
            run_id = str(uuid.UUID(run_id))
        except ValueError:
            raise _bad_request(f"run_id must be a UUID, got {run_id!r}") from None
        store = stores.open()
        try:
            run = store.get_run(run_id)
            results = store.list_results(run_id=run_id) if run else []
        finally:
            store.close()
        if run is None:
            raise HTTPException(status_code=404, detail=f"no sync run with id {run_id}")
        return _jsonable({
            "run_id": run["run_id"], "status": run["status"], "triggered_by": run["triggered_by"],
            "params": run["params"], "started_at": run["started_at"], "finished_at": run["finished_at"],
            "summary": run["summary"],
            # Per-integration rows written so far: a running run shows its progress here.
            "results": [_result_view(r) for r in results],
        })

    return app


def _result_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("credential_id", "client_id", "platform_type", "success", "records_fetched", "records_stored",
            "sync_duration_seconds", "data_types_synced", "error_message", "started_at", "finished_at")
    out = {k: row.get(k) for k in keys}
    if isinstance(out["data_types_synced"], str):  # SQLite hands JSON back as text
        import json

        out["data_types_synced"] = json.loads(out["data_types_synced"])
    return out


def _run_in_background(engine_factory: EngineFactory, stores: StoreOpener, run_id: str, params: RunParams) -> None:
    try:
        engine_factory().run(params, run_id=run_id)
    except Exception as exc:
        # The engine records per-integration failures itself; getting here means the run as a whole
        # could not go on (database gone, bad configuration). Say so on the run row if we still can.
        log.exception("Sync run %s stopped", run_id)
        message = str(exc) if isinstance(exc, ConfigError) else f"the run stopped: {type(exc).__name__}"
        try:
            store = stores.open()
            try:
                store.finish_run(run_id, "failed", utcnow(), {"run_id": run_id, "error": message})
            finally:
                store.close()
        except Exception:
            log.exception("Could not mark sync run %s as failed", run_id)

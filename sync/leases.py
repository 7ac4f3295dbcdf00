"""Keeps the leases of the integrations this process is syncing alive (SPEC: a running sync renews its lease).

One background thread with its own store connection renews every held lease each third of the lease
time. A lease that cannot be renewed (another worker claimed the integration after it expired) is
marked lost; the engine then stops that sync before its next commit.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from .models import WorkerId
from .store.base import LeaseStore

log = logging.getLogger("api_sync_cron")


class LeaseKeeper:
    def __init__(self, store_factory: Callable[[], LeaseStore], lease_seconds: int, clock: Callable[[], datetime]):
        self._store_factory = store_factory
        self._lease = timedelta(seconds=lease_seconds)
        self._interval = max(lease_seconds / 3.0, 0.2)
        self._clock = clock
        self._held: dict[str, WorkerId] = {}  # credential_id -> the worker holding it
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lease_until(self) -> datetime:
        return self._clock() + self._lease

    def hold(self, credential_id: str, worker_id: WorkerId) -> None:
        with self._lock:
            self._held[credential_id] = worker_id
            self._lost.discard(credential_id)

    def release(self, credential_id: str) -> None:
        with self._lock:
            self._held.pop(credential_id, None)

    def is_lost(self, credential_id: str) -> bool:
        with self._lock:
            return credential_id in self._lost

    def __enter__(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        store: LeaseStore | None = None
        while not self._stop.wait(self._interval):
            with self._lock:
                held = dict(self._held)
            if not held:
                continue
            try:
                if store is None:
                    store = self._store_factory()
                for credential_id, worker_id in held.items():
                    if not store.renew_lease(credential_id, worker_id, self.lease_until()):
                        with self._lock:
                            if credential_id in self._held:
                                self._lost.add(credential_id)
                        log.warning("Lease on integration %s was lost to another worker", credential_id)
            except Exception as exc:  # the database may blip; the next round tries again
                log.warning("Could not renew leases: %s", exc)
                if store is not None:
                    try:
                        store.close()
                    except Exception:
                        pass
                    store = None
        if store is not None:
            store.close()

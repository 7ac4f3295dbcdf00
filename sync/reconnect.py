"""A worker's store connection that outlives the database failing under it.

A connection killed by the server (pg_terminate_backend, a restart, a pooler recycling it), a statement
timeout, a full disk, a REST call that kept failing: the operation is tried again on a fresh connection
(the old one may be dead), with backoff, until `SYNC_DB_RETRY_SECONDS` have passed since the first failure.
Every operation the engine retries is safe to repeat: a page is one transaction (rolled back when it
failed, and written again the same way: dedup finds what a lost acknowledgement had committed), a claim
and a lease renewal name their worker, a result row its id.

After the budget the operation fails with `StoreError`, a sentence saying what failed. The lease is not
the concern here: a worker that retried past its lease finds it lost at the next page (LeaseLost is
never retried).

The wrapper stands in for the store: every store method called on it is retried that way, except
`page_transaction`, whose body only its caller can run again (the engine does, with `call`).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Generic, TypeVar

from .errors import StoreError
from .store.base import LeaseLost

log = logging.getLogger("api_sync_cron")

S = TypeVar("S")
T = TypeVar("T")

DEFAULT_RETRY_SECONDS = 60.0  # SYNC_DB_RETRY_SECONDS (Settings.db_retry_seconds)
_FIRST_WAIT, _MAX_WAIT = 0.25, 5.0
# Our own mistakes, not the database's: repeating them would only delay the error.
_NOT_RETRIED = (LeaseLost, TypeError, AttributeError, KeyError, NameError, AssertionError, NotImplementedError)
# Handed through as they are: a transaction's body cannot be repeated from here.
_PASSED_THROUGH = frozenset({"page_transaction"})


def describe(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class ReconnectingStore(Generic[S]):
    """Holds one store; `call(what, fn)` runs `fn(store)`, on a fresh store after a failure.

    The first store is opened at once and its failure raised as is (a bad DATABASE_URL is a
    configuration error, not something to wait for).
    """

    def __init__(self, factory: Callable[[], S], budget_seconds: float = DEFAULT_RETRY_SECONDS, *,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self._factory = factory
        self._budget = budget_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._store: S | None = factory()
        self.reconnects = 0

    def call(self, what: str, fn: Callable[[S], T]) -> T:
        """`fn(store)`; `what` completes "the database failed while ..." in messages."""
        first_failure: float | None = None
        wait = _FIRST_WAIT
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._store is None:
                    self._store = self._factory()
                return fn(self._store)
            except _NOT_RETRIED:
                raise
            except Exception as exc:
                now = self._monotonic()
                first_failure = now if first_failure is None else first_failure
                self._discard()
                if attempt > 1 and now - first_failure >= self._budget:
                    raise StoreError(
                        f"the database failed while {what} ({describe(exc)}) and did not recover within "
                        f"{self._budget:g} s (SYNC_DB_RETRY_SECONDS); what was committed before stays, and the "
                        "next sync goes on from the last committed page") from exc
                log.warning("⚠️ The database failed while %s (%s); reconnecting and trying again in %.2f s",
                            what, describe(exc), wait)
                self._sleep(wait)
                wait = min(wait * 2, _MAX_WAIT)

    def __getattr__(self, name: str):
        # Only for what this class does not define: the store's own methods and attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        if self._store is None:
            self._store = self._factory()
        attr = getattr(self._store, name)
        if name in _PASSED_THROUGH or not callable(attr):
            return attr

        def retried(*args, **kwargs):
            return self.call(f"running {name}", lambda store: getattr(store, name)(*args, **kwargs))

        return retried

    def _discard(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            self.reconnects += 1
            try:
                store.close()  # type: ignore[attr-defined]
            except Exception:
                pass  # a dead connection may not even close cleanly

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()  # type: ignore[attr-defined]

"""The process-wide count of Orders API v0 requests that reached any emulator.

Amazon removes the v0 Orders reads on 2027-03-27; the test suite proves that nothing in the project still
calls them by checking, once every test has run, that this ledger is empty (`tests/conftest.py`). It lives
at module level on purpose: the proof must cover every emulator any test started, including ones the test
never hands back. Emulators built with `ledger=None` or a ledger of their own (the emulator's own tests of
its v0 answers) do not write to it.
"""

from __future__ import annotations

import threading
from collections import Counter


class V0Ledger:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


V0_ORDERS_LEDGER = V0Ledger()

"""Pacing by Shopify's cost bucket (`extensions.cost.throttleStatus`), so the bucket is used, not overrun.

Shopify takes a query's requested cost from the bucket before running it (THROTTLED when it is not
there) and refunds the unused part after; the bucket refills at `restoreRate` points per second. Every
answer reports the bucket, so the pacer knows, before each request, how many points should be there
by now, and sleeps exactly long enough for the request's expected cost (the requested cost the same
document had last time) to be available. Over a long sync this keeps consumption at the restore rate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass
class CostPacer:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    maximum: float | None = None
    available: float = 0.0
    restore_rate: float = 0.0
    observed_at: float = 0.0
    expected: dict[str, float] = field(default_factory=dict)  # operation name -> last requested cost
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def projected(self) -> float | None:
        if self.maximum is None or self.restore_rate <= 0:
            return None
        return min(self.maximum, self.available + (self.clock() - self.observed_at) * self.restore_rate)

    def before(self, operation: str, expected: float | None = None) -> None:
        """Wait until the bucket should hold `expected` points (default: what this operation cost last time).

        The points are then taken from the projection, so another thread's request (the bulk poller's,
        beside the pages) waits for its own instead of counting the same ones."""
        with self._lock:
            cost = expected if expected is not None else self.expected.get(operation)
            projected = self.projected()
            if cost is None or projected is None:
                return
            wait = max(0.0, (cost - projected) / self.restore_rate)
            self.available = projected - cost + wait * self.restore_rate
            self.observed_at = self.clock()
        self._wait(wait)

    def observe(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        with self._lock:
            self._observe(operation, cost)

    def _observe(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        if not cost:
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)):
            self.expected[operation] = float(requested)
        status = cost.get("throttleStatus") or {}
        try:
            self.maximum = float(status["maximumAvailable"])
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"])
            self.observed_at = self.clock()
        except (KeyError, TypeError, ValueError):
            pass

    def throttled(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        """After a THROTTLED answer: wait for exactly the points missing, at the restore rate."""
        with self._lock:
            self._observe(operation, cost)
            requested = (cost or {}).get("requestedQueryCost") or self.expected.get(operation) or 0
            # +1 point: Shopify reports the available points rounded down.
            wait = ((max(0.0, float(requested) - self.available) + 1.0) / self.restore_rate
                    if self.restore_rate > 0 else 1.0)
        self._wait(wait)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited_seconds += seconds
            self.sleep(seconds)

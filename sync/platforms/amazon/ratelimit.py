"""Client-side pacing: one token bucket per SP-API operation, per connection.

Each bucket starts with the operation's documented burst and refills at its documented rate; the
`x-amzn-RateLimit-Limit` header of every answer then replaces the rate (Amazon may grant a seller more, or
less, than documented; the local emulator announces its scaled rate this way). A 429 empties the bucket, so
the next attempt waits one refill interval. Buckets live in the connection, never in module state: two
integrations never share (or starve) each other's budget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

# Usage plans from the SP-API models (rate per second, burst); a test checks them against the models.
DOCUMENTED_LIMITS: dict[str, tuple[float, int]] = {
    "getMarketplaceParticipations": (0.016, 15),
    "searchOrders": (0.0056, 20),  # Orders API v2026-01-01
    "getOrder": (0.5, 30),
    "getReports": (0.0222, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "getInventorySummaries": (2.0, 2),
}


@dataclass
class TokenBucket:
    rate: float
    burst: int
    tokens: float
    stamp: float

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def reserve(self, now: float) -> float:
        """Take one token (going into debt if needed); return how long to wait before using it."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass
class RateLimiter:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    limits: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(DOCUMENTED_LIMITS))
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    waited: float = 0.0  # total seconds spent pacing (for logs and benchmarks)

    def _bucket(self, operation: str) -> TokenBucket:
        bucket = self._buckets.get(operation)
        if bucket is None:
            rate, burst = self.limits.get(operation, (1.0, 1))
            bucket = TokenBucket(rate, burst, float(burst), self.clock())
            self._buckets[operation] = bucket
        return bucket

    def acquire(self, operation: str) -> None:
        if operation not in self.limits:  # e.g. the report document download: not an SP-API operation
            return
        with self._lock:
            wait = self._bucket(operation).reserve(self.clock())
            self.waited += wait
        if wait > 0:
            self.sleep(wait)

    def observe(self, operation: str, header: str | None) -> None:
        """Adopt the rate Amazon announced in `x-amzn-RateLimit-Limit` (ignored when absent or garbled)."""
        if not header:
            return
        try:
            rate = float(header)
        except ValueError:
            return
        if rate <= 0:
            return
        with self._lock:
            bucket = self._bucket(operation)
            bucket._refill(self.clock())
            bucket.rate = rate

    def throttled(self, operation: str) -> float:
        """Amazon said 429: our bucket was optimistic. Empty it; return the refill interval."""
        with self._lock:
            bucket = self._bucket(operation)
            bucket._refill(self.clock())
            bucket.tokens = min(bucket.tokens, 0.0)
            return 1.0 / bucket.rate

    def rate(self, operation: str) -> float:
        with self._lock:
            return self._bucket(operation).rate

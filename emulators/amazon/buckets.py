"""Server-side token buckets: one per (seller, operation), as SP-API meters each selling partner and app."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .limits import USAGE_PLANS


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Buckets:
    time_scale: float = 1.0
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rate(self, operation: str) -> float:
        return USAGE_PLANS[operation].rate * self.time_scale

    def allow(self, seller_key: str, operation: str) -> bool:
        plan = USAGE_PLANS[operation]
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get((seller_key, operation))
            if bucket is None:
                bucket = _Bucket(plan.rate * self.time_scale, plan.burst, float(plan.burst), now)
                self._buckets[(seller_key, operation)] = bucket
            return bucket.take(now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

"""Fault injection: what the next matching requests should suffer instead of a normal answer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# kind -> (HTTP status, error code, message) for the faults that answer with an SP-API error body.
ERROR_FAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (429, "QuotaExceeded", "You exceeded your quota for the requested resource."),
    "error500": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "error503": (503, "ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}
KINDS = (*ERROR_FAULTS, "gateway502", "slow", "drop")  # gateway502: an HTML page, not an SP-API body


@dataclass
class Fault:
    kind: str
    operation: str  # an operationId, "lwaToken", or "*" for any
    remaining: int
    delay: float = 0.0  # seconds, for "slow"


@dataclass
class FaultPlan:
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, operation: str = "*", times: int = 1, delay: float = 0.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        with self._lock:
            self._faults.append(Fault(kind, operation, times, delay))

    def take(self, operation: str) -> Fault | None:
        """The first pending fault for this operation (consumed), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.operation in ("*", operation):
                    fault.remaining -= 1
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

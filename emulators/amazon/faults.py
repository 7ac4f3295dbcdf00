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
# gateway502: an HTML page, not an SP-API body. expire_token: the next request of the operation that carries a
# pagination token finds it expired (the operation's handler takes these, not the generic fault step).
KINDS = (*ERROR_FAULTS, "gateway502", "slow", "drop", "expire_token")
TOKEN_FAULTS = ("expire_token",)


@dataclass
class Fault:
    kind: str
    operation: str  # an operationId, "lwaToken", or "*" for any
    remaining: int
    delay: float = 0.0  # seconds, for "slow"
    after: int = 0  # matching requests answered normally before this fault starts


@dataclass
class FaultPlan:
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, operation: str = "*", times: int = 1, delay: float = 0.0, after: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        with self._lock:
            self._faults.append(Fault(kind, operation, times, delay, after))

    def take(self, operation: str, kinds: tuple[str, ...] | None = None) -> Fault | None:
        """The first pending fault for this operation (consumed), or None.

        kinds: only faults of these kinds; by default every kind but the token faults. Each matching request
        counts down the `after` of every fault still waiting."""
        chosen = None
        with self._lock:
            for fault in self._faults:
                wanted = fault.kind in kinds if kinds is not None else fault.kind not in TOKEN_FAULTS
                if not (wanted and fault.remaining > 0 and fault.operation in ("*", operation)):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                elif chosen is None:
                    chosen = fault
            if chosen is not None:
                chosen.remaining -= 1
            return chosen

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

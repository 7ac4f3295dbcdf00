"""Opaque page tokens (`NextToken`, `nextToken`, `paginationToken`): each maps to the state of its listing."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

from .params import bad


class NextTokens:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._states: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def issue(self, state: dict[str, Any]) -> str:
        """A new token for `state` (which names its listing under "kind"); "issued" is stamped on it."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._states[token] = {**state, "issued": self._clock()}
        return token

    def get(self, token: str, kind: str, name: str = "NextToken") -> dict[str, Any]:
        with self._lock:
            state = self._states.get(token)
        if state is None or state["kind"] != kind:
            raise bad(f"Invalid {name}.", f"The {name} is not valid for this request.")
        return state

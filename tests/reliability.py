"""Figures of the reliability suites: each suite records what it injected and checked, and the session
prints them at its end (conftest.py), so the README's "Reliability" figures come from the suites' own output.

`RELIABILITY_REPORT` names a JSON-lines file to append the figures to as well (`.ci/run` sets it).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

_lock = threading.Lock()
_figures: list[dict[str, Any]] = []


def record(suite: str, **figures: Any) -> None:
    """One line of figures for `suite` (e.g. faults=..., survived=..., lost=0, duplicated=0)."""
    entry = {"suite": suite, **figures}
    with _lock:
        _figures.append(entry)
        path = os.environ.get("RELIABILITY_REPORT")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def recorded() -> list[dict[str, Any]]:
    with _lock:
        return list(_figures)


def summary_lines() -> list[str]:
    lines = []
    for entry in recorded():
        rest = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "suite" and not isinstance(v, (list, dict)))
        lines.append(f"{entry['suite']}: {rest}")
        for key in ("table", "lines"):
            if isinstance(entry.get(key), list):
                lines.extend(f"    {line}" for line in entry[key])
    return lines

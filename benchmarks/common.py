"""What every benchmark module shares: the figure dict, medians, and a clock."""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable


def figure(name: str, value: float, unit: str, baseline_name: str, baseline: float, target: str,
           ok: bool, ratio: float | None = None, **extra: Any) -> dict[str, Any]:
    """One reported figure: the project's number next to a baseline measured in the same run."""
    if ratio is None:
        ratio = value / baseline if baseline else float("nan")
    out = {"name": name, "value": round(value, 3), "unit": unit, "baseline_name": baseline_name,
           "baseline": round(baseline, 3), "ratio": round(ratio, 3), "target": target, "ok": bool(ok)}
    out.update(extra)
    return out


def skipped(name: str, reason: str) -> dict[str, Any]:
    """A figure that could not be measured here (what is missing is said in `target`)."""
    return {"name": name, "value": float("nan"), "unit": "", "baseline_name": "", "baseline": float("nan"),
            "ratio": float("nan"), "target": reason, "ok": False, "skipped": True}


def repeats(quick: bool) -> int:
    return 1 if quick else 3


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call, with the garbage of earlier measurements collected first."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start

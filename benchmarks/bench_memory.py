"""Memory: peak RSS of a whole sync, each in a fresh process (issue 5, target 4).

A sync streams page by page, so its peak must not grow with the shop: 200,000 records must peak at
<= 150 MB and <= 1.2 x the peak of a 50,000-record sync. Records are generated page by page inside
the child process (a real fetcher holds one answer at a time too). The peak is the child's VmHWM (see
memsync._peak_mb: `ru_maxrss` would carry over the benchmark process's own peak across exec).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import pg
from .common import figure, median, skipped

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 150.0


def measure(count: int, dsn: str) -> dict[str, Any]:
    """Run one sync of `count` records in a child process; its JSON report."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.memsync", "--count", str(count), "--dsn", dsn],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[dict[str, Any]]:
    if not pg.pg_available():
        return [skipped("peak RSS of a sync", f"PostgreSQL not reachable at {pg.PG_DSN}")]
    small, large = (50_000, 200_000)
    runs = 1 if quick else 2
    small_peaks, large_peaks, before, rates = [], [], [], []
    for _ in range(runs):
        with pg.fresh_schema() as dsn:
            a = measure(small, dsn)
        with pg.fresh_schema() as dsn:
            b = measure(large, dsn)
        small_peaks.append(a["peak_rss_mb"])
        large_peaks.append(b["peak_rss_mb"])
        before.append(b["rss_before_mb"])
        rates.append(large / b["seconds"])
    small_mb, large_mb = median(small_peaks), median(large_peaks)
    return [
        figure(f"peak RSS, sync of {large:,} records", large_mb, "MB", f"peak RSS, sync of {small:,}", small_mb,
               f"<= {LIMIT_MB:.0f} MB and <= 1.2 x", large_mb <= LIMIT_MB and large_mb <= 1.2 * small_mb,
               records_per_s=round(median(rates))),
        figure(f"peak RSS, sync of {small:,} records", small_mb, "MB", "same process before the sync (imports)",
               median(before), "reported", True),
    ]

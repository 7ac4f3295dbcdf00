"""The same records through dlt's `merge` into PostgreSQL (optional: requirements-bench.txt).

Imported only when dlt is installed. Telemetry is switched off before dlt loads: benchmarks speak
to the local database alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

import dlt  # noqa: E402
import psycopg  # noqa: E402

from . import pg  # noqa: E402
from .common import timed  # noqa: E402


def _dlt_dsn(dsn: str) -> str:
    # dlt insists on a password; the local database trusts loopback and ignores it.
    parts = urlsplit(dsn)
    if parts.password is None and parts.username:
        parts = parts._replace(netloc=f"{parts.username}:unused@{parts.hostname}:{parts.port or 5432}")
    return urlunsplit(parts)


def first_and_resync(first: Sequence[dict[str, Any]], second: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """Seconds for dlt to merge `first` into an empty dataset, then `second` (same ids) on top."""
    dataset = f"bench_dlt_{uuid.uuid4().hex[:10]}"
    folder = tempfile.mkdtemp(prefix="api_sync_bench_dlt_")
    pipeline = dlt.pipeline(pipeline_name=dataset, pipelines_dir=folder, dataset_name=dataset,
                            destination=dlt.destinations.postgres(credentials=_dlt_dsn(pg.PG_DSN)), progress=None)

    def load(rows: Sequence[dict[str, Any]]) -> None:
        @dlt.resource(name="orders", write_disposition="merge", primary_key="id")
        def orders():
            yield from rows

        info = pipeline.run(orders())
        info.raise_on_failed_jobs()

    try:
        return timed(lambda: load(first)), timed(lambda: load(second))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(pg.PG_DSN, autocommit=True) as conn:
            for schema in (dataset, f"{dataset}_staging"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

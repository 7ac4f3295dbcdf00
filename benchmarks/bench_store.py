"""Store throughput: first load and re-sync through the real write path, next to raw baselines.

Figures (issue 5, targets 1, 2, 3 and 8):
- PostgreSQL first load and 1%-changed re-sync through `SyncEngine` (hash, serialize, dedup, upsert,
  cursor), next to a raw `COPY` of the same pre-serialized rows into an unindexed jsonb table;
- the same records through dlt's `merge` (when `dlt[postgres]` is installed: requirements-bench.txt);
- SQLite first load and re-sync, next to a plain `executemany` insert of the same rows.
Records are built before the clock starts: the figure is the store's, not the generator's.
Also reported: the floor the data table's schema sets, a bare COPY of the same rows into a table
with that schema (SPEC's unique dedup key, the primary key, the updated-at index; a commit per page
of 250, as the cursor needs), without hashing, dedup or the engine.
The machine is shared and noisy: each repeat measures a baseline and the sync back to back, and the
ratio quoted is the median of the per-repeat ratios.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from typing import Any, Sequence

import psycopg

from sync.engine import SyncEngine
from sync.hashing import canonical_json
from sync.ids import data_table, quote_ident
from sync.store.postgres import PostgresStore
from sync.models import Record, RunParams
from sync.platforms import PlatformRegistry

from . import pg, records
from .common import figure, median, repeats, skipped, timed
from .platform import BenchPlatform, BenchShop, build, make_record

CHANGED = 0.01


def _datasets(count: int) -> tuple[list[Record], list[Record]]:
    first = build(count)
    second = [make_record(i + 1, 1) if records.changed(i + 1, CHANGED) else r for i, r in enumerate(first)]
    return first, second


def _check(summary: Any, count: int, new: int, updated: int) -> None:
    """A figure is only worth quoting if the sync did the work it claims."""
    result = summary.results[0]
    counts = result.streams["orders"]
    got = (result.success, counts.fetched, counts.new, counts.updated, counts.unchanged)
    want = (True, count, new, updated, count - new - updated)
    if got != want:
        raise RuntimeError(f"benchmark sync went wrong: (success, fetched, new, updated, unchanged) = {got}, "
                           f"expected {want}: {result.error_message}")


def engine_first_and_resync(settings: Any, first: Sequence[Record], second: Sequence[Record]) -> tuple[float, float]:
    """Seconds for a first load of `first`, then a forced full re-sync serving `second`."""
    serving = {"records": first}
    platform = BenchPlatform(lambda secrets: BenchShop(serving["records"]))
    pg.add_integrations(settings, 1)
    engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": platform}))
    params = RunParams(force=True, triggered_by="manual")
    changed = sum(1 for a, b in zip(first, second) if a is not b)
    holder: dict[str, Any] = {}
    t_first = timed(lambda: holder.__setitem__("s", engine.run(params, workers=1)))
    _check(holder["s"], len(first), len(first), 0)
    serving["records"] = second
    t_second = timed(lambda: holder.__setitem__("s", engine.run(params, workers=1)))
    _check(holder["s"], len(second), 0, changed)
    return t_first, t_second


def copy_baseline(dsn: str, texts: Sequence[str]) -> float:
    """Seconds to COPY pre-serialized JSON rows into an unindexed jsonb table, one transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_copy (data jsonb)")

        def load() -> None:
            with conn.transaction():
                with conn.cursor().copy("COPY raw_copy (data) FROM STDIN") as copy:
                    for text in texts:
                        copy.write_row((text,))

        return timed(load)


def schema_floor(dsn: str, rows: Sequence[Record], texts: Sequence[str]) -> float:
    """Seconds to COPY the rows into a table with the data table's schema, a transaction per page."""
    credential_id = str(uuid.uuid4())
    client_id = str(uuid.uuid4())
    store = PostgresStore(dsn)  # the data table exactly as a sync creates it
    try:
        store.ensure_schema()
        store.ensure_data_table(client_id)
    finally:
        store.close()
    table = quote_ident(data_table(client_id))
    with psycopg.connect(dsn, autocommit=True) as conn:
        from datetime import datetime, timezone
        now = datetime.now(timezone.utc)

        def load() -> None:
            for start in range(0, len(rows), 250):
                with conn.transaction():
                    with conn.cursor().copy(
                            f"COPY {table} (credential_id, platform_type, data_type, external_id, data, "
                            "record_hash, source_updated_at, first_synced_at, last_synced_at) FROM STDIN") as copy:
                        for record, text in zip(rows[start:start + 250], texts[start:start + 250]):
                            copy.write_row((credential_id, "shopify", "orders", record.external_id, text, "-",
                                            record.updated_at, now, now))

        return timed(load)


def _postgres(quick: bool, first: list[Record], second: list[Record], texts: list[str]) -> list[dict[str, Any]]:
    n = len(first)
    copy_s, floor_s, first_s, second_s = [], [], [], []
    for _ in range(repeats(quick)):
        with pg.fresh_schema() as dsn:
            copy_s.append(copy_baseline(dsn, texts))
        with pg.fresh_schema() as dsn:
            a, b = engine_first_and_resync(pg.settings_for(dsn), first, second)
        with pg.fresh_schema() as dsn:
            floor_s.append(schema_floor(dsn, first, texts))
        first_s.append(a)
        second_s.append(b)
    copy_rate = n / median(copy_s)
    first_rate, second_rate, floor_rate = n / median(first_s), n / median(second_s), n / median(floor_s)
    first_ratio = median([c / t for c, t in zip(copy_s, first_s)])
    second_ratio = median([c / t for c, t in zip(copy_s, second_s)])
    floor_ratio = median([c / t for c, t in zip(copy_s, floor_s)])
    out = [
        figure(f"postgres first load ({n} records)", first_rate, "records/s", "raw COPY, unindexed jsonb",
               copy_rate, ">= 0.6 x COPY", first_ratio >= 0.6, ratio=first_ratio),
        figure(f"postgres re-sync, 1% changed ({n} records)", second_rate, "records/s",
               "raw COPY, unindexed jsonb", copy_rate, ">= 1.5 x COPY", second_ratio >= 1.5, ratio=second_ratio),
        figure(f"floor: bare COPY into the data table's schema ({n} records)", floor_rate, "records/s",
               "raw COPY, unindexed jsonb", copy_rate, "reported (what the schema allows)", True,
               ratio=floor_ratio),
    ]
    out += _dlt(quick, first, second, first_rate, second_rate)
    return out


def _dlt(quick: bool, first: list[Record], second: list[Record], our_first: float,
         our_second: float) -> list[dict[str, Any]]:
    try:
        from . import dlt_load
    except ImportError:
        return [skipped("dlt merge comparison", "dlt not installed (pip install -r requirements-bench.txt)")]
    n = min(len(first), 3000) if quick else len(first)  # full mode: the very same records as ours
    first_s, second_s = [], []
    for _ in range(1 if quick else 2):
        a, b = dlt_load.first_and_resync([r.data for r in first[:n]], [r.data for r in second[:n]])
        first_s.append(a)
        second_s.append(b)
    dlt_first, dlt_second = n / median(first_s), n / median(second_s)
    return [
        figure(f"first load vs dlt merge (dlt on {n} records)", our_first, "records/s", "dlt merge first load",
               dlt_first, ">= 5 x dlt", our_first >= 5 * dlt_first),
        figure(f"re-sync vs dlt merge (dlt on {n} records)", our_second, "records/s", "dlt merge re-sync",
               dlt_second, ">= 20 x dlt", our_second >= 20 * dlt_second),
    ]


def executemany_baseline(path: str, texts: Sequence[str]) -> float:
    """Seconds for a plain executemany insert of the pre-serialized rows, one transaction, same pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE raw_insert (external_id TEXT, data TEXT)")

        def load() -> None:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO raw_insert VALUES (?, ?)", zip(map(str, range(len(texts))), texts))
            conn.execute("COMMIT")

        return timed(load)
    finally:
        conn.close()


def _sqlite(quick: bool, first: list[Record], second: list[Record], texts: list[str]) -> list[dict[str, Any]]:
    n = len(first)
    base_s, first_s, second_s = [], [], []
    for _ in range(repeats(quick)):
        folder = tempfile.mkdtemp(prefix="api_sync_bench_")
        try:
            base_s.append(executemany_baseline(os.path.join(folder, "raw.db"), texts))
            a, b = engine_first_and_resync(pg.settings_for(sqlite_path=os.path.join(folder, "api_sync.db")),
                                           first, second)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        first_s.append(a)
        second_s.append(b)
    base_rate = n / median(base_s)
    first_rate, second_rate = n / median(first_s), n / median(second_s)
    return [
        figure(f"sqlite first load ({n} records)", first_rate, "records/s", "plain executemany insert", base_rate,
               "reported (no target in the issue)", True),
        figure(f"sqlite re-sync, 1% changed ({n} records)", second_rate, "records/s", "plain executemany insert",
               base_rate, "reported (no target in the issue)", True),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    n = 20_000 if quick else 50_000
    first, second = _datasets(n)
    texts = [canonical_json(r.data) for r in first]
    out: list[dict[str, Any]] = []
    if pg.pg_available():
        out += _postgres(quick, first, second, texts)
    else:
        out.append(skipped("postgres store figures", f"PostgreSQL not reachable at {pg.PG_DSN}"))
    out += _sqlite(quick, first, second, texts)
    return out


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))

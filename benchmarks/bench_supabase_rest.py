"""Supabase REST store throughput: first load and 1%-changed re-sync through `SyncEngine`, over HTTP to the
local PostgREST emulator (supabase-py -> emulator -> the functions of postgres_functions.sql), next to the
PostgreSQL store (what the pooler DATABASE_URL gives) on the same records in the same run.

No target in the issue: the figure says how much the REST path costs, which the README's advice ("the
pooler DATABASE_URL is the faster path") rests on. The emulator is Python; a real PostgREST is faster.
"""

from __future__ import annotations

from typing import Any

import psycopg

from emulators.postgrest import PostgrestEmulator
from sync.store.migration import render as render_migration

from . import pg
from .bench_store import _datasets, engine_first_and_resync
from .common import figure, median, repeats, skipped



def _rest_run(first: list, second: list) -> tuple[float, float]:
    with pg.fresh_schema() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(render_migration())  # what a Supabase project gets: the migration
        with PostgrestEmulator(dsn) as emu:
            settings = pg.settings_for(SUPABASE_URL=emu.url, SUPABASE_SERVICE_ROLE_KEY=emu.service_key)
            assert settings.store_kind == "supabase"
            return engine_first_and_resync(settings, first, second)


def _pg_run(first: list, second: list) -> tuple[float, float]:
    with pg.fresh_schema() as dsn:
        return engine_first_and_resync(pg.settings_for(dsn), first, second)


def run(quick: bool) -> list[dict[str, Any]]:
    if not pg.pg_available():
        return [skipped("supabase REST store figures", f"PostgreSQL not reachable at {pg.PG_DSN}")]
    n = 2_000 if quick else 10_000
    first, second = _datasets(n)
    rest_first, rest_second, pg_first, pg_second = [], [], [], []
    for _ in range(repeats(quick)):
        a, b = _rest_run(first, second)
        rest_first.append(a)
        rest_second.append(b)
        a, b = _pg_run(first, second)
        pg_first.append(a)
        pg_second.append(b)
    return [
        figure(f"supabase REST first load ({n} records, emulated PostgREST)", n / median(rest_first), "records/s",
               "PostgreSQL store first load", n / median(pg_first), "reported (no target in the issue)", True),
        figure(f"supabase REST re-sync, 1% changed ({n} records, emulated PostgREST)", n / median(rest_second),
               "records/s", "PostgreSQL store re-sync", n / median(pg_second), "reported (no target in the issue)",
               True),
    ]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))

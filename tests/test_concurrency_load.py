"""Concurrency under load: 100 due integrations, several cron processes and admin-API triggers at once.

PostgreSQL: four `api_sync_cron`-like processes (4 workers each) and two admin-API triggers in a fifth
process, all started together. SQLite: three processes on one file. Every integration must be synced
exactly once over all those runs (they are not forced: once synced, an integration is no longer due),
every results row must add up, the stored data must equal the test platform's own records, and no run
may hit a deadlock or `database is locked`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from sync.ids import data_table

from .engine_fixtures import add, make_settings, query
from .fakeplatform import FakeShop
from .reliability import record

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "admin-" + uuid.uuid4().hex
INTEGRATIONS = 100
CLIENTS = 40  # several integrations per client: their first syncs race to create the client's table
SHOP = {"orders": 20, "products": 5, "page_size": 10, "page_delay": 0.01}


def _spawn(settings, module: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.env}
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _add_many(settings) -> dict[str, tuple[str, str]]:
    """credential_id -> (client_id, shop domain)."""
    clients = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    out = {}
    for i in range(INTEGRATIONS):
        domain = f"load-{i}-{uuid.uuid4().hex[:6]}.myshopify.com"
        client, cred = add(settings, clients[i % CLIENTS], domain, **SHOP)
        out[cred] = (client, domain)
    return out


def _check_results_and_data(settings, integrations: dict[str, tuple[str, str]], run_ids: set[str]) -> int:
    """Each integration synced once, its results row consistent, its data equal to the platform's."""
    rows = query(settings, "SELECT credential_id, run_id, success, records_fetched, records_stored, "
                           "data_types_synced, error_message FROM client_api_sync_results")
    per_cred = Counter(str(r[0]) for r in rows)
    assert set(per_cred) == set(integrations), "an integration was never synced"
    assert all(n == 1 for n in per_cred.values()), {k: n for k, n in per_cred.items() if n > 1}
    expected = FakeShop.from_secrets(SHOP)
    expected_count = sum(len(v) for v in expected.records.values())
    for cred, run_id, success, fetched, stored, synced, error in rows:
        assert success, error
        assert str(run_id) in run_ids
        streams = json.loads(synced) if isinstance(synced, str) else synced
        assert fetched == sum(s["fetched"] for s in streams.values()) == expected_count
        assert stored == sum(s["new"] + s["updated"] for s in streams.values()) == expected_count
        for counts in streams.values():
            assert counts["fetched"] == counts["new"] + counts["updated"] + counts["unchanged"]
    # The data: exactly the platform's records, once each, for every integration.
    lost = duplicated = 0
    for client in {c for c, _ in integrations.values()}:
        stored_rows = query(settings, f'SELECT credential_id, data_type, external_id, data FROM "{data_table(client)}"')
        keys = Counter((str(r[0]), r[1], r[2]) for r in stored_rows)
        duplicated += sum(n - 1 for n in keys.values())
        for cred, (owner, _) in integrations.items():
            if owner != client:
                continue
            for data_type, records in expected.records.items():
                for external_id, data in records.items():
                    if (cred, data_type, external_id) not in keys:
                        lost += 1
        for cred, data_type, external_id, data in stored_rows:
            data = json.loads(data) if isinstance(data, str) else data
            assert data == expected.records[data_type][external_id]
    assert lost == 0 and duplicated == 0
    return expected_count * len(integrations)


def _check_runs(settings, summaries: list[dict]) -> None:
    runs = query(settings, "SELECT run_id, status, summary FROM api_sync_runs")
    by_id = {str(r[0]): r for r in runs}
    for summary in summaries:
        _, status, stored = by_id[summary["run_id"]]
        stored = json.loads(stored) if isinstance(stored, str) else stored
        assert status == "succeeded", stored
        assert stored["synced"] == len(stored["results"]) and stored["failed"] == 0
        results = query(settings, "SELECT count(*) FROM client_api_sync_results WHERE run_id = ?",
                        (summary["run_id"],))
        assert results[0][0] == stored["synced"]


def _no_lock_trouble(texts: list[str]) -> None:
    for text in texts:
        lowered = text.lower()
        assert "deadlock" not in lowered and "database is locked" not in lowered, text[-3000:]


def _run_together(settings, port: int, force: bool) -> tuple[list[dict], list[str], float]:
    """Four cron processes and two admin-API triggers, started at once; their summaries and stderr."""
    flag = ["--force"] if force else []
    started = time.monotonic()
    procs = [_spawn(settings, "tests.run_fake_sync", "--workers", "4", *flag) for _ in range(4)]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
        query_string = "?force_sync=true" if force else ""
        triggered = [http.post(f"/api/admin/trigger-api-sync{query_string}").json()["run_id"] for _ in range(2)]
        outputs = [p.communicate(timeout=280) for p in procs]
        api_summaries = []
        for run_id in triggered:
            deadline = time.monotonic() + 240
            while True:
                run = http.get(f"/api/admin/sync-runs/{run_id}").json()
                if run["status"] != "running":
                    break
                assert time.monotonic() < deadline, run
                time.sleep(0.2)
            api_summaries.append(run["summary"])
    elapsed = time.monotonic() - started
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    return [json.loads(out.splitlines()[-1]) for out, _ in outputs] + api_summaries, [e for _, e in outputs], elapsed


@pytest.mark.long
def test_four_processes_and_two_admin_triggers_over_100_integrations_on_postgres(fresh_pg_dsn, tmp_path):
    settings = make_settings("postgres", tmp_path, fresh_pg_dsn, ADMIN_API_TOKEN=TOKEN)
    integrations = _add_many(settings)
    port = _free_port()
    admin = _spawn(settings, "tests.run_fake_admin", str(port))
    try:
        assert admin.stdout.readline().strip() == "ready", admin.stderr.read()
        # Due runs: each integration is synced by exactly one of the six.
        summaries, errors, elapsed = _run_together(settings, port, force=False)
        synced = Counter(r["credential_id"] for s in summaries for r in s["results"])
        assert set(synced) == set(integrations) and all(n == 1 for n in synced.values())
        records = _check_results_and_data(settings, integrations, {s["run_id"] for s in summaries})
        _check_runs(settings, summaries)
        # Forced runs at once: no integration twice in one run, none synced twice at the same time (the
        # leases), every one re-read by some run, nothing written (the data did not change).
        forced, forced_errors, forced_elapsed = _run_together(settings, port, force=True)
        for summary in forced:
            per_run = Counter(r["credential_id"] for r in summary["results"])
            assert all(n == 1 for n in per_run.values()), summary["run_id"]
            assert all(r["success"] and r["records_stored"] == 0 for r in summary["results"])
        assert {r["credential_id"] for s in forced for r in s["results"]} == set(integrations)
        _check_runs(settings, forced)
    finally:
        admin.terminate()
        _, admin_err = admin.communicate(timeout=30)
    assert sum(len(query(settings, f'SELECT 1 FROM "{data_table(c)}"'))
               for c in {c for c, _ in integrations.values()}) == records
    logs = [p.read_text() for p in Path(settings.log_dir).glob("*.log")]
    _no_lock_trouble(errors + forced_errors + [admin_err] + logs)
    record("concurrency (PostgreSQL)", processes=4, admin_triggers=2, workers=4 * 4 + 2 * 4,
           integrations=INTEGRATIONS, records=records, synced_once=len(synced), lost=0, duplicated=0,
           per_run="/".join(str(len(s["results"])) for s in summaries), seconds=round(elapsed, 1),
           forced_syncs=sum(len(s["results"]) for s in forced), forced_seconds=round(forced_elapsed, 1))


@pytest.mark.long
def test_three_processes_over_100_integrations_on_sqlite(tmp_path):
    settings = make_settings("sqlite", tmp_path)
    integrations = _add_many(settings)
    started = time.monotonic()
    procs = [_spawn(settings, "tests.run_fake_sync", "--workers", "4") for _ in range(3)]
    outputs = [p.communicate(timeout=280) for p in procs]
    elapsed = time.monotonic() - started
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    summaries = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    synced = Counter(r["credential_id"] for s in summaries for r in s["results"])
    assert set(synced) == set(integrations) and all(n == 1 for n in synced.values())
    records = _check_results_and_data(settings, integrations, {s["run_id"] for s in summaries})
    _check_runs(settings, summaries)
    logs = [p.read_text() for p in Path(settings.log_dir).glob("*.log")]
    _no_lock_trouble([err for _, err in outputs] + logs)
    record("concurrency (SQLite)", processes=3, workers=3 * 4, integrations=INTEGRATIONS, records=records,
           synced_once=len(synced), lost=0, duplicated=0, per_run="/".join(str(len(s["results"])) for s in summaries),
           seconds=round(elapsed, 1))

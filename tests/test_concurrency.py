"""Several processes at once, and a worker killed mid-sync: leases keep every integration single-writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .engine_fixtures import add, data_rows, integration_row, make_settings, query, results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["postgres", "sqlite"])
def settings_factory(request, tmp_path):
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return lambda **extra: make_settings(request.param, tmp_path, dsn, **extra)


def _spawn(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.env}
    return subprocess.Popen([sys.executable, "-m", "tests.run_fake_sync", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_three_processes_sync_each_integration_exactly_once(settings_factory):
    settings = settings_factory()
    creds = [add(settings, orders=20, products=5, page_size=10, page_delay=0.01)[1] for _ in range(50)]
    procs = [_spawn(settings, "--workers", "4") for _ in range(3)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    synced = Counter(r["credential_id"] for out, _ in outputs for r in json.loads(out.splitlines()[-1])["results"])
    assert set(synced) == set(creds)
    assert all(count == 1 for count in synced.values()), synced
    # And in the database: one result row each, every integration connected.
    rows = query(settings, "SELECT credential_id, count(*) FROM client_api_sync_results GROUP BY credential_id")
    assert len(rows) == 50 and all(n == 1 for _, n in rows)
    per_process = [len(json.loads(out.splitlines()[-1])["results"]) for out, _ in outputs]
    assert sum(per_process) == 50


def test_worker_killed_mid_sync_leaves_no_duplicate_and_is_completed_later(settings_factory):
    settings = settings_factory(SYNC_LEASE_SECONDS="3")
    client, cred = add(settings, orders=300, products=10, page_size=20, page_delay=0.15)
    proc = _spawn(settings, "--workers", "1")
    # Wait until some pages are committed, then kill without warning.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            if len(data_rows(settings, client)) >= 60:
                break
        except Exception:
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = data_rows(settings, client)
    assert 60 <= len(partial) < 310
    assert len({(r[1], r[2]) for r in partial}) == len(partial)
    row = integration_row(settings, cred)
    assert row["locked_by"] is not None  # still leased by the dead worker

    # While the lease holds, nothing is due, forced or not.
    quick = _spawn(settings, "--force")
    out, err = quick.communicate(timeout=60)
    assert json.loads(out.splitlines()[-1])["due"] == 0, err

    time.sleep(3.5)
    after = _spawn(settings)
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["synced"] == 1
    orders = summary["results"][0]["data_types_synced"]["orders"]
    stored_before = len([r for r in partial if r[1] == "orders"])
    # The cursor was committed with each page: the rerun starts after the last committed page, re-reading only
    # the overlap at the cursor, and stores exactly the orders that were missing.
    assert orders["new"] == 300 - stored_before
    assert orders["updated"] == 0
    final = data_rows(settings, client)
    assert len(final) == 310
    assert len({(r[1], r[2]) for r in final}) == 310
    assert [r["success"] for r in results(settings, cred)] == [True]
    log_text = (Path(settings.log_dir) / "api_sync_cron.log").read_text()
    assert "stopped without finishing and its lease expired" in log_text
    # The killed process's run row does not stay `running` for ever.
    statuses = sorted(str(r[0]) for r in query(settings, "SELECT status FROM api_sync_runs"))
    assert statuses.count("failed") == 1 and "running" not in statuses, statuses


def test_running_sync_renews_its_lease(settings_factory):
    # The sync takes about 7 s, well past a 2 s lease (renewed every 0.67 s): room for a loaded machine.
    settings = settings_factory(SYNC_LEASE_SECONDS="2")
    client, cred = add(settings, orders=700, products=0, page_size=10, page_delay=0.1)
    first = _spawn(settings, "--workers", "1")
    time.sleep(2.5)
    seen_due = []
    for _ in range(2):
        other = _spawn(settings, "--force")
        out, err = other.communicate(timeout=60)
        seen_due.append(json.loads(out.splitlines()[-1])["due"])
        time.sleep(0.4)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["synced"] == 1
    assert seen_due == [0, 0]
    assert len(data_rows(settings, client)) == 700
    assert len(results(settings, cred)) == 1

"""`api_sync_cron.py --sandbox` works on a fresh folder with nothing configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sandbox_demo_runs_from_an_empty_folder(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE", "CREDENTIALS_ENCRYPTION_KEY"))}
    out = subprocess.run([sys.executable, str(ROOT / "api_sync_cron.py"), "--sandbox", "--json"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["synced"] == 2 and summary["failed"] == 0
    by_platform = {r["platform_type"]: r for r in summary["results"]}
    assert by_platform["shopify"]["data_types_synced"]["orders"]["new"] > 0
    assert by_platform["amazon"]["data_types_synced"]["orders"]["new"] > 0
    assert (tmp_path / "data" / "sandbox.db").exists()
    assert (tmp_path / "logs" / "api_sync_cron.log").exists()


def test_a_second_sandbox_run_marks_what_the_demo_deleted(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE", "CREDENTIALS_ENCRYPTION_KEY"))}
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, str(ROOT / "api_sync_cron.py"), "--sandbox", "--json"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        runs.append({r["platform_type"]: r["data_types_synced"] for r in json.loads(out.stdout.splitlines()[-1])["results"]})
    assert all(entry["audit"]["deleted"] == 0 for run in runs[:1] for types in run.values() for entry in types.values())
    shop, seller = runs[1]["shopify"], runs[1]["amazon"]
    assert (shop["products"]["audit"]["deleted"], shop["customers"]["audit"]["deleted"],
            shop["orders"]["audit"]["deleted"]) == (2, 1, 1)
    assert shop["inventory"]["audit"]["deleted"] > 0  # the deleted products' stock
    assert seller["products"]["audit"] == {"platform": 38, "stored": 38, "missing": 0, "deleted": 2}
    assert all(e["audit"]["platform"] in (None, e["audit"]["stored"]) for t in (shop, seller) for e in t.values())

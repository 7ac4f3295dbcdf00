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

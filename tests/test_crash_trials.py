"""Crash trials: the real cron job (`api_sync_cron.py`, a process of its own) SIGKILLed at seeded moments while
it syncs from the emulators into PostgreSQL: at random times, inside a page commit (its records written, its
cursor waiting) and in the middle of a download (a Shopify bulk result, an Amazon report document).

After each kill: the page in flight is not visible; once the lease has expired, one more run (also the real
cron job) completes the data: the stored records equal the emulator's, none twice, none stale; the killed
run's `api_sync_runs` row is closed as failed, the integration has no result row for the killed attempt and a
successful one for the run after it, and that run's log names the sync that stopped without finishing.

`RELIABILITY_SEED` fixes the moments (`.ci/run` sets it); `RELIABILITY_TRIALS` the killed trials per platform (20;
more are drawn when a sync finishes before its moment).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from emulators.http_faults import faults_of
from emulators.shopify import ShopifyEmulator
from emulators.shopify.data import gid
from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams

from .amazon_fixtures import emulator as amazon_emulator
from .engine_fixtures import make_settings, query
from .reliability import record
from .shopify_fixtures import FAST
from .test_fault_matrix import _add

pytestmark = [pytest.mark.long, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[1]
LEASE = 2
SEED = int(os.environ.get("RELIABILITY_SEED", "20261201"))
TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "20"))


def _plan(rng: random.Random):
    """(moment, scenario) per trial: a fifth inside a page commit, a fifth in a download, the rest random;
    then more random moments, for as long as the caller still lacks killed trials (a sync can finish
    before its moment comes)."""
    moments = ["in a page commit"] * max(4, TRIALS // 5) + ["in a download"] * max(4, TRIALS // 5)
    moments += ["at a random time"] * max(0, TRIALS - len(moments))
    rng.shuffle(moments)
    for moment in moments:
        yield moment, rng.choice(["first sync", "delta sync"])
    while True:
        yield "at a random time", rng.choice(["first sync", "delta sync"])


def _spawn(settings, client_id: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update(settings.env)
    return subprocess.Popen([sys.executable, "api_sync_cron.py", "--force", "--client-id", client_id, "--workers", "1",
                             "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Trial:
    def __init__(self, settings, client_id: str, credential_id: str, moment: str, rng: random.Random):
        self.settings, self.client_id, self.credential_id = settings, client_id, credential_id
        self.moment, self.rng = moment, rng
        self.proc: subprocess.Popen | None = None
        self.killed = threading.Event()
        self.rows_at_kill: int | None = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None and not self.killed.is_set():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.killed.set()

    def rows(self) -> int:
        try:
            return query(self.settings, f'SELECT count(*) FROM "{data_table(self.client_id)}"')[0][0]
        except psycopg.Error:
            return 0

    def arm(self, plan, requests: int, download: str, download_after: int = 0) -> None:
        """"at a random time": the kill comes a seeded 0–150 ms after a seeded one of the `requests` API
        requests such a sync makes (counted beforehand), so it lands while the sync runs: in a request, in
        the parsing of an answer, in a page write, between data types. "in a download": when the
        `download` operation's request (after `download_after` others) comes in."""
        plan.clear()
        if self.moment == "at a random time":
            delay = self.rng.uniform(0.0, 0.15)
            plan.on_call = lambda operation: threading.Timer(delay, self.kill).start()
            plan.add("call", "*", after=self.rng.randint(0, max(0, requests - 2)))
        elif self.moment == "in a download":
            plan.on_call = lambda operation: self.kill()
            plan.add("call", download, after=download_after)

    def rerun(self, plan) -> tuple[dict, bool, int]:
        """After the kill: the lease waited out and one more run. Returns its summary, whether the killed
        process held the integration, and the result rows before the rerun."""
        plan.clear()
        claimed = self.killed.is_set() and _claimed(self.settings, self.credential_id)
        before_rerun = len(_results(self))
        return _finish_after_lease(self), claimed, before_rerun

    def outcome(self, scenario: str) -> str:
        return f"{self.moment}, {scenario}" + ("" if self.killed.is_set() else " (finished before the kill)")

    def run_and_kill(self, pending) -> None:
        """`pending()`: (data_type, external_id) pairs the sync still has to write (for "in a page commit")."""
        self.proc = _spawn(self.settings, self.client_id)
        if self.moment == "at a random time":
            self.proc.wait(120)
        elif self.moment == "in a page commit":
            self._kill_in_commit(pending())
        else:
            self.proc.wait(120)  # the emulator's hook kills it when the download starts
        self.proc.communicate(timeout=30)

    def _kill_in_commit(self, pending: list[tuple[str, str]]) -> None:
        """Hold one record the sync has yet to write, from another session: the page that writes it gets as
        far as that record (its transaction open, some of its rows written) and waits; kill the process there.
        A stored record is held with FOR UPDATE, a new one by inserting its key, uncommitted."""
        data_type, external_id = self.rng.choice(sorted(pending))
        table = f'"{data_table(self.client_id)}"'
        with psycopg.connect(self.settings.database_url) as blocker:
            held = blocker.execute(f"SELECT 1 FROM {table} WHERE credential_id = %s AND data_type = %s AND "
                                   "external_id = %s FOR UPDATE", (self.credential_id, data_type, external_id)).fetchone()
            if held is None:
                blocker.execute(f"INSERT INTO {table} (credential_id, platform_type, data_type, external_id, data, "
                                "record_hash) VALUES (%s, 'held', %s, %s, '{}', 'held')",
                                (self.credential_id, data_type, external_id))
            pid = blocker.info.backend_pid
            waiting = False
            deadline = time.monotonic() + 60
            # Watched from a session of its own: a transaction sees pg_stat_activity as it was at its first read.
            with psycopg.connect(self.settings.database_url, autocommit=True) as watcher:
                while not waiting and self.proc.poll() is None and time.monotonic() < deadline:
                    waiting = bool(watcher.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)).fetchall())
                    time.sleep(0.005)
            if waiting:
                self.rows_at_kill = self.rows()  # another session's view: the page in flight is not in it
                self.kill()
            blocker.rollback()
        if self.rows_at_kill is not None:
            # The killed process's backend finds its client gone and rolls the page back.
            time.sleep(0.3)
            assert self.rows() == self.rows_at_kill, "a page whose commit was cut is visible"


def _finish_after_lease(trial: Trial) -> dict:
    time.sleep(LEASE + 0.6)
    proc = _spawn(trial.settings, trial.client_id)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.splitlines()[-1])
    assert summary["synced"] == 1 and summary["failed"] == 0, summary
    return summary


def _check_rows(settings, client_id: str, expected: dict[str, dict[str, str]], version_key: str | None) -> int:
    rows = query(settings, f'SELECT data_type, external_id, data FROM "{data_table(client_id)}"')
    keys = Counter((r[0], r[1]) for r in rows)
    assert all(n == 1 for n in keys.values()), "a record is stored twice"
    stored: dict[str, dict[str, dict]] = {}
    for data_type, external_id, data in rows:
        stored.setdefault(data_type, {})[external_id] = data if isinstance(data, dict) else json.loads(data)
    for data_type, records in expected.items():
        assert set(stored.get(data_type, {})) == set(records), f"{data_type} differs from the platform's"
        if version_key:
            stale = [i for i, v in records.items() if stored[data_type][i].get(version_key) != v]
            assert not stale, f"stale {data_type}: {stale[:3]}"
    return len(rows)


def _results(trial: Trial) -> list[tuple]:
    return query(trial.settings, "SELECT run_id, success FROM client_api_sync_results WHERE credential_id = ?",
                 (trial.credential_id,))


def _check_records_of_what_happened(trial: Trial, summary: dict, earlier_results: int, before_rerun: int,
                                    claimed: bool) -> None:
    rows = _results(trial)
    # Killed while it held the integration: no result row for that attempt. The run after it succeeded.
    if claimed:
        assert before_rerun == earlier_results, "a result row for an attempt that never finished"
    assert len(rows) == before_rerun + 1, rows
    assert [bool(s) for r, s in rows if str(r) == summary["run_id"]] == [True]
    runs = dict((str(r), s) for r, s in query(trial.settings, "SELECT run_id, status FROM api_sync_runs"))
    assert runs[summary["run_id"]] == "succeeded"
    assert "running" not in runs.values(), "the killed run still says it is running"
    if claimed:
        log = (Path(trial.settings.log_dir) / "api_sync_cron.log").read_text(encoding="utf-8")
        assert "stopped without finishing and its lease expired" in log


def _claimed(settings, credential_id: str) -> bool:
    return query(settings, "SELECT locked_by FROM client_api_credentials WHERE credential_id = ?",
                 (credential_id,))[0][0] is not None


def _report(platform: str, outcomes: Counter, records: int) -> None:
    lines = [f"{k}: {v}" for k, v in sorted(outcomes.items())]
    print(f"\ncrash trials ({platform}), seed {SEED}:\n  " + "\n  ".join(lines))
    killed = _killed(outcomes)
    record(f"crash trials ({platform})", seed=SEED, trials=sum(outcomes.values()), killed=killed,
           completed_by_the_next_run=sum(outcomes.values()), records_checked=records, lost=0, duplicated=0, stale=0,
           lines=lines)
    assert killed >= TRIALS, outcomes


def _pending(settings, client_id: str, expected: dict[str, dict[str, str]], version_key: str) -> list[tuple[str, str]]:
    """The records the sync has yet to write: not stored, or stored in an older version."""
    rows = query(settings, f'SELECT data_type, external_id, data FROM "{data_table(client_id)}"')
    stored = {(r[0], r[1]): (r[2] if isinstance(r[2], dict) else json.loads(r[2])).get(version_key) for r in rows}
    return [(dt, i) for dt, records in expected.items() for i, v in records.items() if stored.get((dt, i), "-") != v]


# -- Shopify --------------------------------------------------------------------------------------------

def _shopify_expected(emu, domain):
    shop = emu.shop(domain)
    with shop.lock:
        data = shop.data
        return {"orders": {gid("Order", k): v["updatedAt"] for k, v in data.orders.items()},
                "products": {gid("Product", k): v["updatedAt"] for k, v in data.products.items()},
                "customers": {gid("Customer", k): v["updatedAt"] for k, v in data.customers.items()},
                "inventory": {lv["id"]: lv["updatedAt"] for levels in data.levels.values() for lv in levels.values()}}


def _killed(outcomes: Counter) -> int:
    return sum(v for k, v in outcomes.items() if "finished before" not in k)


def _trials(rng: random.Random, outcomes: Counter):
    """The seeded trials, until TRIALS of them were killed (at most twice as many drawn)."""
    for i, (moment, scenario) in enumerate(_plan(rng)):
        if _killed(outcomes) >= TRIALS or i >= 2 * TRIALS:
            return
        yield i, moment, scenario


def _requests(plan, sync) -> int:
    before = plan.requests
    sync()
    return plan.requests - before


def _shopify_shop(emu, settings, name: str) -> tuple[str, str, str]:
    domain = f"{name}-{uuid.uuid4().hex[:6]}.myshopify.com"
    token = f"shpat_{uuid.uuid4().hex}"
    emu.add_shop(domain, token, orders=400, products=60, customers=120, locations=2)
    emu.set_bulk_timing(domain, seconds=0.3)
    client_id, credential_id = _add(settings, "shopify", {"shop_domain": domain, "access_token": token})
    return domain, client_id, credential_id


def _shopify_changes(emu, domain: str) -> None:
    emu.touch_orders(domain, 150)
    emu.add_orders(domain, 30)
    emu.touch_products(domain, 20)
    emu.set_available(domain, 30)


def _sync(settings, client_id: str) -> None:
    assert SyncEngine(settings).run(RunParams(force=True, client_id=client_id), workers=1).failed == 0


def test_shopify_sync_killed_at_seeded_moments(fresh_pg_dsn, tmp_path):
    rng = random.Random(SEED)
    outcomes: Counter = Counter()
    records = 0
    with ShopifyEmulator(restore_rate=1e9, bucket_size=1e9) as emu:
        settings = make_settings("postgres", tmp_path, fresh_pg_dsn, SHOPIFY_BASE_URL=emu.base_url,
                                 SYNC_LEASE_SECONDS=str(LEASE), SHOPIFY_PAGE_RECORDS="40", SYNC_LOOKBACK_MINUTES="10",
                                 **FAST)
        plan = faults_of(emu)
        domain, client_id, _ = _shopify_shop(emu, settings, "calibration")
        requests = {"first sync": _requests(plan, lambda: _sync(settings, client_id))}
        _shopify_changes(emu, domain)
        requests["delta sync"] = _requests(plan, lambda: _sync(settings, client_id))
        for i, moment, scenario in _trials(rng, outcomes):
            domain, client_id, credential_id = _shopify_shop(emu, settings, f"crash-{i}")
            earlier = 0
            if scenario == "delta sync":
                _sync(settings, client_id)
                earlier = 1
                _shopify_changes(emu, domain)
                if moment == "in a download":
                    # A delta does not export: forget the orders' cursor so orders are read in bulk again.
                    from .test_fault_matrix import _reset

                    _reset(settings, credential_id, "orders")
            trial = Trial(settings, client_id, credential_id, moment, rng)
            trial.arm(plan, requests[scenario], "bulk-file",
                      rng.randint(0, 2) if moment == "in a download" and scenario == "first sync" else 0)
            trial.run_and_kill(lambda: _pending(settings, client_id, _shopify_expected(emu, domain), "updatedAt"))
            summary, claimed, before_rerun = trial.rerun(plan)
            records += _check_rows(settings, client_id, _shopify_expected(emu, domain), "updatedAt")
            _check_records_of_what_happened(trial, summary, earlier, before_rerun, claimed)
            outcomes[trial.outcome(scenario)] += 1
    _report("Shopify", outcomes, records)


# -- Amazon ---------------------------------------------------------------------------------------------

def _amazon_expected(emu, refresh_token: str) -> dict[str, dict[str, str]]:
    return {"orders": {k: v.get("lastUpdatedTime") for k, v in emu.orders_v2026(refresh_token).items()}}


def _amazon_seller(emu, settings, name: str) -> tuple[str, str, str]:
    refresh_token = f"Atzr|{name}-{uuid.uuid4().hex}"
    emu.add_seller(refresh_token, orders=300, listings=150)
    client_id, credential_id = _add(settings, "amazon", emu.demo_secrets(refresh_token))
    return refresh_token, client_id, credential_id


def _amazon_changes(emu, refresh_token: str) -> None:
    emu.change_orders(refresh_token, 60)
    emu.add_orders(refresh_token, 20)


def test_amazon_sync_killed_at_seeded_moments(fresh_pg_dsn, tmp_path):
    rng = random.Random(SEED + 1)
    outcomes: Counter = Counter()
    records = 0
    with amazon_emulator(time_scale=300, report_processing_seconds=0.4) as emu:
        settings = make_settings("postgres", tmp_path, fresh_pg_dsn, AMAZON_SP_API_BASE_URL=emu.sp_api_base_url,
                                 AMAZON_LWA_TOKEN_URL=emu.lwa_token_url, SYNC_LEASE_SECONDS=str(LEASE),
                                 SYNC_LOOKBACK_MINUTES="10", AMAZON_ORDERS_PAGE_SIZE="20",
                                 AMAZON_REPORT_POLL_SECONDS="0.05", AMAZON_REPORT_POLL_MAX_SECONDS="0.2",
                                 AMAZON_RETRY_BASE_SECONDS="0.02", AMAZON_RETRY_MAX_SECONDS="0.5",
                                 AMAZON_REPORT_REUSE_MINUTES="0")
        plan = faults_of(emu)
        refresh_token, client_id, _ = _amazon_seller(emu, settings, "calibration")
        requests = {"first sync": _requests(plan, lambda: _sync(settings, client_id))}
        _amazon_changes(emu, refresh_token)
        requests["delta sync"] = _requests(plan, lambda: _sync(settings, client_id))
        for i, moment, scenario in _trials(rng, outcomes):
            refresh_token, client_id, credential_id = _amazon_seller(emu, settings, f"crash-{i}")
            earlier = 0
            if scenario == "delta sync":
                _sync(settings, client_id)
                earlier = 1
                _amazon_changes(emu, refresh_token)
            trial = Trial(settings, client_id, credential_id, moment, rng)
            trial.arm(plan, requests[scenario], "reportDocument")
            trial.run_and_kill(lambda: _pending(settings, client_id, _amazon_expected(emu, refresh_token),
                                                "lastUpdatedTime"))
            summary, claimed, before_rerun = trial.rerun(plan)
            counts = emu.counts(refresh_token)
            orders = emu.orders_v2026(refresh_token)
            records += _check_rows(settings, client_id, _amazon_expected(emu, refresh_token), "lastUpdatedTime")
            stored_orders = {r[0]: (r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in query(
                settings, f"SELECT external_id, data FROM \"{data_table(client_id)}\" WHERE data_type = 'orders'")}
            assert stored_orders == orders, "stored orders differ from the platform's"
            for data_type in ("products", "inventory"):
                assert query(settings, f'SELECT count(*) FROM "{data_table(client_id)}" WHERE data_type = ?',
                             (data_type,))[0][0] == counts[data_type]
            _check_records_of_what_happened(trial, summary, earlier, before_rerun, claimed)
            outcomes[trial.outcome(scenario)] += 1
    _report("Amazon", outcomes, records)

"""The Supabase REST store end to end: supabase-py -> PostgREST emulator (real HTTP) -> the functions of
sync/store/sql/postgres_functions.sql, in a fresh PostgreSQL schema set up by the Supabase migration
alone, with Supabase's API roles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import psycopg
import pytest

from emulators.postgrest import PostgrestEmulator
from sync.errors import ConfigError
from sync.models import Integration, RunParams
from sync.store import open_store
from sync.store.base import LeaseLost, SkuRow, StagedRow
from sync.store import migration
from sync.store.statements import SCHEMA_VERSION
from sync.store.supabase_rest import SupabaseStore

from . import test_concurrency as concurrency_tests
from . import test_engine as engine_tests
from .engine_fixtures import add, data_rows, integration_row, query
from .supabase_fixtures import MIGRATION, ROOT, ensure_roles, install, supabase_project  # noqa: F401 (fixture)


@pytest.fixture
def settings(supabase_project, tmp_path):
    return supabase_project.settings(tmp_path)


@pytest.fixture
def store(settings):
    s = open_store(settings)
    assert isinstance(s, SupabaseStore)
    s.ensure_schema()
    yield s
    s.close()


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- the engine's scenarios, through the REST store ---------------------------------------------------

def test_engine_first_sync_nothing_due_forced_unchanged_then_changes(settings):
    engine_tests.test_first_sync_then_nothing_due_then_forced_unchanged_then_changes(settings)


def test_engine_success_sets_schedule(settings):
    engine_tests.test_success_sets_schedule_anchored_at_first_start(settings)


def test_engine_failure_backs_off_and_others_still_sync(settings):
    engine_tests.test_failure_backs_off_and_others_still_sync(settings)


def test_engine_skipped_data_type(settings):
    engine_tests.test_skipped_data_type_does_not_fail_integration(settings)


def test_engine_filters(settings):
    engine_tests.test_filters_select_client_and_platform(settings)


def test_engine_force_never_takes_a_leased_integration(settings):
    engine_tests.test_force_never_takes_a_leased_integration(settings)


def test_engine_undecryptable_credential(settings, tmp_path):
    engine_tests.test_undecryptable_credential_fails_that_integration_only(settings, tmp_path)


def test_engine_lost_lease_leaves_the_new_holders_schedule_alone(settings):
    engine_tests.test_worker_that_lost_its_lease_leaves_the_new_holders_schedule_alone(settings)


def test_one_write_call_per_page(settings, supabase_project):
    shop = engine_tests.FakeShop.generate(orders=120, products=30)  # pages of 50: 3 + 1
    add(settings, domain="p.myshopify.com")
    supabase_project.emulator.requests.clear()
    summary = engine_tests.engine(settings, {"p.myshopify.com": shop}).run(RunParams())
    assert summary.synced == 1
    requests = supabase_project.emulator.requests
    assert requests["POST rpc/api_sync_write_page"] == 4
    assert requests["POST rpc/api_sync_stored_object"] == 4
    assert requests["POST rpc/api_sync_finish_attempt"] == 1


# -- several processes share the work through the REST store ------------------------------------------

def test_three_processes_claim_each_integration_once(settings):
    creds = [add(settings, orders=12, products=4, page_size=6, page_delay=0.01)[1] for _ in range(20)]
    env = {**os.environ, **settings.env}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.run_fake_sync", "--workers", "3"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    synced = Counter(r["credential_id"] for out, _ in outputs for r in json.loads(out.splitlines()[-1])["results"])
    assert set(synced) == set(creds)
    assert all(count == 1 for count in synced.values()), synced
    rows = query(settings, "SELECT credential_id, count(*) FROM client_api_sync_results GROUP BY credential_id")
    assert len(rows) == 20 and all(n == 1 for _, n in rows)
    for cred in creds:
        row = integration_row(settings, cred)
        assert row["status"] == "connected" and row["locked_by"] is None


@pytest.mark.long  # ~10 s of lease waits: run by .ci/run's long suites
def test_worker_killed_mid_sync_is_completed_later_without_duplicates(supabase_project, tmp_path):
    # As test_concurrency's, with a lease long enough for a REST process's slower start on a busy machine,
    # and a wait for the lease's actual end instead of a fixed sleep.
    settings = supabase_project.settings(tmp_path, SYNC_LEASE_SECONDS="6")
    client, cred = add(settings, orders=300, products=10, page_size=20, page_delay=0.15)
    proc = concurrency_tests._spawn(settings, "--workers", "1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            if len(data_rows(settings, client)) >= 60:
                break
        except psycopg.errors.UndefinedTable:
            pass  # the sync has not created the client's table yet
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = data_rows(settings, client)
    assert 60 <= len(partial) < 310
    assert len({(r[1], r[2]) for r in partial}) == len(partial)
    lease_end = integration_row(settings, cred)["locked_until"]
    assert lease_end is not None  # still leased by the dead worker

    quick = concurrency_tests._spawn(settings, "--force")
    out, err = quick.communicate(timeout=60)
    if datetime.now(timezone.utc) < lease_end:  # (a very slow start may outlive the lease)
        assert json.loads(out.splitlines()[-1])["due"] == 0, err

    time.sleep(max(0.0, (lease_end - datetime.now(timezone.utc)).total_seconds()) + 0.3)
    after = concurrency_tests._spawn(settings)
    out, err = after.communicate(timeout=120)
    assert after.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    if summary["due"]:  # not already completed by the forced run above
        assert summary["synced"] == 1
        orders = summary["results"][0]["data_types_synced"]["orders"]
        # The cursor was committed with each page: only the missing orders are new.
        assert orders["new"] == 300 - len([r for r in partial if r[1] == "orders"])
        assert orders["updated"] == 0
    final = data_rows(settings, client)
    assert len(final) == 310 and len({(r[1], r[2]) for r in final}) == 310
    assert [r["success"] for r in concurrency_tests.results(settings, cred)] == [True]


@pytest.mark.long  # ~10 s of lease waits: run by .ci/run's long suites
def test_running_sync_renews_its_lease_over_rest(supabase_project, tmp_path):
    # As test_concurrency's, with a sync long enough for the slower start of a REST process (supabase-py).
    settings = supabase_project.settings(tmp_path, SYNC_LEASE_SECONDS="1")
    client, cred = add(settings, orders=800, products=0, page_size=10, page_delay=0.1)  # ~8 s, lease 1 s
    first = concurrency_tests._spawn(settings, "--workers", "1")
    time.sleep(1.5)
    seen_due = []
    while first.poll() is None and len(seen_due) < 3:
        out, err = concurrency_tests._spawn(settings, "--force").communicate(timeout=60)
        if first.poll() is None:  # only what was seen while the first sync still ran counts
            seen_due.append(json.loads(out.splitlines()[-1])["due"])
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["synced"] == 1
    assert len(seen_due) >= 2 and set(seen_due) == {0}, seen_due
    assert len(data_rows(settings, client)) == 800
    assert len(concurrency_tests.results(settings, cred)) == 1


# -- the page transaction --------------------------------------------------------------------------------

def _claimed(store: SupabaseStore, worker: str = "w1", lease: timedelta = timedelta(minutes=5)) -> Integration:
    client_id, cred = str(uuid.uuid4()), str(uuid.uuid4())
    store.insert_integration(Integration(cred, client_id, "shopify", "shop", "token", created_at=_now()))
    integration = store.claim_next(_now(), RunParams(client_id=client_id), worker, _now() + lease, [])
    assert integration is not None and integration.credential_id == cred
    store.ensure_data_table(client_id)
    return integration


def _rows(n: int, version: str = "a") -> list[StagedRow]:
    return [StagedRow(str(i), json.dumps({"id": i, "v": version}), f"h{i}{version}", _now()) for i in range(n)]


def test_page_is_written_with_its_cursor_in_one_call(store, settings, supabase_project):
    it = _claimed(store)
    supabase_project.emulator.requests.clear()
    with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
        assert tx.stored_hashes(["0", "1"]) == {}
        tx.write(_rows(3), [], _now())
        tx.save_state({"updated_at": "2026-01-01T00:00:00+00:00"}, _now() + timedelta(minutes=9))
    assert tx.written == {"new": 3, "updated": 0, "unchanged": 0}
    assert supabase_project.emulator.requests["POST rpc/api_sync_write_page"] == 1
    assert len(data_rows(settings, it.client_id)) == 3
    row = store.get_integration(it.credential_id)
    assert row.sync_state == {"orders": {"updated_at": "2026-01-01T00:00:00+00:00"}}
    assert row.locked_until > _now() + timedelta(minutes=8)

    # Same hashes: nothing rewritten; one changed: one update.
    with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
        assert tx.stored_hashes(["0", "1", "2", "9"]) == {"0": "h0a", "1": "h1a", "2": "h2a"}
        tx.write([], _rows(2) + [StagedRow("2", '{"id": 2, "v": "b"}', "h2b", None)], _now())
        tx.save_state(None, _now() + timedelta(minutes=9))
    assert tx.written == {"new": 0, "updated": 1, "unchanged": 2}
    assert store.get_integration(it.credential_id).sync_state["orders"]  # None kept the cursor
    versions = store.stored_versions(it.client_id, it.credential_id, "orders", ["0", "2", "7"])
    assert set(versions) == {"0", "2"} and versions["2"] is None and isinstance(versions["0"], datetime)


def test_lost_lease_writes_nothing(store, settings):
    it = _claimed(store, lease=timedelta(seconds=-1))  # expired at once
    thief = store.claim_next(_now(), RunParams(client_id=it.client_id), "w2", _now() + timedelta(minutes=5), [])
    assert thief is not None and thief.previous_holder == "w1"
    with pytest.raises(LeaseLost):
        with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
            tx.write(_rows(5), [], _now())
            tx.save_state({"updated_at": "x"}, _now() + timedelta(minutes=5))
    assert data_rows(settings, it.client_id) == []
    assert store.get_integration(it.credential_id).sync_state == {}
    assert store.renew_lease(it.credential_id, "w1", _now()) is False
    assert store.renew_lease(it.credential_id, "w2", _now() + timedelta(minutes=5)) is True


def test_error_in_the_block_sends_nothing(store, settings):
    it = _claimed(store)
    with pytest.raises(RuntimeError):
        with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
            tx.write(_rows(5), [], _now())
            raise RuntimeError("fetch failed")
    assert data_rows(settings, it.client_id) == []


def test_large_page_goes_in_parts_and_only_the_last_moves_the_cursor(supabase_project, tmp_path):
    settings = supabase_project.settings(tmp_path, SUPABASE_MAX_REQUEST_BYTES="2000")
    store = open_store(settings)
    try:
        it = _claimed(store)
        supabase_project.emulator.requests.clear()
        with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
            tx.write(_rows(30), [], _now())
            tx.save_state({"updated_at": "last"}, _now() + timedelta(minutes=5))
        assert supabase_project.emulator.requests["POST rpc/api_sync_write_page"] > 1
        assert tx.written["new"] == 30
        assert len(data_rows(settings, it.client_id)) == 30
        assert store.get_integration(it.credential_id).sync_state == {"orders": {"updated_at": "last"}}
    finally:
        store.close()


def test_transient_503_is_retried(store, settings, supabase_project):
    it = _claimed(store)
    supabase_project.emulator.fail_next["POST rpc/api_sync_write_page"] = 2
    with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
        tx.write(_rows(2), [], _now())
        tx.save_state(None, _now() + timedelta(minutes=5))
    assert supabase_project.emulator.requests["POST rpc/api_sync_write_page"] == 3
    assert len(data_rows(settings, it.client_id)) == 2


def test_claim_is_not_retried_once_sent(store, supabase_project):
    _claimed(store)  # one claimed already; add one due
    client_id = str(uuid.uuid4())
    store.insert_integration(Integration(str(uuid.uuid4()), client_id, "shopify", "s", "t", created_at=_now()))
    supabase_project.emulator.fail_next["POST rpc/api_sync_claim_next"] = 1
    with pytest.raises(Exception, match="503|PGRST000"):
        store.claim_next(_now(), RunParams(client_id=client_id), "w9", _now() + timedelta(minutes=5), [])
    assert supabase_project.emulator.requests["POST rpc/api_sync_claim_next"] == 2  # _claimed's + this one


# -- schema, install, init-db --------------------------------------------------------------------------

def test_older_functions_are_refused_with_the_migration_to_apply(store, supabase_project):
    with psycopg.connect(supabase_project.dsn, autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION api_sync_functions_version() RETURNS jsonb LANGUAGE sql "
                     "AS $$ SELECT '{\"functions\": 1, \"schema_embedded\": 1, \"schema\": 1}'::jsonb $$")
    fresh = SupabaseStore(supabase_project.url, supabase_project.service_key)
    try:
        with pytest.raises(ConfigError, match="older than this code.*supabase/migrations/"):
            fresh.ensure_schema()
    finally:
        fresh.close()


def test_tables_created_through_the_functions_have_row_level_security(store, supabase_project):
    it = _claimed(store)
    store.replace_sku_cache(it.client_id, [])
    with psycopg.connect(supabase_project.dsn) as conn:
        flags = conn.execute("SELECT relname, relrowsecurity FROM pg_class WHERE relname LIKE %s ORDER BY 1",
                             (f"client_{it.client_id.replace('-', '_')}%",)).fetchall()
        assert [f[1] for f in flags if not f[0].endswith(("_seq", "_pkey", "_key", "_idx"))] == [True, True]
        assert conn.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'client_api_credentials' "
                            "AND relnamespace = current_schema()::regnamespace").fetchone()[0] is True


def test_migration_runs_twice_and_keeps_search_path(fresh_pg_dsn):
    install(fresh_pg_dsn)
    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
        before = conn.execute("SHOW search_path").fetchone()[0]
        conn.execute(MIGRATION.read_text())
        assert conn.execute("SHOW search_path").fetchone()[0] == before
        pinned = conn.execute("SELECT proconfig FROM pg_proc WHERE proname = 'api_sync_write_page' "
                              "AND pronamespace = current_schema()::regnamespace").fetchone()[0]
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        assert pinned == [f"search_path={schema}, pg_temp"]


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY",
                                                            "SUPABASE_SERVICE_ROLE_KEY")}
    env.update(settings.env)
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_init_db_without_functions_says_which_migration_to_apply(fresh_pg_dsn, tmp_path):
    from .supabase_fixtures import SupabaseProject

    ensure_roles()
    install(fresh_pg_dsn, functions=False)
    with PostgrestEmulator(fresh_pg_dsn, keys={"svc": "service_role"}) as emu:
        settings = SupabaseProject(fresh_pg_dsn, emu, "svc", "none").settings(tmp_path)
        done = _cli(settings, "init-db")
        assert done.returncode == 2, done.stderr
        assert migration.MIGRATION in done.stderr
        assert "SQL editor" in done.stderr
        assert "svc" not in done.stderr + done.stdout
        # The engine's first step says the same instead of failing obscurely.
        with pytest.raises(ConfigError, match="supabase/migrations/"):
            store = open_store(settings)
            try:
                store.ensure_schema()
            finally:
                store.close()


def test_init_db_with_functions_runs_them(settings):
    done = _cli(settings, "init-db")
    assert done.returncode == 0, done.stderr
    assert "supabase" in done.stdout
    assert query(settings, "SELECT max(version) FROM api_sync_schema_version") == [(SCHEMA_VERSION,)]
    listed = _cli(settings, "status", "--json")
    assert listed.returncode == 0, listed.stderr


def test_wrong_key_is_a_config_error_without_the_key(supabase_project, tmp_path):
    settings = supabase_project.settings(tmp_path, SUPABASE_SERVICE_ROLE_KEY="not-the-key-123")
    store = open_store(settings)
    try:
        with pytest.raises(ConfigError) as err:
            store.ensure_schema()
    finally:
        store.close()
    assert "rejected" in str(err.value) and "not-the-key-123" not in str(err.value)


def test_anon_key_reaches_neither_functions_nor_secrets(store, supabase_project):
    _claimed(store)
    headers = {"apikey": supabase_project.anon_key, "Authorization": f"Bearer {supabase_project.anon_key}"}
    answer = httpx.post(f"{supabase_project.url}/rest/v1/rpc/api_sync_list_due", headers=headers,
                        json={"p_now": _now().isoformat(), "p_force": True})
    assert answer.status_code == 403 and answer.json()["code"] == "42501"
    answer = httpx.get(f"{supabase_project.url}/rest/v1/client_api_credentials?select=credentials", headers=headers)
    assert answer.status_code == 403 and answer.json()["code"] == "42501"
    service = {"apikey": supabase_project.service_key, "Authorization": f"Bearer {supabase_project.service_key}"}
    answer = httpx.get(f"{supabase_project.url}/rest/v1/client_api_credentials?select=credentials", headers=service)
    assert answer.status_code == 200 and answer.json() == [{"credentials": "token"}]


def test_sku_cache_and_data_batches(store, settings):
    it = _claimed(store)
    with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
        tx.write(_rows(7), [], _now())
        tx.save_state(None, _now() + timedelta(minutes=5))
    assert it.client_id in store.list_client_ids()
    read = list(store.iter_data(it.client_id, ["orders"], batch_size=3))
    assert sorted(r.external_id for r in read) == [str(i) for i in range(7)]
    assert read[0].data["v"] == "a" and read[0].credential_id == it.credential_id
    assert list(store.iter_data(it.client_id, ["products"])) == []
    row = SkuRow(sku="SKU-1", title="Mug", platforms=["shopify"], units_sold_7d=1, units_sold_30d=4,
                 units_sold_90d=9, orders_30d=3, revenue_30d=Decimal("123.45"), currency_code="USD",
                 inventory_available=10, avg_daily_units_30d=Decimal("0.1333"), days_of_cover=Decimal("75.0"),
                 last_sold_at=_now(), computed_at=_now())
    store.replace_sku_cache(it.client_id, [row])
    store.replace_sku_cache(it.client_id, [row])
    table = f"client_{it.client_id.replace('-', '_')}_sku_cache"
    assert query(settings, f'SELECT sku, revenue_30d, platforms FROM "{table}"') == [
        ("SKU-1", Decimal("123.45"), ["shopify"])]


def test_runs_and_results_read_back(settings):
    _, cred = add(settings)
    summary = engine_tests.engine(settings, {}).run(RunParams(triggered_by="manual"))
    store = open_store(settings)
    try:
        run = store.get_run(summary.run_id)
        assert run["status"] == "succeeded" and run["triggered_by"] == "manual"
        assert isinstance(run["started_at"], datetime) and run["summary"]["synced"] == 1
        results = store.list_results(run_id=summary.run_id)
        assert [r["credential_id"] for r in results] == [cred]
        assert results[0]["success"] is True and isinstance(results[0]["finished_at"], datetime)
        assert store.get_run(str(uuid.uuid4())) is None
        assert store.delete_integration(cred) is True and store.get_integration(cred) is None
    finally:
        store.close()


def test_init_db_through_database_url_installs_the_functions(fresh_pg_dsn, tmp_path):
    from .engine_fixtures import make_settings
    from .supabase_fixtures import SupabaseProject

    ensure_roles()
    done = _cli(make_settings("postgres", tmp_path, fresh_pg_dsn), "init-db")
    assert done.returncode == 0, done.stderr
    with PostgrestEmulator(fresh_pg_dsn, keys={"svc": "service_role"}) as emu:
        settings = SupabaseProject(fresh_pg_dsn, emu, "svc", "none").settings(tmp_path)
        _, cred = add(settings)
        summary = engine_tests.engine(settings, {}).run(RunParams())
        assert summary.synced == 1 and summary.results[0].credential_id == cred


def test_unreachable_url_is_a_config_error(tmp_path):
    from .engine_fixtures import make_settings

    settings = make_settings("supabase", tmp_path, None, SUPABASE_URL="http://127.0.0.1:9",
                             SUPABASE_SERVICE_ROLE_KEY="k-123", SUPABASE_RETRY_ATTEMPTS="2",
                             SUPABASE_RETRY_BASE_SECONDS="0.01")
    done = _cli(settings, "status")
    assert done.returncode == 2, done.stderr
    assert "cannot reach the Supabase REST API at 127.0.0.1:9" in done.stderr and "k-123" not in done.stderr


def test_reads_page_past_supabase_max_rows(fresh_pg_dsn, tmp_path):
    from .supabase_fixtures import SupabaseProject

    ensure_roles()
    install(fresh_pg_dsn)
    with PostgrestEmulator(fresh_pg_dsn, keys={"svc": "service_role"}, max_rows=5) as emu:
        settings = SupabaseProject(fresh_pg_dsn, emu, "svc", "none").settings(tmp_path)
        store = open_store(settings)
        try:
            store.ensure_schema()
            clients = [str(uuid.uuid4()) for _ in range(12)]
            for client_id in clients:
                store.insert_integration(Integration(str(uuid.uuid4()), client_id, "shopify", "s", "t",
                                                     created_at=_now()))
            assert len(store.list_integrations()) == 12
            assert len(store.list_due(_now(), RunParams())) == 12
            assert store.list_client_ids() == sorted(clients)
            it = store.claim_next(_now(), RunParams(), "w1", _now() + timedelta(minutes=5), [])
            store.ensure_data_table(it.client_id)
            with store.page_transaction(it.client_id, it.credential_id, "shopify", "orders", "w1") as tx:
                tx.write(_rows(13), [], _now())
                tx.save_state(None, _now() + timedelta(minutes=5))
            assert len(list(store.iter_data(it.client_id, ["orders"], batch_size=500))) == 13
        finally:
            store.close()
        # And the emulator caps like Supabase does.
        answer = httpx.get(f"{emu.url}/rest/v1/client_api_credentials?select=credential_id",
                           headers={"apikey": "svc"})
        assert len(answer.json()) == 5


def test_anon_key_in_place_of_the_service_key_is_a_config_error(supabase_project, tmp_path):
    settings = supabase_project.settings(tmp_path, SUPABASE_SERVICE_ROLE_KEY=supabase_project.anon_key)
    store = open_store(settings)
    try:
        with pytest.raises(ConfigError, match="service_role") as err:
            store.ensure_schema()
    finally:
        store.close()
    assert supabase_project.anon_key not in str(err.value)


def test_new_style_secret_key_goes_in_apikey_alone(fresh_pg_dsn, tmp_path):
    from .supabase_fixtures import SupabaseProject

    ensure_roles()
    install(fresh_pg_dsn)
    key = "sb_secret_" + uuid.uuid4().hex  # not a JWT: PostgREST would refuse it as a Bearer token
    with PostgrestEmulator(fresh_pg_dsn, keys={key: "service_role"}) as emu:
        settings = SupabaseProject(fresh_pg_dsn, emu, key, "none").settings(tmp_path)
        _, cred = add(settings)
        summary = engine_tests.engine(settings, {}).run(RunParams())
        assert summary.synced == 1 and summary.results[0].credential_id == cred


def test_engine_abandoned_runs_are_closed_but_live_ones_are_not(settings):
    engine_tests.test_abandoned_runs_are_closed_but_live_ones_are_not(settings)

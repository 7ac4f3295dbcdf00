"""The Supabase CLI migration: generated from the files `init-db` runs (a test fails when they drift),
applied twice with psql on a database with Supabase's roles, it keeps every row and keeps the secrets
table from the anon role."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import psycopg

from sync.models import Integration, RunParams, ScheduleUpdate, SyncResult, WorkerId
from sync.store import migration
from sync.store.postgres import PostgresStore
from sync.store.statements import SCHEMA_VERSION, install_script

from .supabase_fixtures import MIGRATION, ROOT, ensure_roles

WORKER = WorkerId("test", 1, str(uuid.uuid4()), 0)


def test_the_committed_migration_is_the_generated_one():
    assert MIGRATION.read_text() == migration.render(), (
        f"{migration.MIGRATION} differs from sync/store/sql/: run `python -m sync.store.migration`")
    done = subprocess.run([sys.executable, "-m", "sync.store.migration", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_migration_holds_exactly_what_init_db_runs():
    # One source: the migration is the install script (tables, then functions) behind a header.
    assert MIGRATION.read_text().endswith(install_script().rstrip() + "\n")
    assert f"'functions', {SCHEMA_VERSION}," in install_script()
    assert "{{" not in install_script()
    # The tables appear once as statements and once inside api_sync_init_db(), both from the one file.
    assert install_script().count("CREATE TABLE IF NOT EXISTS client_api_sync_results") == 2


def _psql(dsn: str, *args: str, role: str | None = None) -> subprocess.CompletedProcess:
    """psql against the test schema of `dsn` (its search_path passed as PGOPTIONS, as the DSN carries it),
    as `role` when given (SET ROLE, as PostgREST does for a request)."""
    parts = urlsplit(dsn)
    env = {**os.environ, "PGOPTIONS": parse_qs(parts.query).get("options", [""])[0]}
    base = parts._replace(query="").geturl()
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, *(("-c", f"SET ROLE {role}") if role else ()), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_migration_applies_twice_with_psql_and_keeps_every_row(fresh_pg_dsn):
    ensure_roles()
    # As in a Supabase project's public schema: the API roles may use it, and every new table and
    # function is granted to them by default. The migration must take the secrets back.
    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
        conn.execute("""DO $$ BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO anon, authenticated, service_role', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT ALL ON TABLES TO anon, authenticated, '
                           'service_role', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT ALL ON FUNCTIONS TO anon, authenticated, '
                           'service_role', current_schema());
        END $$""")
    first = _psql(fresh_pg_dsn, "-f", str(MIGRATION))
    assert first.returncode == 0, first.stderr

    # Rows in every table the migration touches, written through the store it set up.
    client, cred = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    store = PostgresStore(fresh_pg_dsn)
    try:
        store.ensure_schema()  # current: nothing to do
        store.insert_integration(Integration(cred, client, "shopify", "shop", "gAAAA-token", created_at=now))
        store.claim_next(now, RunParams(), WORKER, now + timedelta(minutes=5), [])
        store.ensure_data_table(client)
        from .test_postgres_page import _row

        with store.page_transaction(client, cred, "shopify", "orders", WORKER) as tx:
            tx.write([_row("1", {"a": 1}), _row("2", {"a": 2})], [], now)
            tx.save_state({"updated_at": "x"}, now + timedelta(minutes=5))
        run_id = str(uuid.uuid4())
        store.start_run(run_id, RunParams(), now)
        store.finish_attempt(SyncResult(run_id=run_id, credential_id=cred, client_id=client, platform_type="shopify",
                                        triggered_by="cron", started_at=now, finished_at=now, success=True),
                             ScheduleUpdate("connected", None, 0, now, now + timedelta(hours=24)), WORKER)
    finally:
        store.close()

    second = _psql(fresh_pg_dsn, "-f", str(MIGRATION))
    assert second.returncode == 0, second.stderr

    store = PostgresStore(fresh_pg_dsn)
    try:
        integration = store.get_integration(cred)
        assert integration.status == "connected" and integration.sync_state == {"orders": {"updated_at": "x"}}
        assert [r.external_id for r in store.iter_data(client, ["orders"])] == ["1", "2"]
        assert [r["credential_id"] for r in store.list_results(run_id=run_id)] == [cred]
        assert store.get_run(run_id)["status"] == "running"
    finally:
        store.close()
    with psycopg.connect(fresh_pg_dsn) as conn:
        assert conn.execute("SELECT max(version) FROM api_sync_schema_version").fetchone()[0] == SCHEMA_VERSION

    # The anon role (a dashboard's public key) reads no secret; service_role reads them.
    denied = _psql(fresh_pg_dsn, "-c", "SELECT credentials FROM client_api_credentials", role="anon")
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    denied = _psql(fresh_pg_dsn, "-c", f"SELECT api_sync_list_due('{now.isoformat()}', true)", role="anon")
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    allowed = _psql(fresh_pg_dsn, "-At", "-c", "SELECT credentials FROM client_api_credentials", role="service_role")
    assert allowed.returncode == 0 and allowed.stdout.strip() == "gAAAA-token", allowed.stderr

"""`python -m sync reset-cursor`: data types forget their cursors (never under a live lease), on every store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sync.models import RunParams, ScheduleUpdate, SyncResult
from sync.store import open_store

from .engine_fixtures import add, make_settings
from .supabase_fixtures import supabase_project  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
STATE = {"orders": {"cursor": "2026-01-01T00:00:00Z"}, "products": {"cursor": "x"}, "customers": {"cursor": "y"}}


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def settings(request, tmp_path):
    if request.param == "supabase":  # the REST store, through the PostgREST emulator
        return request.getfixturevalue("supabase_project").settings(tmp_path)
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def _with_state(settings, state=STATE):
    """A Shopify integration whose last sync left `state` and a next sync a day away."""
    client_id, credential_id = add(settings)
    store = open_store(settings)
    try:
        now = datetime.now(timezone.utc)
        claimed = store.claim_next(now, RunParams(force=True), "w1", now + timedelta(minutes=5), [])
        assert claimed.credential_id == credential_id
        for data_type, value in state.items():
            with store.page_transaction(client_id, credential_id, "shopify", data_type, "w1") as tx:
                tx.save_state(value, now + timedelta(minutes=5))
        result = SyncResult(run_id=str(uuid.uuid4()), credential_id=credential_id, client_id=client_id,
                            platform_type="shopify", triggered_by="manual", started_at=now, finished_at=now,
                            success=True)
        store.finish_attempt(result, ScheduleUpdate("connected", None, 0, now, now + timedelta(days=1)), "w1")
    finally:
        store.close()
    return client_id, credential_id


def _row(settings, credential_id):
    store = open_store(settings)
    try:
        return store.get_integration(credential_id)
    finally:
        store.close()


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update(settings.env)
    return subprocess.run([sys.executable, "-m", "sync", "reset-cursor", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_store_forgets_only_the_named_cursors_and_never_under_a_lease(settings):
    _, credential_id = _with_state(settings)
    store = open_store(settings)
    try:
        now = datetime.now(timezone.utc)
        before = store.get_integration(credential_id).next_sync_at
        assert store.reset_cursors(credential_id, ["orders", "customers"], False, now)
        row = store.get_integration(credential_id)
        assert row.sync_state == {"products": {"cursor": "x"}} and row.next_sync_at == before
        assert store.reset_cursors(credential_id, ["inventory"], True, now)  # nothing to forget: still fine
        assert store.get_integration(credential_id).next_sync_at is None

        claimed = store.claim_next(now, RunParams(force=True), "w2", now + timedelta(minutes=5), [])
        assert claimed.credential_id == credential_id
        assert not store.reset_cursors(credential_id, ["products"], True, now)  # a sync holds the lease
        assert store.get_integration(credential_id).sync_state == {"products": {"cursor": "x"}}
    finally:
        store.close()


def test_the_command_resets_and_says_what_it_did(settings):
    client_id, credential_id = _with_state(settings)
    out = cli(settings, "--client-id", client_id, "--data-type", "orders", "--data-type", "products")
    assert out.returncode == 0, out.stderr
    assert f"Reset orders, products of {credential_id} (shopify" in out.stdout
    assert "at its next scheduled sync" in out.stdout
    row = _row(settings, credential_id)
    assert row.sync_state == {"customers": {"cursor": "y"}} and row.next_sync_at is not None

    out = cli(settings, "--credential-id", credential_id, "--due-now")  # every data type of the platform
    assert out.returncode == 0 and "Reset orders, products, customers, inventory" in out.stdout
    assert _row(settings, credential_id).sync_state == {} and _row(settings, credential_id).next_sync_at is None


def test_the_command_refuses_unclear_requests_and_running_syncs(settings):
    client_id, credential_id = _with_state(settings)
    for args, fragment in ((), "name the integrations"),\
            (("--client-id", client_id, "--data-type", "listings"), "unknown data type 'listings'"),\
            (("--client-id", client_id, "--platform", "amazon"), "no integration matches"),\
            (("--credential-id", "not-a-uuid"), "is not a UUID"):
        out = cli(settings, *args)
        assert out.returncode == 2 and fragment in out.stderr, (args, out.stderr)
    assert _row(settings, credential_id).sync_state == STATE

    store = open_store(settings)
    try:
        now = datetime.now(timezone.utc)
        store.claim_next(now, RunParams(force=True), "w3", now + timedelta(minutes=5), [])
    finally:
        store.close()
    out = cli(settings, "--credential-id", credential_id)
    assert out.returncode == 1 and "a sync is running on it" in out.stdout
    assert _row(settings, credential_id).sync_state == STATE


def test_a_state_that_is_not_an_object_becomes_empty(tmp_path):
    settings = make_settings("sqlite", tmp_path)
    _, credential_id = _with_state(settings, {})
    import sqlite3

    conn = sqlite3.connect(settings.sqlite_path)
    with conn:
        conn.execute("UPDATE client_api_credentials SET sync_state = ? WHERE credential_id = ?",
                     (json.dumps(["odd"]), credential_id))
    conn.close()
    out = cli(settings, "--credential-id", credential_id)
    assert out.returncode == 0, out.stderr
    assert _row(settings, credential_id).sync_state == {}

"""`python -m sync audit [--client-id ID] [--platform P] [--repair] [--json]` as a user runs it, against the
Shopify and Amazon emulators, on SQLite and PostgreSQL: rows lost from the table are reported missing by the
next sync and by the audit, `--repair` restores them byte-identical and exits 0, a second audit exits 0;
rows of records deleted on the platform are extra until `--repair` marks them; bad usage exits 2."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from emulators.shopify import ShopifyEmulator
from sync.engine import run_sync
from sync.ids import data_table
from sync.idcompare import compare
from sync.models import RunParams

from .amazon_fixtures import add_amazon, emulator, engine_settings
from .engine_fixtures import add_client, make_settings, query
from .shopify_fixtures import FAST, UNLIMITED

ROOT = Path(__file__).resolve().parents[1]
DOMAIN, TOKEN = "audited.myshopify.com", "shpat_audited"


@pytest.fixture(params=["sqlite", "postgres"])
def dsn(request):
    return request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None


def audit(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update(settings.env)
    return subprocess.run([sys.executable, "-m", "sync", "audit", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def execute(settings, statement: str, params: tuple = ()) -> None:
    if settings.store_kind == "sqlite":
        conn = sqlite3.connect(settings.sqlite_path)
        with conn:
            conn.execute(statement, params)
        conn.close()
    else:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), params)


def rows_of(settings, client_id: str, data_type: str) -> dict[str, tuple]:
    """external_id -> (record_hash, data as stored text, deleted_at is set)."""
    cast = "data" if settings.store_kind == "sqlite" else "data::text"
    found = query(settings, f'SELECT external_id, record_hash, {cast}, deleted_at FROM "{data_table(client_id)}" '
                            "WHERE data_type = ?", (data_type,))
    return {r[0]: (r[1], json.loads(r[2]), r[3] is not None) for r in found}


def sync(settings, client_id: str):
    summary = run_sync(settings, RunParams(triggered_by="manual", force=True, client_id=client_id))
    assert len(summary.results) == 1 and summary.results[0].success, summary.results[0].error_message
    return summary.results[0]


def shop_settings(emu, tmp_path, dsn):
    return make_settings("postgres" if dsn else "sqlite", tmp_path, dsn, SHOPIFY_BASE_URL=emu.base_url, **FAST)


def add_shop(settings) -> tuple[str, str]:
    return add_client(settings, "shopify", {"shop_domain": DOMAIN, "access_token": TOKEN}, name=DOMAIN)


def test_rows_lost_from_the_table_are_missing_and_repair_restores_them_byte_identical(dsn, tmp_path):
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=60, products=15, customers=12, locations=2, seed=21)
        settings = shop_settings(emu, tmp_path, dsn)
        client_id, _ = add_shop(settings)
        sync(settings, client_id)
        before = rows_of(settings, client_id, "orders")
        # A simulated loss: 25 orders deleted straight from the data table.
        lost = sorted(before)[:25]
        table = data_table(client_id)
        for external_id in lost:
            execute(settings, f'DELETE FROM "{table}" WHERE data_type = ? AND external_id = ?', ("orders", external_id))

        after = sync(settings, client_id)
        assert after.streams["orders"].audit.as_json() == {"platform": 60, "stored": 35, "missing": 25, "deleted": 0}

        report = audit(settings, "--client-id", client_id, "--json")
        assert report.returncode == 1, report.stderr
        orders = json.loads(report.stdout)["integrations"][0]["data_types"]["orders"]
        assert (orders["platform"], orders["stored"], orders["missing"], orders["extra"]) == (60, 35, 25, 0)
        assert sorted(orders["missing_ids"]) == lost

        repaired = audit(settings, "--client-id", client_id, "--repair", "--json")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        orders = json.loads(repaired.stdout)["integrations"][0]["data_types"]["orders"]
        assert (orders["repaired"], orders["marked_deleted"], orders["unresolved_ids"]) == (25, 0, [])
        # Byte-identical: the same hash and the same data as the rows the sync had stored.
        assert rows_of(settings, client_id, "orders") == before

        again = audit(settings, "--client-id", client_id)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "differs" not in again.stdout
        assert sync(settings, client_id).streams["orders"].audit.as_json()["missing"] == 0


def test_a_deletion_nobody_reported_is_extra_until_repair_marks_it(dsn, tmp_path):
    with ShopifyEmulator(**UNLIMITED) as emu:
        shop = emu.add_shop(DOMAIN, TOKEN, orders=20, products=10, customers=8, locations=2, seed=4)
        settings = shop_settings(emu, tmp_path, dsn)
        client_id, _ = add_shop(settings)
        sync(settings, client_id)
        gone = emu.delete_customers(DOMAIN, 2)
        shop.data.events.clear()  # no event for them (past the feed's year, say)
        report = audit(settings, "--platform", "shopify", "--json")
        assert report.returncode == 1
        customers = json.loads(report.stdout)["integrations"][0]["data_types"]["customers"]
        assert sorted(customers["extra_ids"]) == sorted(gone) and customers["missing"] == 0

        repaired = audit(settings, "--platform", "shopify", "--repair", "--json")
        assert repaired.returncode == 0, repaired.stdout
        customers = json.loads(repaired.stdout)["integrations"][0]["data_types"]["customers"]
        assert customers["marked_deleted"] == 2
        stored = rows_of(settings, client_id, "customers")
        assert {i for i, row in stored.items() if row[2]} == set(gone)  # marked, not removed
        assert audit(settings, "--platform", "shopify").returncode == 0


def test_amazon_orders_lost_from_the_table_come_back_through_get_order(dsn, tmp_path):
    with emulator() as emu:
        emu.add_seller("rt-audit", orders=40, listings=12, order_days=20)
        settings = engine_settings(emu, tmp_path, dsn, AMAZON_REPORT_REUSE_MINUTES="0")
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-audit"))
        summary = run_sync(settings, RunParams(force=True, platform="amazon"))
        assert summary.results[0].success, summary.results[0].error_message
        before = rows_of(settings, client_id, "orders")
        lost = sorted(before)[:6]
        table = data_table(client_id)
        for external_id in lost:
            execute(settings, f'DELETE FROM "{table}" WHERE data_type = ? AND external_id = ?', ("orders", external_id))
        removed = emu.remove_listings("rt-audit", count=2)

        report = audit(settings, "--platform", "amazon", "--json")
        assert report.returncode == 1
        types = json.loads(report.stdout)["integrations"][0]["data_types"]
        assert sorted(types["orders"]["missing_ids"]) == lost
        assert sorted(types["products"]["extra_ids"]) == sorted(removed)

        repaired = audit(settings, "--platform", "amazon", "--repair", "--json")
        assert repaired.returncode == 0, repaired.stdout
        types = json.loads(repaired.stdout)["integrations"][0]["data_types"]
        assert types["orders"]["repaired"] == 6 and types["products"]["marked_deleted"] == 2
        assert rows_of(settings, client_id, "orders") == before
        assert audit(settings, "--platform", "amazon").returncode == 0


@pytest.mark.parametrize("args", [["--client-id", "not-a-uuid"], ["--platform", "ebay"], ["--bogus"]])
def test_bad_usage_exits_2(tmp_path, args):
    out = audit(make_settings("sqlite", tmp_path), *args)
    assert out.returncode == 2, out.stdout + out.stderr


def test_nothing_to_audit_exits_0(tmp_path):
    out = audit(make_settings("sqlite", tmp_path))
    assert out.returncode == 0 and "No active integration matched" in out.stdout


def test_the_id_comparison_finds_missing_extra_and_stale_ids(tmp_path):
    from datetime import datetime, timezone

    t = lambda h: datetime(2026, 1, 1, h, tzinfo=timezone.utc)  # noqa: E731
    platform = [("a", t(1)), ("b", t(5)), ("c", t(1)), ("d", None), ("b", t(2))]
    stored = [("b", t(3)), ("c", t(1)), ("e", t(1))]
    found = compare(iter(platform), iter(stored), directory=str(tmp_path))
    assert (found.platform, found.stored) == (4, 3)
    assert found.missing == ["a", "d"] and found.extra == ["e"] and found.stale == ["b"]
    assert list(tmp_path.iterdir()) == []  # the spool is gone

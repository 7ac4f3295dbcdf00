"""Completeness in the engine, with the test platform (tests/fakeplatform.py): deletions the platform
reports are marked, a full snapshot's absent rows are marked and reappearing ones revived, an incomplete
snapshot marks nothing, and every data type's audit puts the platform's count next to the stored live rows
(SPEC section 3). On the in-memory store and the real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import logging
import sqlite3

import psycopg
import pytest

from sync.ids import data_table
from sync.models import RunParams
from sync.platforms import PlatformRegistry

from . import engine_fixtures
from .engine_fixtures import SUPABASE_BACKING_DSN, add, data_rows, make_settings, open_store, query, results
from .fakeplatform import FakePlatform, FakeShop


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def settings(request, tmp_path):
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def engine(settings, shops, **kwargs):
    platform = FakePlatform(shops, side_streams=kwargs.pop("side_streams", ()))
    return engine_fixtures.engine(settings, PlatformRegistry({"shopify": platform}), **kwargs)


def lose_rows(settings, client: str, data_type: str, count: int) -> None:
    """Delete rows straight from the client's table, as an operator's DELETE would (committed)."""
    table = data_table(client)
    statement = (f'DELETE FROM "{table}" WHERE id IN (SELECT id FROM "{table}" WHERE data_type = ? '
                 "ORDER BY id LIMIT ?)")
    if settings.store_kind == "sqlite":
        conn = sqlite3.connect(settings.sqlite_path)
        with conn:
            conn.execute(statement, (data_type, count))
        conn.close()
    else:
        with psycopg.connect(settings.database_url or settings.env[SUPABASE_BACKING_DSN], autocommit=True) as conn:
            conn.execute(statement.replace("?", "%s"), (data_type, count))


def _live(settings, client, data_type):
    return sorted(r[2] for r in data_rows(settings, client) if r[1] == data_type)


def _audit(summary, data_type):
    return summary.results[0].streams[data_type].audit.as_json()


def test_deletions_reported_by_a_side_stream_are_marked_and_audited(settings):
    shop = FakeShop.generate(orders=20, products=6)
    client, cred = add(settings, domain="d.myshopify.com")
    shops = {"d.myshopify.com": shop}
    first = engine(settings, shops, side_streams=("deletions",)).run(RunParams())
    assert first.synced == 1
    assert _audit(first, "orders") == {"platform": 20, "stored": 20, "missing": 0, "deleted": 0}
    for i in ("3", "4", "5"):
        shop.remove("orders", i)
    shop.remove("products", "2")
    second = engine(settings, shops, side_streams=("deletions",)).run(RunParams(force=True))
    assert second.synced == 1
    assert _audit(second, "orders") == {"platform": 17, "stored": 17, "missing": 0, "deleted": 3}
    assert _audit(second, "products") == {"platform": 5, "stored": 5, "missing": 0, "deleted": 1}
    assert "3" not in _live(settings, client, "orders") and len(_live(settings, client, "orders")) == 17
    # The side stream keeps its own cursor; a third sync marks nothing again.
    stored = open_store(settings).get_integration(cred).sync_state
    assert stored["deletions"] == {"after": shop.deletions[-1][2]}
    third = engine(settings, shops, side_streams=("deletions",)).run(RunParams(force=True))
    assert _audit(third, "orders")["deleted"] == 0
    # Recorded in the result row, as SPEC section 3 says.
    row = results(settings, cred)[1]
    assert row["data_types_synced"]["orders"]["audit"] == {"platform": 17, "stored": 17, "missing": 0, "deleted": 3}
    # Never removed: the four rows are still in the table, marked.
    if "API_SYNC_TEST_MEMORY_STORE" not in settings.env:
        marked = query(settings, f'SELECT data_type, external_id FROM "{data_table(client)}" '
                                 "WHERE deleted_at IS NOT NULL ORDER BY data_type, external_id")
        assert [tuple(r) for r in marked] == [("orders", "3"), ("orders", "4"), ("orders", "5"), ("products", "2")]


def test_a_full_snapshot_marks_what_it_no_longer_holds_and_revives_what_comes_back(settings):
    shop = FakeShop.generate(orders=5, products=12, snapshots=("products",))
    client, _ = add(settings, domain="s.myshopify.com")
    shops = {"s.myshopify.com": shop}
    engine(settings, shops).run(RunParams())
    removed = {i: shop.records["products"][i] for i in ("1", "7", "9", "12")}
    for i in removed:
        del shop.records["products"][i]
    second = engine(settings, shops).run(RunParams(force=True))
    assert _audit(second, "products") == {"platform": 8, "stored": 8, "missing": 0, "deleted": 4}
    assert set(_live(settings, client, "products")).isdisjoint(removed)
    # One comes back, unchanged: it is live again (counted as updated), the others stay marked.
    shop.records["products"]["7"] = removed["7"]
    third = engine(settings, shops).run(RunParams(force=True))
    products = third.results[0].streams["products"]
    assert (products.new, products.updated) == (0, 1)
    assert products.audit.as_json() == {"platform": 9, "stored": 9, "missing": 0, "deleted": 0}
    assert "7" in _live(settings, client, "products")


def test_a_snapshot_that_fails_midway_marks_nothing(settings):
    shop = FakeShop.generate(orders=5, products=120, snapshots=("products",))
    client, _ = add(settings, domain="f.myshopify.com")
    shops = {"f.myshopify.com": shop}
    engine(settings, shops).run(RunParams())
    for i in ("1", "2", "3"):
        del shop.records["products"][i]
    shop.fail_snapshot_midway = True
    failed = engine(settings, shops).run(RunParams(force=True))
    assert failed.failed == 1 and "products" in failed.results[0].error_message
    products = failed.results[0].streams["products"]
    assert products.audit.as_json() == {"platform": None, "stored": 120, "missing": None, "deleted": 0}
    assert len(_live(settings, client, "products")) == 120


def test_rows_lost_from_the_table_show_as_missing_in_the_next_audit(settings, caplog):
    shop = FakeShop.generate(orders=40, products=3)
    client, cred = add(settings, domain="l.myshopify.com")
    shops = {"l.myshopify.com": shop}
    engine(settings, shops).run(RunParams())
    # An operator's DELETE: 25 orders gone from the table, nothing changed on the platform.
    if "API_SYNC_TEST_MEMORY_STORE" in settings.env:
        table = open_store(settings).memory.data[client]
        for key in [k for k in table if k[1] == "orders"][:25]:
            del table[key]
    else:
        lose_rows(settings, client, "orders", 25)
    with caplog.at_level(logging.INFO, logger="api_sync_cron"):
        second = engine(settings, shops).run(RunParams(force=True))
    assert second.synced == 1  # a difference is a warning, not a failure
    assert _audit(second, "orders") == {"platform": 40, "stored": 15, "missing": 25, "deleted": 0}
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "Audit of orders" in
               r.getMessage()]
    assert warning and "40 on Shopify, 15 stored (25 missing)" in warning[0]
    assert "sync audit --repair" in warning[0]


def test_no_census_means_no_platform_figure(settings):
    shop = FakeShop.generate(orders=4, products=2, census=False)
    add(settings, domain="n.myshopify.com")
    summary = engine(settings, {"n.myshopify.com": shop}).run(RunParams())
    assert _audit(summary, "orders") == {"platform": None, "stored": 4, "missing": None, "deleted": 0}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_status_shows_the_latest_audit(kind, tmp_path, request):
    from .test_cli import run

    dsn = request.getfixturevalue("fresh_pg_dsn") if kind == "postgres" else None
    settings = make_settings(kind, tmp_path, dsn)
    shop = FakeShop.generate(orders=12, products=4)
    client, cred = add(settings, domain="st.myshopify.com")
    engine(settings, {"st.myshopify.com": shop}).run(RunParams())
    lose_rows(settings, client, "orders", 2)
    engine(settings, {"st.myshopify.com": shop}).run(RunParams(force=True))
    out = run(settings, "-m", "sync", "status", "--json")
    assert out.returncode == 0, out.stderr
    entry = json.loads(out.stdout)[0]
    assert entry["audit"]["orders"] == {"platform": 12, "stored": 10, "missing": 2, "deleted": 0}
    table = run(settings, "-m", "sync", "status")
    header, line = table.stdout.splitlines()[:2]
    column = header.split("\t").index("audit (stored of platform)")
    assert line.split("\t")[column] == "orders 10 of 12 (2 missing), products 4 ✓"


def test_the_manual_scripts_summary_has_an_audit_column():
    import io
    from datetime import datetime, timezone

    from rich.console import Console

    from sync.models import Audit, Integration, StreamCounts, SyncResult
    from sync.progress import RichProgress

    screen = io.StringIO()
    progress = RichProgress(Console(file=screen, width=250, force_terminal=False))
    integration = Integration("c", "11111111-1111-1111-1111-111111111111", "amazon", "Seller", None)
    result = SyncResult("r", "c", integration.client_id, "amazon", "manual", datetime.now(timezone.utc), success=True,
                        streams={"products": StreamCounts(fetched=8, unchanged=8,
                                                          audit=Audit(platform=8, stored=8, missing=0, deleted=4)),
                                 "orders": StreamCounts(audit=Audit(platform=5, stored=3, missing=2, deleted=0))})
    progress._results.append((integration, result))
    progress.print_summary()
    text = screen.getvalue()
    assert "audit (stored of platform)" in text
    assert "products 8 ✓, 4 deleted, orders 3 of 5 (2 missing)" in text

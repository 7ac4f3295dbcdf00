"""The sync engine end to end with the test platform (tests/fakeplatform.py): on the in-memory store (the
engine's logic alone) and on the real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from sync.models import RunParams, WorkerId
from sync.platforms import PlatformRegistry

from . import engine_fixtures
from .engine_fixtures import add, data_rows, integration_row, make_settings, open_store, results, store_kind
from .fakeplatform import FakePlatform, FakeShop


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def settings(request, tmp_path):
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def engine(settings, shops, **kwargs):
    return engine_fixtures.engine(settings, PlatformRegistry({"shopify": FakePlatform(shops)}), **kwargs)


def test_first_sync_then_nothing_due_then_forced_unchanged_then_changes(settings):
    shop = FakeShop.generate(orders=120, products=30)
    client, cred = add(settings, domain="a.myshopify.com")
    shops = {"a.myshopify.com": shop}

    first = engine(settings, shops).run(RunParams())
    assert first.due == 1 and first.synced == 1 and first.exit_code == 0
    streams = first.results[0].streams
    assert (streams["orders"].fetched, streams["orders"].new) == (120, 120)
    assert (streams["products"].fetched, streams["products"].new) == (30, 30)
    rows = data_rows(settings, client)
    assert len(rows) == 150
    assert len({(r[1], r[2]) for r in rows}) == 150

    again = engine(settings, shops).run(RunParams())
    assert again.due == 0 and again.results == []

    forced = engine(settings, shops).run(RunParams(force=True, triggered_by="manual"))
    orders = forced.results[0].streams["orders"]
    # Zero lookback and an inclusive cursor: the last order is re-read and found unchanged.
    assert orders.new == 0 and orders.updated == 0 and orders.unchanged == orders.fetched >= 1
    assert forced.results[0].records_stored == 0

    for i in range(1, 6):
        shop.change("orders", str(i))
    for i in range(121, 124):
        shop.put("orders", str(i), {"title": "new", "qty": 1})
    third = engine(settings, shops).run(RunParams(force=True))
    orders = third.results[0].streams["orders"]
    assert (orders.new, orders.updated) == (3, 5)
    assert orders.fetched == orders.new + orders.updated + orders.unchanged
    assert len(data_rows(settings, client)) == 153

    history = results(settings, cred)
    assert len(history) == 3
    assert [r["sync_triggered_by"] for r in history] == ["cron", "manual", "cron"]
    assert history[0]["data_types_synced"]["orders"] == {"fetched": 120, "new": 120, "updated": 0, "unchanged": 0,
                                                         "audit": {"platform": 120, "stored": 120, "missing": 0,
                                                                   "deleted": 0}}
    assert history[0]["records_fetched"] == 150 and history[0]["records_stored"] == 150


def test_success_sets_schedule_anchored_at_first_start(settings):
    client, cred = add(settings)
    before = datetime.now(timezone.utc)
    engine(settings, {}).run(RunParams())
    row = integration_row(settings, cred)
    assert row["status"] == "connected" and row["error_message"] is None and row["consecutive_failures"] == 0
    assert row["last_sync_at"] >= before - timedelta(seconds=1)
    assert row["next_sync_at"] - row["last_sync_at"] == timedelta(hours=24)
    assert row["locked_by"] is None and row["locked_until"] is None
    assert row["sync_state"]["orders"]["updated_at"]


def test_failure_backs_off_and_others_still_sync(settings):
    shops = {"bad.myshopify.com": FakeShop.generate(reject_token=True),
             "half.myshopify.com": FakeShop.generate(fail_data_type="orders")}
    _, bad = add(settings, domain="bad.myshopify.com")
    half_client, half = add(settings, domain="half.myshopify.com")
    good_client, good = add(settings, domain="good.myshopify.com")
    summary = engine(settings, shops).run(RunParams())
    assert (summary.due, summary.synced, summary.failed, summary.exit_code) == (3, 1, 2, 1)
    assert summary.status == "partial"

    bad_row = integration_row(settings, bad)
    assert bad_row["status"] == "error"
    assert "rejected the access token" in bad_row["error_message"]
    assert bad_row["consecutive_failures"] == 1
    delay = bad_row["next_sync_at"] - datetime.now(timezone.utc)
    assert timedelta(minutes=14) < delay <= timedelta(minutes=15)

    half_row = integration_row(settings, half)
    assert half_row["status"] == "error" and half_row["error_message"].startswith("orders:")
    # What was committed before the failure stays; products synced in full.
    stored = data_rows(settings, half_client)
    assert len([r for r in stored if r[1] == "orders"]) == 50
    assert len([r for r in stored if r[1] == "products"]) == 30
    assert integration_row(settings, good)["status"] == "connected"
    assert len(data_rows(settings, good_client)) == 150

    # Second failure in a row: the backoff doubles.
    engine(settings, shops).run(RunParams(force=True, client_id=None))
    bad_row = integration_row(settings, bad)
    assert bad_row["consecutive_failures"] == 2
    delay = bad_row["next_sync_at"] - datetime.now(timezone.utc)
    assert timedelta(minutes=29) < delay <= timedelta(minutes=30)


def test_skipped_data_type_does_not_fail_integration(settings):
    shops = {"s.myshopify.com": FakeShop.generate(skip_data_type="products")}
    _, cred = add(settings, domain="s.myshopify.com")
    summary = engine(settings, shops).run(RunParams())
    assert summary.synced == 1
    assert summary.results[0].streams["products"].skipped == "the app lacks the read_customers scope"
    assert results(settings, cred)[0]["data_types_synced"]["products"]["skipped"]


def test_filters_select_client_and_platform(settings):
    client_a, _ = add(settings)
    add(settings)
    summary = engine(settings, {}).run(RunParams(client_id=client_a))
    assert summary.due == 1 and summary.results[0].client_id == client_a
    assert engine(settings, {}).run(RunParams(platform="amazon")).due == 0


def test_force_never_takes_a_leased_integration(settings):
    _, cred = add(settings)
    store = open_store(settings)
    now = datetime.now(timezone.utc)
    claimed = store.claim_next(now, RunParams(), "other-worker", now + timedelta(minutes=10), [])
    store.close()
    assert claimed.credential_id == cred
    summary = engine(settings, {}).run(RunParams(force=True))
    assert summary.due == 0 and summary.results == []


def test_undecryptable_credential_fails_that_integration_only(settings, tmp_path):
    _, broken = add(settings)
    _, fine = add(settings)
    store = open_store(settings)
    store.set_credentials_blob(broken, "gAAAAAB-not-a-real-token")
    store.close()
    summary = engine(settings, {}).run(RunParams())
    assert summary.synced == 1 and summary.failed == 1
    row = integration_row(settings, broken)
    assert "cannot be decrypted" in row["error_message"]
    assert integration_row(settings, fine)["status"] == "connected"


def test_worker_that_lost_its_lease_leaves_the_new_holders_schedule_alone(settings):
    # A's lease expired, B claimed the integration and finished first; A's late finish records its attempt
    # but must not overwrite B's outcome (status, error, failures, next sync).
    import uuid

    from sync.models import ScheduleUpdate, SyncResult
    client, cred = add(settings)
    store = open_store(settings)
    try:
        now = datetime.now(timezone.utc)
        assert store.claim_next(now - timedelta(hours=1), RunParams(), "worker-a", now - timedelta(minutes=30),
                                []).credential_id == cred
        assert store.claim_next(now, RunParams(), "worker-b", now + timedelta(minutes=15), []).credential_id == cred

        def attempt(success: bool) -> SyncResult:
            return SyncResult(run_id=str(uuid.uuid4()), credential_id=cred, client_id=client, platform_type="shopify",
                              triggered_by="cron", started_at=now, finished_at=now, success=success,
                              error_message=None if success else "another worker took over this integration")

        b_next = now + timedelta(hours=24)
        store.finish_attempt(attempt(True), ScheduleUpdate("connected", None, 0, now, b_next), "worker-b")
        store.finish_attempt(attempt(False), ScheduleUpdate("error", "another worker took over this integration", 1,
                                                            None, now + timedelta(minutes=15)), "worker-a")
    finally:
        store.close()
    row = integration_row(settings, cred)
    assert (row["status"], row["error_message"], row["consecutive_failures"]) == ("connected", None, 0)
    assert row["next_sync_at"] == b_next
    assert len(results(settings, cred)) == 2  # both attempts are recorded


def test_worker_that_cannot_open_its_connection_fails_the_run_not_the_others(settings):
    # README: a worker whose database connection fails stops; the run counts it (exit code 1, `errors`),
    # the other workers go on, and the run row is finished.
    import threading

    from sync.errors import ConfigError
    add(settings)
    add(settings)

    def factory():
        if threading.current_thread().name == "sync_1":
            raise ConfigError("cannot connect to DATABASE_URL: too many connections")
        return open_store(settings)

    summary = engine(settings, {}, store_factory=factory).run(RunParams(), workers=2)
    assert summary.synced == 2 and summary.exit_code == 1
    assert len(summary.worker_errors) == 1 and "too many connections" in summary.worker_errors[0]
    store = open_store(settings)
    try:
        assert store.get_run(summary.run_id)["status"] == "partial"
    finally:
        store.close()


@pytest.mark.parametrize("bad_state", ["null", "[1, 2]"])
def test_sync_state_that_is_not_an_object_starts_over(settings, bad_state):
    client, cred = add(settings, domain="odd.myshopify.com")
    # No store operation writes a whole sync_state: set it behind the store's back, as a hand edit would.
    if store_kind(settings) == "memory":
        open_store(settings).memory.integrations[cred]["sync_state"] = json.loads(bad_state)
    elif settings.store_kind == "postgres":
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("UPDATE client_api_credentials SET sync_state = %s::jsonb", (bad_state,))
    else:
        import sqlite3

        conn = sqlite3.connect(settings.sqlite_path)
        conn.execute("UPDATE client_api_credentials SET sync_state = ?", (bad_state,))
        conn.commit()
        conn.close()
    summary = engine(settings, {"odd.myshopify.com": FakeShop.generate(orders=20, products=3)}).run(RunParams())
    assert summary.synced == 1, summary.as_json()
    assert len(data_rows(settings, client)) == 23
    assert integration_row(settings, cred)["sync_state"]["orders"]["updated_at"]
    assert len(open_store(settings).list_integrations()) == 1


def test_abandoned_runs_are_closed_but_live_ones_are_not(settings):
    import uuid as _uuid

    _, cred = add(settings)
    store = open_store(settings)
    now = datetime.now(timezone.utc)
    dead, alive, young = (str(_uuid.uuid4()) for _ in range(3))
    for run_id, age in ((dead, 2), (alive, 2), (young, 0)):
        store.start_run(run_id, RunParams(), now - timedelta(hours=age))
    # The live run's worker holds a lease (its worker id names the run).
    assert store.claim_next(now, RunParams(), WorkerId("host", 1, alive, 0), now + timedelta(minutes=10), [])
    closed = store.close_abandoned_runs(now, now - timedelta(minutes=15), "stopped before it finished")
    statuses = {run_id: store.get_run(run_id)["status"] for run_id in (dead, alive, young)}
    store.close()
    assert closed == 1
    assert statuses == {dead: "failed", alive: "running", young: "running"}


def test_pages_larger_than_one_statement_store_every_row_once(settings):
    # The SQLite store writes a page in statements of ROWS_PER_STATEMENT rows: full ones and a remainder,
    # new and changed rows mixed, must all land exactly once, whatever the store.
    from sync.store.sqlite import ROWS_PER_STATEMENT

    size = ROWS_PER_STATEMENT * 2 + 37
    shop = FakeShop.generate(orders=size * 2 + 11, products=0, page_size=size)
    client, _ = add(settings, domain="big-pages.myshopify.com")
    shops = {"big-pages.myshopify.com": shop}
    first = engine(settings, shops).run(RunParams())
    assert first.results[0].streams["orders"].new == size * 2 + 11

    changed = [str(i) for i in range(1, size * 2 + 12, 3)]
    for external_id in changed:
        shop.put("orders", external_id, {"title": f"changed {external_id}", "qty": -1})
    for i in range(30):
        shop.put("orders", f"new-{i}", {"title": f"new {i}", "qty": i})
    second = engine(settings, shops).run(RunParams(force=True)).results[0].streams["orders"]
    assert (second.new, second.updated) == (30, len(changed))  # one page of 192: a full statement and a part
    stored = {row[2]: row[3] for row in data_rows(settings, client)}
    assert len(stored) == size * 2 + 11 + 30
    assert stored == shop.records["orders"]

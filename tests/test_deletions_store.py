"""deleted_at in every store (SPEC section 2): rows marked deleted, never removed; a record that comes back
is live again; the live rows counted and listed for the audit; init-db gives older client tables the
column. Run on the in-memory store, SQLite, PostgreSQL and the Supabase REST store."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sync import dedup
from sync.hashing import serialize
from sync.ids import data_table
from sync.models import WorkerId
from sync.store.base import LeaseLost, StagedRow

from .engine_fixtures import add, make_settings, open_store, query
from .supabase_fixtures import supabase_project  # noqa: F401 (fixture)

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite", "postgres", "supabase"])
def settings(request, tmp_path):
    if request.param == "postgres":
        return make_settings("postgres", tmp_path, request.getfixturevalue("fresh_pg_dsn"))
    if request.param == "supabase":
        return request.getfixturevalue("supabase_project").settings(tmp_path)
    return make_settings(request.param, tmp_path)


def _row(external_id: str, data: dict, updated: datetime | None = None) -> StagedRow:
    text, digest = serialize(data)
    return StagedRow(external_id, text, digest, updated)


class Integration:
    """One integration under a lease of this test's worker, writing pages as the engine does."""

    def __init__(self, settings):
        self.settings = settings
        self.client_id, self.credential_id = add(settings)
        self.store = open_store(settings)
        self.worker = WorkerId("test", 1, str(uuid.uuid4()), 0)
        now = datetime.now(timezone.utc)
        assert self.store.acquire_lease(self.credential_id, self.worker, now, now + timedelta(minutes=10))
        self.store.ensure_data_table(self.client_id)

    def page(self, data_type: str, records: dict[str, dict], deletions: dict[str, list[str]] | None = None):
        """Write `records` like the engine (dedup first), then mark `deletions`; returns (plan, marked)."""
        staged = {i: _row(i, d, T0) for i, d in records.items()}
        marked = {}
        with self.store.page_transaction(self.client_id, self.credential_id, "shopify", data_type,
                                         self.worker) as tx:
            plan = dedup.classify(staged, tx.stored_hashes(list(staged)))
            tx.write(plan.new_rows, plan.changed_rows, datetime.now(timezone.utc))
            for other, ids in (deletions or {}).items():
                marked[other] = tx.mark_deleted(other, ids, T0 + timedelta(hours=1))
            tx.save_state({"cursor": "x"}, datetime.now(timezone.utc) + timedelta(minutes=10))
        return plan, marked

    def live(self, data_type: str) -> list[str]:
        return [i for i, _ in self.store.iter_live_ids(self.client_id, self.credential_id, data_type, batch_size=3)]

    def close(self):
        self.store.release_lease(self.credential_id, self.worker)
        self.store.close()


@pytest.fixture
def integration(settings):
    it = Integration(settings)
    yield it
    it.close()


def _all_rows(settings, client_id: str) -> list[tuple]:
    """(external_id, deleted_at is set) of every row, read straight from the table (memory: its dicts)."""
    if "API_SYNC_TEST_MEMORY_STORE" in settings.env:
        table = open_store(settings).memory.data[client_id]
        return sorted((r["external_id"], r["deleted_at"] is not None) for r in table.values())
    rows = query(settings, f'SELECT external_id, deleted_at FROM "{data_table(client_id)}"')
    return sorted((r[0], r[1] is not None) for r in rows)


def test_marked_rows_stay_but_are_no_longer_live(integration, settings):
    products = {f"p{i}": {"id": f"p{i}", "title": f"Product {i}"} for i in range(8)}
    integration.page("products", products)
    assert integration.store.count_live(integration.client_id, integration.credential_id, "products") == 8
    _, marked = integration.page("products", {}, {"products": ["p1", "p3", "p9-never-stored"]})
    assert marked == {"products": 2}
    # Marking again neither counts nor moves the first time.
    _, marked = integration.page("products", {}, {"products": ["p1"]})
    assert marked == {"products": 0}
    assert integration.live("products") == ["p0", "p2", "p4", "p5", "p6", "p7"]
    assert integration.store.count_live(integration.client_id, integration.credential_id, "products") == 6
    # Rows are never removed: all eight are still there, two with deleted_at set.
    assert _all_rows(settings, integration.client_id) == [(f"p{i}", i in (1, 3)) for i in range(8)]
    # The SKU analysis reads live rows only.
    read = {r.external_id for r in integration.store.iter_data(integration.client_id, ["products"])}
    assert read == {"p0", "p2", "p4", "p5", "p6", "p7"}
    if "API_SYNC_TEST_MEMORY_STORE" not in settings.env:
        stamp = query(settings, f'SELECT deleted_at FROM "{data_table(integration.client_id)}" WHERE external_id = ?',
                      ("p1",))[0][0]
        assert str(stamp).startswith("2026-11-01") and ("01:00:00" in str(stamp))


def test_a_record_that_comes_back_unchanged_is_live_again_and_counted_updated(integration):
    integration.page("products", {"p1": {"id": "p1", "title": "A"}, "p2": {"id": "p2", "title": "B"}})
    integration.page("products", {}, {"products": ["p1"]})
    versions = integration.store.stored_versions(integration.client_id, integration.credential_id, "products",
                                                 ["p1", "p2"])
    assert versions["p1"] is None and versions["p2"] == T0  # a deleted row has no version: fetched in full again
    plan, _ = integration.page("products", {"p1": {"id": "p1", "title": "A"}, "p2": {"id": "p2", "title": "B"}})
    assert (plan.new, plan.updated, plan.unchanged) == (0, 1, 1)
    assert integration.live("products") == ["p1", "p2"]


def test_a_deletion_marks_rows_of_another_data_type_and_ids_where_finds_them(integration):
    integration.page("products", {
        "P1": {"id": "P1", "variants": [{"id": "V1", "inventoryItem": {"id": "I1"}},
                                        {"id": "V2", "inventoryItem": {"id": "I2"}}]},
        "P2": {"id": "P2", "variants": [{"id": "V3", "inventoryItem": {"id": "I3"}}]}})
    integration.page("inventory", {
        "L1?I1": {"id": "L1?I1", "item": {"id": "I1"}}, "L2?I1": {"id": "L2?I1", "item": {"id": "I1"}},
        "L1?I2": {"id": "L1?I2", "item": {"id": "I2"}}, "L1?I3": {"id": "L1?I3", "item": {"id": "I3"}}})
    store, c, k = integration.store, integration.client_id, integration.credential_id
    stored = store.stored_rows(c, k, "products", ["P1", "nope"])
    assert list(stored) == ["P1"] and stored["P1"]["variants"][1]["inventoryItem"]["id"] == "I2"
    items = [v["inventoryItem"]["id"] for v in stored["P1"]["variants"]]
    assert sorted(store.ids_where(c, k, "inventory", ["item", "id"], items)) == ["L1?I1", "L1?I2", "L2?I1"]
    # Into arrays on the way: the product holding a variant.
    assert store.ids_where(c, k, "products", ["variants", "id"], ["V3"]) == ["P2"]
    assert store.ids_where(c, k, "products", ["variants", "inventoryItem", "id"], ["I1", "I3"]) == ["P1", "P2"]
    _, marked = integration.page("products", {}, {"products": ["P1"], "inventory": ["L1?I1", "L1?I2", "L2?I1"]})
    assert marked == {"products": 1, "inventory": 3}
    assert integration.live("inventory") == ["L1?I3"]
    assert store.ids_where(c, k, "inventory", ["item", "id"], items) == []  # live rows only


def test_live_ids_by_keyset_and_by_update_window(integration):
    ids = [f"o{i:02d}" for i in range(11)]
    integration.page("orders", {i: {"id": i} for i in ids})
    assert integration.live("orders") == ids  # batches of 3: four reads and an empty one
    store, c, k = integration.store, integration.client_id, integration.credential_id
    window = (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert store.count_live(c, k, "orders", updated_between=window) == 11
    assert store.count_live(c, k, "orders", updated_between=(T0 + timedelta(seconds=1), T0 + timedelta(days=1))) == 0
    assert [i for i, _ in store.iter_live_ids(c, k, "orders", updated_between=window)] == ids
    assert store.count_live(c, k, "customers") == 0


def test_marking_needs_the_lease(integration, settings):
    integration.page("products", {"p1": {"id": "p1"}})
    other = WorkerId("test", 2, str(uuid.uuid4()), 0)
    with pytest.raises(LeaseLost):
        with integration.store.page_transaction(integration.client_id, integration.credential_id, "shopify",
                                                "products", other) as tx:
            tx.mark_deleted("products", ["p1"], T0)
            tx.save_state(None, datetime.now(timezone.utc) + timedelta(minutes=5))
    assert integration.live("products") == ["p1"]


def test_acquire_lease_only_when_free(integration):
    store, k = integration.store, integration.credential_id
    now = datetime.now(timezone.utc)
    other = WorkerId("test", 3, str(uuid.uuid4()), 0)
    assert not store.acquire_lease(k, other, now, now + timedelta(minutes=5))  # held by the test's worker
    assert store.release_lease(k, integration.worker)
    assert store.acquire_lease(k, other, now, now + timedelta(minutes=5))
    assert not store.release_lease(k, integration.worker)
    assert store.release_lease(k, other)
    assert store.acquire_lease(k, integration.worker, now, now + timedelta(minutes=5))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_init_db_adds_deleted_at_to_client_tables_an_older_version_made(kind, tmp_path, request):
    dsn = request.getfixturevalue("fresh_pg_dsn") if kind == "postgres" else None
    settings = make_settings(kind, tmp_path, dsn)
    store = open_store(settings)
    store.init_db()
    client = str(uuid.uuid4())
    table = data_table(client)
    # The table as the previous version made it: no deleted_at.
    ddl = (f'CREATE TABLE "{table}" (id {"bigserial" if kind == "postgres" else "INTEGER"} PRIMARY KEY, '
           "credential_id TEXT, platform_type TEXT, data_type TEXT, external_id TEXT, data TEXT, record_hash TEXT, "
           "source_updated_at TEXT, first_synced_at TEXT, last_synced_at TEXT)")
    if kind == "postgres":
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(ddl.replace("TEXT", "text").replace("credential_id text", "credential_id uuid")
                         .replace("data text", "data jsonb"))
            conn.execute(f"INSERT INTO \"{table}\" (credential_id, data_type, external_id, data) VALUES "
                         f"('{uuid.uuid4()}', 'orders', 'o1', '{json.dumps({'id': 'o1'})}')")
    else:
        import sqlite3

        conn = sqlite3.connect(settings.sqlite_path)
        conn.execute(ddl)
        conn.execute(f"INSERT INTO \"{table}\" (credential_id, data_type, external_id, data) VALUES (?, ?, ?, ?)",
                     (str(uuid.uuid4()), "orders", "o1", json.dumps({"id": "o1"})))
        conn.commit()
        conn.close()
    store.init_db()
    store.close()
    assert query(settings, f'SELECT external_id, deleted_at FROM "{table}"') == [("o1", None)]

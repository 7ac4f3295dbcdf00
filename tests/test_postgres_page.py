"""The PostgreSQL page write (sync/store/postgres_page.py): new rows by COPY, changed rows by upsert,
and a key that appears between the hash lookup and the COPY (a lost lease) rolls the page back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from sync.hashing import serialize
from sync.models import RunParams
from sync.store import LeaseLost, StagedRow, open_store

from .engine_fixtures import add, data_rows, make_settings, query


def _row(external_id: str, data: dict) -> StagedRow:
    text, digest = serialize(data)
    return StagedRow(external_id, text, digest, datetime(2026, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def claimed(fresh_pg_dsn, tmp_path):
    settings = make_settings("postgres", tmp_path, fresh_pg_dsn)
    client, cred = add(settings)
    store = open_store(settings)
    now = datetime.now(timezone.utc)
    assert store.claim_next(now, RunParams(force=True), "w1", now + timedelta(minutes=5), []) is not None
    store.ensure_data_table(client)
    yield settings, store, client, cred
    store.close()


def _write(store, client, cred, rows):
    """A page as the engine writes it: look the ids up, then new rows apart from changed ones."""
    now = datetime.now(timezone.utc)
    with store.page_transaction(client, cred, "shopify", "orders", "w1") as tx:
        stored = tx.stored_hashes([r.external_id for r in rows])
        tx.write([r for r in rows if r.external_id not in stored],
                 [r for r in rows if r.external_id in stored], now)
        tx.save_state({"updated_at": "x"}, now + timedelta(minutes=5))
    return stored


def test_new_rows_then_changed_rows(claimed):
    settings, store, client, cred = claimed
    _write(store, client, cred, [_row("1", {"a": 1}), _row("2", {"a": 2})])
    stored = _write(store, client, cred, [_row("2", {"a": 20}), _row("3", {"a": 3})])
    assert set(stored) == {"2"}
    rows = {r[2]: r[3] for r in data_rows(settings, client)}
    assert rows == {"1": {"a": 1}, "2": {"a": 20}, "3": {"a": 3}}


def test_changed_rows_are_upserted_without_a_lookup_first(claimed):
    # The plan carries new and changed rows apart: writing needs no earlier stored_hashes call.
    settings, store, client, cred = claimed
    _write(store, client, cred, [_row("1", {"a": 1})])
    now = datetime.now(timezone.utc)
    with store.page_transaction(client, cred, "shopify", "orders", "w1") as tx:
        tx.write([_row("3", {"a": 4})], [_row("1", {"a": 2}), _row("2", {"a": 3})], now)
        tx.save_state(None, now + timedelta(minutes=5))
    assert {r[2]: r[3] for r in data_rows(settings, client)} == {"1": {"a": 2}, "2": {"a": 3}, "3": {"a": 4}}


def test_key_written_by_another_worker_meanwhile_rolls_the_page_back(claimed):
    settings, store, client, cred = claimed
    table = f'"client_{client.replace("-", "_")}_data"'
    now = datetime.now(timezone.utc)
    with pytest.raises(LeaseLost):
        with store.page_transaction(client, cred, "shopify", "orders", "w1") as tx:
            assert tx.stored_hashes(["1", "2"]) == {}
            # A stale worker of the same integration commits "1" between the lookup and the COPY.
            with psycopg.connect(settings.database_url, autocommit=True) as other:
                other.execute(f"INSERT INTO {table} (credential_id, platform_type, data_type, external_id, data, "
                              "record_hash) VALUES (%s, 'shopify', 'orders', '1', '{}', 'x')", (cred,))
            tx.write([_row("1", {"a": 1}), _row("2", {"a": 2})], [], now)
    assert [(r[2], r[3]) for r in data_rows(settings, client)] == [("1", {})]
    assert store.get_integration(cred).sync_state == {}


def test_changed_rows_without_an_updated_at(claimed):
    settings, store, client, cred = claimed
    rows = [StagedRow(str(i), f'{{"v": {i}}}', f"h{i}", None) for i in range(3)]
    _write(store, client, cred, rows)
    _write(store, client, cred, [StagedRow(r.external_id, r.data_json, r.record_hash + "x", None) for r in rows])
    assert query(settings, f'SELECT count(*) FROM "client_{client.replace("-", "_")}_data" '
                           "WHERE right(record_hash, 1) = 'x' AND source_updated_at IS NULL") == [(3,)]

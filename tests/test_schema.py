"""init-db: creates everything, runs twice, and upgrades the guide's first tables without losing data."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams
from sync.platforms import PlatformRegistry
from sync.store import open_store

from .engine_fixtures import add_client, make_settings, query
from .fakeplatform import FakePlatform, FakeShop

LEGACY_PG = """
CREATE TABLE client_api_credentials (
    credential_id uuid PRIMARY KEY, client_id uuid, platform_type text, status text,
    last_sync_at timestamptz, next_sync_at timestamptz, sync_frequency_hours integer, error_message text,
    credentials jsonb);
CREATE TABLE client_api_sync_results (
    client_id uuid, credential_id uuid, platform_type text, records_fetched integer, records_stored integer,
    sync_duration_seconds float, success boolean, data_types_synced json, sync_triggered_by text);
"""
LEGACY_SQLITE = """
CREATE TABLE client_api_credentials (
    credential_id TEXT PRIMARY KEY, client_id TEXT, platform_type TEXT, status TEXT,
    last_sync_at TEXT, next_sync_at TEXT, sync_frequency_hours INTEGER, error_message TEXT, credentials TEXT);
CREATE TABLE client_api_sync_results (
    client_id TEXT, credential_id TEXT, platform_type TEXT, records_fetched INTEGER, records_stored INTEGER,
    sync_duration_seconds REAL, success INTEGER, data_types_synced TEXT, sync_triggered_by TEXT);
"""


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def _execute_script(settings, script: str) -> None:
    if settings.store_kind == "postgres":
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(script)
    else:
        import sqlite3

        conn = sqlite3.connect(settings.sqlite_path)
        conn.executescript(script)
        conn.close()


def test_init_db_is_idempotent(settings):
    store = open_store(settings)
    store.init_db()
    store.init_db()
    store.close()
    names = {"client_api_credentials", "client_api_sync_results", "api_sync_runs"}
    for name in names:
        assert query(settings, f"SELECT count(*) FROM {name}")[0][0] == 0


def test_upgrades_the_guides_tables_and_keeps_rows(settings):
    client, credential = str(uuid.uuid4()), str(uuid.uuid4())
    legacy_secrets = json.dumps({"shop_domain": "old.myshopify.com", "access_token": "shpat_" + "0ld" * 10})
    _execute_script(settings, LEGACY_PG if settings.store_kind == "postgres" else LEGACY_SQLITE)
    table = data_table(client)
    # The guide's first version: data tables with its own columns and rows.
    id_type = "serial" if settings.store_kind == "postgres" else "integer"
    legacy_data = (f'CREATE TABLE "{table}" (id {id_type} PRIMARY KEY, data_type text, data text);'
                   f"INSERT INTO \"{table}\" (data_type, data) VALUES ('orders', 'old row');")
    _execute_script(settings, legacy_data)
    insert = ("INSERT INTO client_api_credentials (credential_id, client_id, platform_type, status, "
              "sync_frequency_hours, credentials) VALUES (?, ?, 'shopify', 'connected', 24, ?)")
    query_settings = settings
    if settings.store_kind == "postgres":
        import psycopg

        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(insert.replace("?", "%s"), (credential, client, legacy_secrets))
    else:
        import sqlite3

        conn = sqlite3.connect(settings.sqlite_path)
        conn.execute(insert, (credential, client, legacy_secrets))
        conn.commit()
        conn.close()
    store = open_store(settings)
    store.init_db()
    integration = store.get_integration(credential)
    store.close()
    assert integration.is_active and integration.sync_frequency_hours == 24 and integration.sync_state == {}

    # The old integration syncs, its plaintext secrets get encrypted, the old data row stays.
    engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": FakePlatform(
        {"old.myshopify.com": FakeShop.generate(orders=10, products=2)})}))
    summary = engine.run(RunParams())
    assert summary.synced == 1, summary.as_json()
    stored = query(query_settings, "SELECT credentials FROM client_api_credentials")[0][0]
    assert str(stored).startswith("gAAAA") and "shpat_" not in str(stored)
    assert query(settings, f'SELECT count(*) FROM "{table}"')[0][0] == 13
    assert query(settings, f"SELECT data FROM \"{table}\" WHERE id = 1")[0][0] == "old row"
    assert query(settings, "SELECT count(*) FROM client_api_sync_results")[0][0] == 1


def test_new_client_tables_get_row_level_security_on_postgres(fresh_pg_dsn, tmp_path):
    settings = make_settings("postgres", tmp_path, fresh_pg_dsn)
    client = str(uuid.uuid4())
    store = open_store(settings)
    store.ensure_schema()
    store.ensure_data_table(client)
    store.close()
    rls = query(settings, "SELECT relrowsecurity FROM pg_class WHERE relname = ?", (data_table(client),))
    assert rls == [(True,)]


def _server_has_lz4(settings) -> bool:
    import psycopg

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL default_toast_compression = 'lz4'")
            return True
        except psycopg.Error:
            return False


def _init_db(settings) -> None:
    store = open_store(settings)
    try:
        store.init_db()
    finally:
        store.close()


def test_client_data_tables_store_records_with_lz4_and_init_db_moves_older_tables(fresh_pg_dsn, tmp_path):
    # lz4 compresses a record's jsonb several times faster than pglz (benchmarks/README.md); a server
    # without it keeps pglz and syncs all the same. Rows written before the switch stay readable.
    settings = make_settings("postgres", tmp_path, fresh_pg_dsn)
    lz4 = _server_has_lz4(settings)
    client = str(uuid.uuid4())
    table = data_table(client)
    shop = FakeShop()
    for i in range(30):  # records of about 3 KB, as orders are: large enough to be compressed
        shop.put("orders", str(i), {"line_items": [{"sku": f"SKU-{i}-{j}", "title": f"Item {j} of order {i}",
                                                    "quantity": j % 5} for j in range(60)]})
    engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": FakePlatform({"shop.myshopify.com": shop})}))
    add_client(settings, "shopify", {"shop_domain": "shop.myshopify.com", "access_token": "shpat_" + "a" * 32},
               client_id=client)
    compression = f"SELECT attcompression FROM pg_attribute WHERE attrelid = '\"{table}\"'::regclass AND attname = 'data'"
    store = open_store(settings)
    store.ensure_schema()
    store.ensure_data_table(client)
    store.close()
    assert query(settings, compression) == [("l" if lz4 else "",)]
    # As an older version left it: pglz, rows stored. A sync then init-db.
    _execute_script(settings, f'ALTER TABLE "{table}" ALTER COLUMN data SET COMPRESSION pglz')
    assert engine.run(RunParams(force=True)).synced == 1
    before = query(settings, f'SELECT external_id, data::text FROM "{table}" ORDER BY external_id')
    _init_db(settings)
    assert query(settings, compression) == [("l" if lz4 else "p",)]
    assert query(settings, f'SELECT external_id, data::text FROM "{table}" ORDER BY external_id') == before
    # The switch takes an exclusive lock: behind a long reader, init-db leaves it for the next time rather
    # than queue everyone's reads behind its own.
    if lz4:
        _execute_script(settings, f'ALTER TABLE "{table}" ALTER COLUMN data SET COMPRESSION pglz')
        import psycopg

        with psycopg.connect(settings.database_url) as reader:
            reader.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # its lock held till the end
            started = time.monotonic()
            _init_db(settings)
            assert time.monotonic() - started < 10
        assert query(settings, compression) == [("p",)]
        _init_db(settings)
        assert query(settings, compression) == [("l",)]
    # Records written from then on are compressed with lz4; the older ones keep pglz and read the same.
    _execute_script(settings, f'UPDATE "{table}" SET record_hash = \'-\' WHERE id % 2 = 0')
    assert engine.run(RunParams(force=True)).synced == 1
    methods = dict(query(settings, f'SELECT pg_column_compression(data), count(*) FROM "{table}" GROUP BY 1'))
    assert set(methods) == ({"pglz", "lz4"} if lz4 else {"pglz"}), methods
    assert query(settings, f'SELECT external_id, data::text FROM "{table}" ORDER BY external_id') == before


def test_init_db_encrypts_plaintext_secrets_left_by_the_first_version(settings, monkeypatch, capsys):
    from sync import cli

    _execute_script(settings, LEGACY_PG if settings.store_kind == "postgres" else LEGACY_SQLITE)
    secrets = json.dumps({"shop_domain": "idle.myshopify.com", "access_token": "shpat_" + "1d1e" * 8})
    insert = ("INSERT INTO client_api_credentials (credential_id, client_id, platform_type, status, credentials) "
              f"VALUES ('{uuid.uuid4()}', '{uuid.uuid4()}', 'shopify', 'connected', '{secrets}')")
    _execute_script(settings, insert)
    for key, value in settings.env.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["init-db"]) == 0
    assert "Encrypted 1 credential(s)" in capsys.readouterr().out
    stored = str(query(settings, "SELECT credentials FROM client_api_credentials")[0][0])
    assert stored.startswith("gAAAA") and "shpat_" not in stored


def test_legacy_results_table_gets_result_id_as_its_key_and_keeps_every_row(settings):
    # The guide's first client_api_sync_results had no result_id and no primary key (SPEC: result_id uuid pk).
    _execute_script(settings, LEGACY_PG if settings.store_kind == "postgres" else LEGACY_SQLITE)
    old = ("INSERT INTO client_api_sync_results (client_id, credential_id, platform_type, records_fetched, success, "
           f"sync_triggered_by) VALUES ('{uuid.uuid4()}', '{uuid.uuid4()}', 'shopify', 7, true, 'cron')")
    _execute_script(settings, ";".join([old] * 3).replace("true", "1" if settings.store_kind == "sqlite" else "true"))
    store = open_store(settings)
    store.init_db()
    store.init_db()  # again: nothing changes
    store.close()
    ids = [r[0] for r in query(settings, "SELECT result_id FROM client_api_sync_results")]
    assert len(ids) == 3 and len(set(ids)) == 3 and all(uuid.UUID(str(i)) for i in ids)
    if settings.store_kind == "postgres":
        key = query(settings, "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
                              "AND a.attnum = ANY(c.conkey) WHERE c.conrelid = 'client_api_sync_results'::regclass "
                              "AND c.contype = 'p'")
        assert key == [("result_id",)]
    else:  # SQLite cannot add a primary key to a table: a unique index on the filled column
        unique = query(settings, "SELECT name FROM pragma_index_list('client_api_sync_results') WHERE \"unique\"")
        assert ("client_api_sync_results_result_id_key",) in unique
    # The old rows read back through the store like new ones.
    store = open_store(settings)
    try:
        assert [r["records_fetched"] for r in store.list_results()] == [7, 7, 7]
    finally:
        store.close()


def test_legacy_results_table_with_duplicate_ids_keeps_them_all_on_postgres(fresh_pg_dsn, tmp_path):
    settings = make_settings("postgres", tmp_path, fresh_pg_dsn)
    same = uuid.uuid4()
    _execute_script(settings, f"""
        CREATE TABLE client_api_sync_results (result_id uuid, client_id uuid, credential_id uuid, platform_type text,
                                              records_fetched integer);
        INSERT INTO client_api_sync_results (result_id, records_fetched)
        VALUES ('{same}', 1), ('{same}', 2), (NULL, 3);""")
    store = open_store(settings)
    store.init_db()
    store.close()
    rows = query(settings, "SELECT result_id, records_fetched FROM client_api_sync_results ORDER BY 2")
    assert [r[1] for r in rows] == [1, 2, 3] and len({r[0] for r in rows}) == 3 and None not in {r[0] for r in rows}

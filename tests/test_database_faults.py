"""Database faults during a sync, on a PostgreSQL server of the tests' own (tests/pg_cluster.py): a worker's
connection killed mid-page with pg_terminate_backend, the server restarted during a run, a statement
timeout, the disk-full error class; and, for the Supabase REST store, a 503 and a dropped connection on
`api_sync_write_page`.

Each time: no partial page is ever visible (a poller reads the tables throughout), the integration retries
(on a fresh connection) or fails cleanly with a result row that says why, the other integrations go on,
and the next run completes the data, which then equals the platform's with no duplicate.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager

import psycopg
import pytest

from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams
from sync.platforms import PlatformRegistry
from sync.store import open_store

from .engine_fixtures import add, make_settings, query, results
from .fakeplatform import FakePlatform, FakeShop
from .pg_cluster import cluster  # noqa: F401 (the fixture)
from .reliability import record
from .supabase_fixtures import supabase_project  # noqa: F401  (a fixture)

PAGE = 10
SHOP = {"orders": 60, "products": 20, "page_size": PAGE, "page_delay": 0.03}
_figures = Counter()



@pytest.fixture
def db(cluster):
    """A fresh database on the tests' own server: (name, dsn)."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    return name, cluster.create_database(name)


def _engine(settings) -> SyncEngine:
    return SyncEngine(settings, platforms=PlatformRegistry({"shopify": FakePlatform()}))


def _integrations(settings, count: int = 3, **shop) -> list[tuple[str, str]]:
    """(client_id, credential_id) of `count` integrations, each of its own client."""
    return [add(settings, **{**SHOP, **shop}) for _ in range(count)]


def _expected(**shop) -> dict[tuple[str, str], dict]:
    fake = FakeShop.from_secrets({**SHOP, **shop})
    return {(dt, i): r for dt, recs in fake.records.items() for i, r in recs.items()}


def _stored(settings, client_id: str) -> list[tuple]:
    return query(settings, f'SELECT data_type, external_id, data FROM "{data_table(client_id)}"')


def _check_complete(settings, client_id: str, **shop) -> None:
    rows = _stored(settings, client_id)
    keys = Counter((r[0], r[1]) for r in rows)
    assert all(n == 1 for n in keys.values()), "a record is stored twice"
    expected = _expected(**shop)
    assert set(keys) == set(expected), f"missing {len(set(expected) - set(keys))}"
    for data_type, external_id, data in rows:
        assert (json.loads(data) if isinstance(data, str) else data) == expected[(data_type, external_id)]


class PagePoller:
    """Reads every client's table throughout the run: each data type's row count must always be a whole
    number of pages or the full count (a page is committed whole or not at all)."""

    def __init__(self, dsn: str, clients: list[str], totals: dict[str, int]):
        self.dsn, self.clients, self.totals = dsn, clients, totals
        self.reads = 0
        self.partial: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PagePoller":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                for client in self.clients:
                    try:
                        rows = conn.execute(f'SELECT data_type, count(*) FROM "{data_table(client)}" '
                                            "GROUP BY data_type").fetchall()
                    except psycopg.errors.UndefinedTable:
                        continue
                    for data_type, count in rows:
                        if count % PAGE and count != self.totals[data_type]:
                            self.partial.append(f"{client} {data_type}: {count} rows")
                self.reads += 1
            except psycopg.OperationalError:  # the server is restarting: read again once it is back
                conn = None
                time.sleep(0.05)
            time.sleep(0.01)
        if conn is not None:
            conn.close()


@contextmanager
def running(engine: SyncEngine, params: RunParams, workers: int):
    """The run in a thread; yields a dict that receives its summary (or its exception)."""
    out: dict = {}

    def target():
        try:
            out["summary"] = engine.run(params, workers=workers)
        except BaseException as exc:  # the test reports it
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        thread.join(120)
        assert not thread.is_alive(), "the run did not finish"
        assert "error" not in out, f"the run raised {out.get('error')!r}"


def _poller(settings, pairs, **shop) -> PagePoller:
    totals = {dt: len(recs) for dt, recs in FakeShop.from_secrets({**SHOP, **shop}).records.items()}
    return PagePoller(settings.database_url, [c for c, _ in pairs], totals)


def _wait_rows(settings, client_id: str, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(_stored(settings, client_id)) >= at_least:
                return
        except psycopg.Error:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{client_id} never reached {at_least} rows")


def _result(settings, credential_id: str) -> dict:
    rows = results(settings, credential_id)
    assert len(rows) == 1, rows
    return rows[0]


# -- PostgreSQL ---------------------------------------------------------------------------------------

def test_connection_killed_mid_page_is_reconnected_and_the_page_written_again(cluster, db, tmp_path):
    name, dsn = db
    settings = make_settings("postgres", tmp_path, dsn)
    pairs = _integrations(settings)
    victim_client, victim = pairs[0]
    with _poller(settings, pairs) as poller, running(_engine(settings), RunParams(), 3) as out:
        _wait_rows(settings, victim_client, 2 * PAGE)
        # Hold the victim's integration row: its next page writes its records, then waits to move the cursor.
        with psycopg.connect(dsn) as blocker:
            blocker.execute("SELECT 1 FROM client_api_credentials WHERE credential_id = %s FOR UPDATE", (victim,))
            waiting = cluster.wait_until(lambda: [b for b in cluster.backends(name)
                                                  if b["wait_event_type"] == "Lock" and ("save_state" in b["query"] or "sync_state" in b["query"])])
            stored_before = len(_stored(settings, victim_client))
            assert stored_before % PAGE == 0  # the page in flight is not visible
            assert cluster.terminate(waiting[0]["pid"])
            blocker.rollback()
    summary = out["summary"]
    assert summary.failed == 0 and not summary.worker_errors, summary.as_json()
    for client_id, credential_id in pairs:
        assert _result(settings, credential_id)["success"]
        _check_complete(settings, client_id)
    assert not poller.partial and poller.reads > 10
    _figures["connection killed mid-page"] += 1


def test_server_restarted_during_a_run(cluster, db, tmp_path):
    name, dsn = db
    settings = make_settings("postgres", tmp_path, dsn)
    pairs = _integrations(settings)
    with _poller(settings, pairs) as poller, running(_engine(settings), RunParams(), 3) as out:
        _wait_rows(settings, pairs[0][0], 2 * PAGE)
        cluster.restart("fast")  # every connection is cut; the server is gone for a moment
    summary = out["summary"]
    assert not summary.worker_errors, summary.as_json()
    for client_id, credential_id in pairs:
        result = _result(settings, credential_id)
        assert result["success"], result["error_message"]
        _check_complete(settings, client_id)
    run = query(settings, "SELECT status FROM api_sync_runs WHERE run_id = ?", (summary.run_id,))
    assert run == [("succeeded",)]
    assert not poller.partial
    _figures["server restarted"] += 1


def test_statement_timeout_fails_the_integration_cleanly_and_the_next_run_completes(cluster, db, tmp_path):
    name, _ = db
    settings = make_settings("postgres", tmp_path, cluster.dsn(name, statement_timeout="400ms"),
                             SYNC_DB_RETRY_SECONDS="2")
    pairs = _integrations(settings)
    victim_client, victim = pairs[0]
    store = open_store(settings)
    try:
        store.ensure_data_table(victim_client)
    finally:
        store.close()
    # Another session holds the victim's table (a long migration, a dashboard's lock): every write to it
    # waits, and the statement timeout ends the wait.
    with psycopg.connect(cluster.dsn(name)) as blocker:
        blocker.execute(f'LOCK TABLE "{data_table(victim_client)}" IN SHARE MODE')
        with _poller(settings, pairs) as poller, running(_engine(settings), RunParams(), 3) as out:
            pass
        blocker.rollback()
    summary = out["summary"]
    assert summary.failed == 1 and not summary.worker_errors
    failed = _result(settings, victim)
    assert not failed["success"] and "statement timeout" in failed["error_message"], failed["error_message"]
    assert "the database failed while storing" in failed["error_message"]
    assert _stored(settings, victim_client) == []
    row = query(settings, "SELECT status, locked_by FROM client_api_credentials WHERE credential_id = ?", (victim,))
    assert row == [("error", None)]  # recorded and released: no lease left waiting to expire
    for client_id, credential_id in pairs[1:]:
        assert _result(settings, credential_id)["success"]
        _check_complete(settings, client_id)
    again = _engine(settings).run(RunParams(force=True, client_id=victim_client), workers=1)
    assert again.failed == 0
    _check_complete(settings, victim_client)
    assert not poller.partial
    _figures["statement timeout"] += 1


def test_disk_full_mid_sync_keeps_the_committed_pages_and_the_next_run_completes(cluster, db, tmp_path):
    name, dsn = db
    settings = make_settings("postgres", tmp_path, dsn, SYNC_DB_RETRY_SECONDS="2")
    pairs = _integrations(settings)
    victim_client, victim = pairs[0]
    store = open_store(settings)
    try:
        store.ensure_data_table(victim_client)
    finally:
        store.close()
    table = data_table(victim_client)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The disk-full error class (SQLSTATE 53100) as PostgreSQL raises it when a table cannot grow,
        # switched on for the victim's table once some of its pages are in.
        conn.execute("CREATE TABLE disk_full_switch (full_ boolean NOT NULL)")
        conn.execute("INSERT INTO disk_full_switch VALUES (false)")
        conn.execute("""
            CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (SELECT full_ FROM disk_full_switch) THEN
                    RAISE EXCEPTION 'could not extend file "base/16384/16390": No space left on device'
                        USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
                END IF;
                RETURN NEW;
            END $$""")
        conn.execute(f'CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON "{table}" '
                     "FOR EACH ROW EXECUTE FUNCTION disk_full()")
        with _poller(settings, pairs) as poller, running(_engine(settings), RunParams(), 3) as out:
            _wait_rows(settings, victim_client, 2 * PAGE)
            conn.execute("UPDATE disk_full_switch SET full_ = true")
        committed = len(_stored(settings, victim_client))
        conn.execute("UPDATE disk_full_switch SET full_ = false")
    summary = out["summary"]
    assert summary.failed == 1 and not summary.worker_errors
    failed = _result(settings, victim)
    assert not failed["success"] and "No space left on device" in failed["error_message"]
    assert "the database failed while storing" in failed["error_message"]
    assert 2 * PAGE <= committed < 80 and committed % PAGE == 0
    for client_id, credential_id in pairs[1:]:
        assert _result(settings, credential_id)["success"]
        _check_complete(settings, client_id)
    # The cursor is at the last committed page: the next run stores exactly what is missing.
    again = _engine(settings).run(RunParams(force=True, client_id=victim_client), workers=1)
    assert again.failed == 0
    orders = again.results[0].streams["orders"]
    stored_orders = len([r for r in _stored(settings, victim_client) if r[0] == "orders"])
    assert stored_orders == 60 and orders.updated == 0
    _check_complete(settings, victim_client)
    assert not poller.partial
    _figures["disk full"] += 1


# -- the Supabase REST store, through the PostgREST emulator --------------------------------------------

WRITE_PAGE = "POST rpc/api_sync_write_page"


def _rest_settings(project, tmp_path, **extra):
    return project.settings(tmp_path, SUPABASE_RETRY_ATTEMPTS="2", SUPABASE_RETRY_BASE_SECONDS="0.02", **extra)


def _rest_poller(project, pairs) -> PagePoller:
    totals = {dt: len(recs) for dt, recs in FakeShop.from_secrets(SHOP).records.items()}
    return PagePoller(project.dsn, [c for c, _ in pairs], totals)


@pytest.mark.parametrize("fault", ["503", "drop before", "drop after"])
def test_rest_write_page_faults_are_retried_and_nothing_is_lost(supabase_project, tmp_path, fault):
    settings = _rest_settings(supabase_project, tmp_path)
    pairs = _integrations(settings)
    emu = supabase_project.emulator
    # More failures in a row than the REST store's own retries: the engine's retry on a fresh client
    # takes over. A dropped answer after the commit is written again: the page is the same.
    faults = {"503": emu.fail_next, "drop before": emu.drop_next, "drop after": emu.drop_after_next}[fault]
    with _rest_poller(supabase_project, pairs) as poller, running(_engine(settings), RunParams(), 3) as out:
        _wait_rows(settings, pairs[0][0], PAGE)
        faults[WRITE_PAGE] = 5
    assert faults[WRITE_PAGE] == 0, "the faults were not all met"
    summary = out["summary"]
    assert summary.failed == 0, summary.as_json()
    for client_id, credential_id in pairs:
        result = _result(settings, credential_id)
        assert result["success"], result["error_message"]
        streams = result["data_types_synced"]
        if fault != "drop after":  # a lost answer's page may count as unchanged when written again
            assert streams["orders"]["new"] == 60 and streams["products"]["new"] == 20
        _check_complete(settings, client_id)
    assert not poller.partial
    _figures[f"REST {fault} on api_sync_write_page"] += 1


def test_rest_write_page_failing_for_good_fails_cleanly_and_the_next_run_completes(supabase_project, tmp_path):
    settings = _rest_settings(supabase_project, tmp_path, SYNC_DB_RETRY_SECONDS="1")
    pairs = _integrations(settings, count=1)
    (client_id, credential_id), = pairs
    emu = supabase_project.emulator
    with _rest_poller(supabase_project, pairs) as poller, running(_engine(settings), RunParams(), 1) as out:
        _wait_rows(settings, client_id, 2 * PAGE)
        emu.fail_next[WRITE_PAGE] = 10_000
    summary = out["summary"]
    assert summary.failed == 1 and not summary.worker_errors
    failed = _result(settings, credential_id)
    assert "the database failed while storing a page of orders" in failed["error_message"]
    assert "PGRST000" in failed["error_message"] or "503" in failed["error_message"]
    committed = len(_stored(settings, client_id))
    assert 2 * PAGE <= committed < 80 and committed % PAGE == 0
    emu.fail_next[WRITE_PAGE] = 0
    orders_before = len([r for r in _stored(settings, client_id) if r[0] == "orders"])
    again = _engine(settings).run(RunParams(force=True), workers=1)
    assert again.failed == 0
    # From the last committed page: exactly the missing orders are new, nothing is written twice.
    assert again.results[0].streams["orders"].new == 60 - orders_before
    assert again.results[0].streams["orders"].updated == 0
    _check_complete(settings, client_id)
    assert not poller.partial
    _figures["REST 503 for good on api_sync_write_page"] += 1


def teardown_module(module):
    record("database faults", scenarios=sum(_figures.values()), survived=sum(_figures.values()),
           kinds=", ".join(f"{k} ×{v}" for k, v in sorted(_figures.items())), lost=0, duplicated=0)

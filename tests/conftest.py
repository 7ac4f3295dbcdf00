"""Shared fixtures: a real PostgreSQL schema per test session, and a fresh SQLite file per test."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

PG_DSN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Hypothesis (tests/test_bad_input.py): CI draws the same examples every run, so a submission lands or not on
# its own merits; a developer's run draws new ones each time and keeps exploring. HYPOTHESIS_PROFILE names
# either explicitly.
from hypothesis import settings as _hypothesis

_hypothesis.register_profile("ci", derandomize=True, database=None, print_blob=True)
_hypothesis.register_profile("explore", print_blob=True)
_hypothesis.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore"))


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """A DSN whose search_path is a new schema, dropped (with everything in it) afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_DSN else "?"
    try:
        yield f"{PG_DSN}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def pg_dsn():
    """A DSN on a schema shared by the whole test session."""
    if not _pg_available():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL not reachable at {PG_DSN} (REQUIRE_POSTGRES is set)")
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN}")
    with _fresh_schema() as dsn:
        yield dsn


@pytest.fixture
def fresh_pg_dsn(pg_dsn):
    """A DSN on a schema of its own for one test (tables do not leak between tests)."""
    with _fresh_schema() as dsn:
        yield dsn


@pytest.fixture(scope="session", autouse=True)
def no_orders_v0_calls():
    """Amazon removes the Orders API v0 on 2027-03-27: no test's sync may call it. The Amazon emulator
    answers v0 Orders requests as removed and counts them in a process-wide ledger; it must stay empty."""
    from emulators.amazon import V0_ORDERS_LEDGER

    yield V0_ORDERS_LEDGER
    calls = V0_ORDERS_LEDGER.counts()
    assert not calls, f"Orders API v0 operations were called during the tests: {calls}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The reliability suites' figures (tests/reliability.py), printed at the end of the run."""
    from .reliability import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)

"""PostgreSQL and settings helpers for the benchmarks: a fresh schema per measurement, dropped after."""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from typing import Iterator

import psycopg
from cryptography.fernet import Fernet

from sync.config import Settings
from sync.credentials import add_integration
from sync.store import open_store

PG_DSN = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") \
    or "postgresql://postgres@127.0.0.1:5432/test"
KEY = Fernet.generate_key().decode()


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A DSN whose search_path is a new schema; the schema is dropped on exit."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_DSN else "?"
    try:
        yield f"{PG_DSN}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def settings_for(dsn: str | None = None, sqlite_path: str | None = None, **extra: str) -> Settings:
    env = {"CREDENTIALS_ENCRYPTION_KEY": KEY, "SYNC_LOOKBACK_MINUTES": "0",
           "LOG_DIR": os.path.join(tempfile.gettempdir(), "api_sync_bench_logs")}
    if dsn:
        env["DATABASE_URL"] = dsn
    if sqlite_path:
        env["SQLITE_PATH"] = sqlite_path
    env.update(extra)
    return Settings.from_env(env, load_dotenv=False)


def add_integrations(settings: Settings, count: int = 1, **secrets: str) -> list[tuple[str, str]]:
    """`count` Shopify integrations, one client each; returns (client_id, credential_id) pairs."""
    store = open_store(settings)
    out = []
    try:
        store.ensure_schema()
        for n in range(count):
            client_id = str(uuid.uuid4())
            credential = add_integration(store, settings, client_id=client_id, platform="shopify",
                                         name=f"bench-{n}.myshopify.com",
                                         secrets={"shop_domain": f"bench-{n}.myshopify.com",
                                                  "access_token": "shpat_bench", "n": str(n), **secrets})
            out.append((client_id, credential))
    finally:
        store.close()
    return out

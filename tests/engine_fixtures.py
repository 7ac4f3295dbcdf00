"""Helpers shared by the engine tests: settings per store kind, adding integrations, reading rows back."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import psycopg
from cryptography.fernet import Fernet

from sync.config import Settings
from sync.credentials import add_integration
from sync.engine import SyncEngine
from sync.platforms import PlatformRegistry
from sync.store import Store
from sync.store import open_store as _open_store
from sync.store.memory import MemoryStore

KEY = Fernet.generate_key().decode()
SUPABASE_BACKING_DSN = "API_SYNC_TEST_SUPABASE_DB"  # tests only: the database behind the emulated REST API


MEMORY_STORE = "API_SYNC_TEST_MEMORY_STORE"  # tests only: which in-memory store the settings mean
_MEMORY: dict[str, MemoryStore] = {}


def make_settings(kind: str, tmp_path, pg_dsn: str | None = None, **extra: str) -> Settings:
    """Settings for a store of `kind`: postgres, sqlite, supabase, or memory (the engine's unit tests:
    one in-memory store per settings, which `open_store` below hands out)."""
    env = {"CREDENTIALS_ENCRYPTION_KEY": KEY, "LOG_DIR": str(tmp_path / "logs"), "SYNC_LOOKBACK_MINUTES": "0"}
    if kind == "memory":
        env[MEMORY_STORE] = str(uuid.uuid4())
        _MEMORY[env[MEMORY_STORE]] = MemoryStore()
    elif kind == "postgres":
        env["DATABASE_URL"] = pg_dsn
    elif kind == "supabase":
        # SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY come in `extra` (a PostgREST emulator's); the
        # database behind it is read directly by `query` to check what the REST store wrote.
        if pg_dsn:
            env[SUPABASE_BACKING_DSN] = pg_dsn
    else:
        env["SQLITE_PATH"] = str(tmp_path / "api_sync.db")
    env.update(extra)
    return Settings.from_env(env)


def env_of(settings: Settings) -> dict[str, str]:
    return dict(settings.env)


def store_kind(settings: Settings) -> str:
    return "memory" if MEMORY_STORE in settings.env else settings.store_kind


def open_store(settings: Settings) -> Store:
    """The settings' store: the in-memory one for `memory` settings, else a new connection."""
    if MEMORY_STORE in settings.env:
        return _MEMORY[settings.env[MEMORY_STORE]]
    return _open_store(settings)


def engine(settings: Settings, platforms: PlatformRegistry | None = None, **kwargs: Any) -> SyncEngine:
    """A SyncEngine on the settings' store (the in-memory one included)."""
    kwargs.setdefault("store_factory", lambda: open_store(settings))
    return SyncEngine(settings, platforms=platforms, **kwargs)


def add_client(settings: Settings, platform: str, secrets: dict[str, Any], *, client_id: str | None = None,
               name: str | None = None, with_table: bool = False) -> tuple[str, str]:
    """One integration of a new client (or of `client_id`), as `credentials add` stores it:
    (client_id, credential_id). `with_table`: its data table created at once."""
    client_id = client_id or str(uuid.uuid4())
    store = open_store(settings)
    try:
        store.ensure_schema()
        credential_id = add_integration(store, settings, client_id=client_id, platform=platform,
                                        name=name or platform, secrets=secrets)
        if with_table:
            store.ensure_data_table(client_id)
    finally:
        store.close()
    return client_id, credential_id


def add(settings: Settings, client_id: str | None = None, domain: str | None = None, **secrets: Any) -> tuple[str, str]:
    domain = domain or f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    return add_client(settings, "shopify", {"shop_domain": domain, "access_token": f"shpat_{uuid.uuid4().hex}",
                                            **secrets}, client_id=client_id, name=domain)


def query(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    if settings.store_kind in ("postgres", "supabase"):
        dsn = settings.database_url or settings.env[SUPABASE_BACKING_DSN]
        with psycopg.connect(dsn) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()
    conn = sqlite3.connect(settings.sqlite_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def data_rows(settings: Settings, client_id: str) -> list[tuple]:
    """(credential_id, data_type, external_id, data) of every stored record, as the store reads them."""
    store = open_store(settings)
    try:
        rows = list(store.iter_data(client_id, ("orders", "products", "customers", "inventory")))
    finally:
        store.close()
    return sorted(((r.credential_id, r.data_type, r.external_id, r.data) for r in rows), key=lambda r: r[1:3])


def integration_row(settings: Settings, credential_id: str) -> dict[str, Any]:
    store = open_store(settings)
    try:
        return store.get_integration(credential_id).__dict__
    finally:
        store.close()


def results(settings: Settings, credential_id: str) -> list[dict[str, Any]]:
    store = open_store(settings)
    try:
        rows = store.list_results(credential_id=credential_id)
    finally:
        store.close()
    for row in rows:
        if isinstance(row["data_types_synced"], str):
            row["data_types_synced"] = json.loads(row["data_types_synced"])
    return rows

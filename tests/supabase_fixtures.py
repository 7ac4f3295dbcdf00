"""Helpers for the Supabase REST store's tests: Supabase's API roles, the Supabase migration applied to a
fresh schema (nothing else sets it up), and a PostgREST emulator in front of it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from emulators.postgrest import PostgrestEmulator
from sync.config import Settings
from sync.store import migration

from .conftest import PG_DSN
from .engine_fixtures import make_settings

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sync" / "store" / "sql"
MIGRATION = ROOT / migration.MIGRATION  # the only file a Supabase project needs

# Supabase's API roles (every Supabase database has them): the gateway's keys map to these, and the
# functions file grants EXECUTE to service_role alone. service_role bypasses row level security.
_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN BYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another test process created it first
END $$;
"""


@dataclass
class SupabaseProject:
    """A fresh schema with the tables and functions, served by a PostgREST emulator."""

    dsn: str
    emulator: PostgrestEmulator
    service_key: str
    anon_key: str

    @property
    def url(self) -> str:
        return self.emulator.url

    def settings(self, tmp_path, **extra: str) -> Settings:
        env = {"SUPABASE_URL": self.url, "SUPABASE_SERVICE_ROLE_KEY": self.service_key,
               "SUPABASE_RETRY_BASE_SECONDS": "0.05", **extra}
        return make_settings("supabase", tmp_path, self.dsn, **env)


def ensure_roles() -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(_ROLES)


def install(dsn: str, *, functions: bool = True) -> None:
    """What a user does once: apply the Supabase migration (`supabase db push`, or the SQL editor).
    `functions=False`: the tables alone, as an older release's instructions left them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if functions:
            conn.execute(MIGRATION.read_text())
        else:
            conn.execute((SQL_DIR / "postgres_schema.sql").read_text())


@pytest.fixture
def supabase_project(fresh_pg_dsn):
    ensure_roles()
    install(fresh_pg_dsn)
    # JWT-shaped like legacy keys (the emulator checks the shape of a Bearer token, not a signature).
    service_key = f"eyJhbGciOiJIUzI1NiJ9.service-{secrets.token_hex(12)}.sig"
    anon_key = f"eyJhbGciOiJIUzI1NiJ9.anon-{secrets.token_hex(12)}.sig"
    with PostgrestEmulator(fresh_pg_dsn, keys={service_key: "service_role", anon_key: "anon"}) as emu:
        yield SupabaseProject(fresh_pg_dsn, emu, service_key, anon_key)

"""Which store a configuration means (SPEC section 1): DATABASE_URL, else Supabase REST, else SQLite."""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError
from .base import (AdminStore, CliStore, EngineStore, LeaseLost, LeaseStore, PageTransaction, SkuStore, StagedRow,
                   Store)


def open_store(settings: Settings) -> Store:
    kind = settings.store_kind
    if kind == "postgres":
        from .postgres import PostgresStore

        return PostgresStore(settings.database_url)  # type: ignore[arg-type]
    if kind == "supabase":
        from .supabase_rest import SupabaseStore

        return SupabaseStore.from_settings(settings)
    from .sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


__all__ = ["AdminStore", "CliStore", "ConfigError", "EngineStore", "LeaseLost", "LeaseStore", "PageTransaction",
           "SkuStore", "StagedRow", "Store", "open_store"]

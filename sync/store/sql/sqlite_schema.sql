-- API Sync tables (SPEC section 2) for the embedded SQLite store: the same names as on PostgreSQL.
-- uuid and timestamps are TEXT (ISO 8601, UTC, fixed width so that text order is time order),
-- jsonb is TEXT holding JSON, boolean is INTEGER 0/1. Columns missing from an older table are added
-- by the store after this file runs (SQLite has no ADD COLUMN IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS client_api_credentials (
    credential_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    platform_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
);

CREATE TABLE IF NOT EXISTS client_api_sync_results (
    result_id TEXT PRIMARY KEY,
    client_id TEXT,
    credential_id TEXT,
    platform_type TEXT
);

CREATE TABLE IF NOT EXISTS api_sync_runs (
    run_id TEXT PRIMARY KEY,
    triggered_by TEXT,
    params TEXT,
    status TEXT,
    started_at TEXT,
    finished_at TEXT,
    summary TEXT
);

CREATE TABLE IF NOT EXISTS api_sync_schema_version (
    version INTEGER NOT NULL
);

-- API Sync tables (SPEC section 2) for the embedded SQLite store: the same names as on PostgreSQL.
-- uuid and timestamps are TEXT (ISO 8601, UTC, fixed width so that text order is time order),
-- jsonb is TEXT holding JSON, boolean is INTEGER 0/1.
-- The one description of the tables: a table from an older version (the guide's first one had fewer
-- columns) gets every column it lacks, with the type and default written here (sync/store/sqlite.py
-- compares it with these statements); nothing is dropped or renamed.

CREATE TABLE IF NOT EXISTS client_api_credentials (
    credential_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    platform_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    display_name TEXT,
    credentials TEXT,
    is_active INTEGER DEFAULT 1,
    last_sync_at TEXT,
    next_sync_at TEXT,
    sync_frequency_hours INTEGER DEFAULT 24,
    error_message TEXT,
    sync_state TEXT DEFAULT '{}',
    consecutive_failures INTEGER DEFAULT 0,
    locked_by TEXT,
    locked_until TEXT,
    created_at TEXT,
    updated_at TEXT
);

CREATE TABLE IF NOT EXISTS client_api_sync_results (
    result_id TEXT PRIMARY KEY,
    client_id TEXT,
    credential_id TEXT,
    platform_type TEXT,
    run_id TEXT,
    records_fetched INTEGER DEFAULT 0,
    records_stored INTEGER DEFAULT 0,
    sync_duration_seconds REAL,
    success INTEGER,
    data_types_synced TEXT,
    sync_triggered_by TEXT,
    error_message TEXT,
    started_at TEXT,
    finished_at TEXT
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

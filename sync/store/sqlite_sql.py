"""Every SQL statement of the SQLite store, in one place (the base schema is in sql/sqlite_schema.sql)."""

SCHEMA_VERSION = 1

# Columns added to an older table (SQLite has no ADD COLUMN IF NOT EXISTS): name -> declaration.
CREDENTIAL_COLUMNS = {
    "client_id": "TEXT",
    "platform_type": "TEXT",
    "status": "TEXT DEFAULT 'pending'",
    "display_name": "TEXT",
    "credentials": "TEXT",
    "is_active": "INTEGER DEFAULT 1",
    "last_sync_at": "TEXT",
    "next_sync_at": "TEXT",
    "sync_frequency_hours": "INTEGER DEFAULT 24",
    "error_message": "TEXT",
    "sync_state": "TEXT DEFAULT '{}'",
    "consecutive_failures": "INTEGER DEFAULT 0",
    "locked_by": "TEXT",
    "locked_until": "TEXT",
    "created_at": "TEXT",
    "updated_at": "TEXT",
}
RESULT_COLUMNS = {
    "result_id": "TEXT",
    "client_id": "TEXT",
    "credential_id": "TEXT",
    "platform_type": "TEXT",
    "run_id": "TEXT",
    "records_fetched": "INTEGER DEFAULT 0",
    "records_stored": "INTEGER DEFAULT 0",
    "sync_duration_seconds": "REAL",
    "success": "INTEGER",
    "data_types_synced": "TEXT",
    "sync_triggered_by": "TEXT",
    "error_message": "TEXT",
    "started_at": "TEXT",
    "finished_at": "TEXT",
}
DATA_COLUMNS = {
    "credential_id": "TEXT",
    "platform_type": "TEXT",
    "data_type": "TEXT",
    "external_id": "TEXT",
    "data": "TEXT",
    "record_hash": "TEXT",
    "source_updated_at": "TEXT",
    "first_synced_at": "TEXT",
    "last_synced_at": "TEXT",
}

TABLE_COLUMNS = "SELECT name FROM pragma_table_info(?)"
ADD_COLUMN = "ALTER TABLE {table} ADD COLUMN {column} {decl}"

INDEXES = """
CREATE INDEX IF NOT EXISTS client_api_credentials_due_idx ON client_api_credentials (next_sync_at);
CREATE INDEX IF NOT EXISTS client_api_credentials_client_idx ON client_api_credentials (client_id);
CREATE INDEX IF NOT EXISTS client_api_sync_results_credential_idx ON client_api_sync_results (credential_id, started_at);
CREATE INDEX IF NOT EXISTS client_api_sync_results_run_idx ON client_api_sync_results (run_id);
"""

GET_SCHEMA_VERSION = "SELECT max(version) FROM api_sync_schema_version"
CLEAR_SCHEMA_VERSION = "DELETE FROM api_sync_schema_version"
SET_SCHEMA_VERSION = "INSERT INTO api_sync_schema_version (version) VALUES (?)"
TABLE_EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"

CREATE_DATA_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id TEXT,
    platform_type TEXT,
    data_type TEXT,
    external_id TEXT,
    data TEXT,
    record_hash TEXT,
    source_updated_at TEXT,
    first_synced_at TEXT,
    last_synced_at TEXT
)
"""
CREATE_DATA_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS {dedup_index} ON {table} (credential_id, data_type, external_id);
CREATE INDEX IF NOT EXISTS {updated_index} ON {table} (data_type, source_updated_at);
"""

INTEGRATION_COLUMNS = (
    "credential_id, client_id, platform_type, display_name, credentials, status, "
    "COALESCE(is_active, 1) AS is_active, last_sync_at, next_sync_at, "
    "COALESCE(sync_frequency_hours, 24) AS sync_frequency_hours, error_message, "
    "COALESCE(sync_state, '{}') AS sync_state, COALESCE(consecutive_failures, 0) AS consecutive_failures, "
    "locked_by, locked_until, created_at, updated_at"
)

INSERT_INTEGRATION = """
INSERT INTO client_api_credentials (
    credential_id, client_id, platform_type, display_name, credentials, status, is_active,
    next_sync_at, sync_frequency_hours, sync_state, consecutive_failures, created_at, updated_at)
VALUES (:credential_id, :client_id, :platform_type, :display_name, :credentials, :status, :is_active,
        :next_sync_at, :sync_frequency_hours, '{}', 0, :now, :now)
"""

GET_INTEGRATION = f"SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials WHERE credential_id = ?"

LIST_INTEGRATIONS = f"""
SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials
WHERE (:client_id IS NULL OR client_id = :client_id) AND (:platform IS NULL OR platform_type = :platform)
ORDER BY client_id, platform_type, created_at, credential_id
"""

DELETE_INTEGRATION = "DELETE FROM client_api_credentials WHERE credential_id = ?"
SET_CREDENTIALS_BLOB = "UPDATE client_api_credentials SET credentials = ?, updated_at = ? WHERE credential_id = ?"
GET_UNLEASED_STATE = """
SELECT sync_state, next_sync_at FROM client_api_credentials
WHERE credential_id = ? AND (locked_until IS NULL OR locked_until <= ?)
"""
SET_STATE_AND_NEXT = "UPDATE client_api_credentials SET sync_state = ?, next_sync_at = ?, updated_at = ? WHERE credential_id = ?"

_DUE_FILTER = """
COALESCE(is_active, 1)
  AND (:force OR next_sync_at IS NULL OR next_sync_at <= :now)
  AND (locked_until IS NULL OR locked_until <= :now)
  AND (:client_id IS NULL OR client_id = :client_id)
  AND (:platform IS NULL OR platform_type = :platform)
"""

LIST_DUE = f"""
SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials WHERE {_DUE_FILTER}
ORDER BY next_sync_at IS NOT NULL, next_sync_at, credential_id
"""

# Run inside BEGIN IMMEDIATE: SQLite's single writer lock makes select-then-update atomic.
CLAIM_CANDIDATES = f"""
SELECT credential_id, locked_by FROM client_api_credentials WHERE {_DUE_FILTER}
ORDER BY next_sync_at IS NOT NULL, next_sync_at, credential_id
"""
CLAIM = "UPDATE client_api_credentials SET locked_by = ?, locked_until = ? WHERE credential_id = ?"

RENEW_LEASE = "UPDATE client_api_credentials SET locked_until = ? WHERE credential_id = ? AND locked_by = ?"

STORED_VERSIONS = """
SELECT external_id, source_updated_at FROM {table}
WHERE credential_id = ? AND data_type = ? AND external_id IN ({marks})
"""
STORED_HASHES = """
SELECT external_id, record_hash FROM {table}
WHERE credential_id = ? AND data_type = ? AND external_id IN ({marks})
"""

UPSERT = """
INSERT INTO {table} (credential_id, platform_type, data_type, external_id, data, record_hash,
                     source_updated_at, first_synced_at, last_synced_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (credential_id, data_type, external_id) DO UPDATE
SET data = excluded.data, record_hash = excluded.record_hash,
    source_updated_at = excluded.source_updated_at, last_synced_at = excluded.last_synced_at
WHERE record_hash IS NOT excluded.record_hash
"""

GET_SYNC_STATE = "SELECT sync_state FROM client_api_credentials WHERE credential_id = ? AND locked_by = ?"
SAVE_STATE = """
UPDATE client_api_credentials SET sync_state = ?, locked_until = ? WHERE credential_id = ? AND locked_by = ?
"""

INSERT_RESULT = """
INSERT INTO client_api_sync_results (
    result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
    sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at, finished_at)
VALUES (:result_id, :run_id, :client_id, :credential_id, :platform_type, :records_fetched, :records_stored,
        :sync_duration_seconds, :success, :data_types_synced, :triggered_by, :error_message, :started_at,
        :finished_at)
"""

FINISH_INTEGRATION = """
UPDATE client_api_credentials
SET status = :status, error_message = :error_message, consecutive_failures = :consecutive_failures,
    last_sync_at = COALESCE(:last_sync_at, last_sync_at), next_sync_at = :next_sync_at,
    locked_by = NULL, locked_until = NULL, updated_at = :now
WHERE credential_id = :credential_id AND locked_by = :worker_id
"""

START_RUN = """
INSERT OR IGNORE INTO api_sync_runs (run_id, triggered_by, params, status, started_at)
VALUES (?, ?, ?, 'running', ?)
"""
# See postgres_sql.CLOSE_ABANDONED_RUNS.
CLOSE_ABANDONED_RUNS = """
UPDATE api_sync_runs
SET status = 'failed', finished_at = :now,
    summary = json_set(COALESCE(summary, '{}'), '$.error', :message)
WHERE status = 'running' AND started_at < :older_than
  AND NOT EXISTS (
      SELECT 1 FROM client_api_credentials c
      WHERE c.locked_until > :now AND c.locked_by LIKE '%:' || substr(api_sync_runs.run_id, 1, 8) || ':%')
"""
FINISH_RUN = "UPDATE api_sync_runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?"
GET_RUN = """
SELECT run_id, triggered_by, params, status, started_at, finished_at, summary FROM api_sync_runs WHERE run_id = ?
"""
LIST_RESULTS = """
SELECT result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
       sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at, finished_at
FROM client_api_sync_results
WHERE (:credential_id IS NULL OR credential_id = :credential_id) AND (:run_id IS NULL OR run_id = :run_id)
ORDER BY started_at, result_id
"""

# -- SKU analysis ---------------------------------------------------------------------------------------
LIST_CLIENT_IDS = "SELECT DISTINCT lower(client_id) FROM client_api_credentials ORDER BY 1"

# Keyset pagination by the primary key: each batch is a short read, and a row an upsert changes keeps
# its id, so a concurrent sync never makes a row appear twice or vanish from the scan. The unary `+`
# keeps the planner off the (data_type, ...) index: through it, every batch would sort all the client's
# rows of those types again (quadratic); walking the key and filtering is linear.
DATA_BATCH = """
SELECT id, credential_id, platform_type, data_type, external_id, data FROM {table}
WHERE id > ? AND +data_type IN ({marks})
ORDER BY id LIMIT ?
"""

SKU_CACHE_COLUMNS = {
    "sku": "TEXT",
    "title": "TEXT",
    "platforms": "TEXT",
    "units_sold_7d": "INTEGER",
    "units_sold_30d": "INTEGER",
    "units_sold_90d": "INTEGER",
    "orders_30d": "INTEGER",
    "revenue_30d": "NUMERIC",
    "currency_code": "TEXT",
    "inventory_available": "INTEGER",
    "avg_daily_units_30d": "NUMERIC",
    "days_of_cover": "NUMERIC",
    "last_sold_at": "TEXT",
    "computed_at": "TEXT",
}

CREATE_SKU_CACHE = """
CREATE TABLE IF NOT EXISTS {table} (
    sku TEXT PRIMARY KEY,
    title TEXT,
    platforms TEXT,
    units_sold_7d INTEGER,
    units_sold_30d INTEGER,
    units_sold_90d INTEGER,
    orders_30d INTEGER,
    revenue_30d NUMERIC,
    currency_code TEXT,
    inventory_available INTEGER,
    avg_daily_units_30d NUMERIC,
    days_of_cover NUMERIC,
    last_sold_at TEXT,
    computed_at TEXT
)
"""

CLEAR_SKU_CACHE = "DELETE FROM {table}"

INSERT_SKU_ROW = """
INSERT INTO {table} (sku, title, platforms, units_sold_7d, units_sold_30d, units_sold_90d, orders_30d,
                     revenue_30d, currency_code, inventory_available, avg_daily_units_30d, days_of_cover,
                     last_sold_at, computed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

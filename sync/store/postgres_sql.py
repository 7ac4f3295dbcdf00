"""Every SQL statement of the PostgreSQL store, in one place (the schema is in sql/postgres_schema.sql).

Statements that name a per-client table take it through `.format(table=quote_ident(name))`; the name
was validated by `sync.ids`. Everything else is a bound parameter.
"""

SCHEMA_VERSION = 1

# pg_advisory_xact_lock key: several cron processes may start on a fresh database at once.
INIT_LOCK_KEY = 0x4150_4953_594E  # "APISYN"

INTEGRATION_COLUMNS = (
    "credential_id::text, client_id::text, platform_type, display_name, credentials, status, "
    "COALESCE(is_active, true) AS is_active, last_sync_at, next_sync_at, "
    "COALESCE(sync_frequency_hours, 24) AS sync_frequency_hours, error_message, "
    "COALESCE(sync_state, '{}'::jsonb) AS sync_state, COALESCE(consecutive_failures, 0) AS consecutive_failures, "
    "locked_by, locked_until, created_at, updated_at"
)

GET_SCHEMA_VERSION = """
SELECT max(version) FROM api_sync_schema_version
"""

CLEAR_SCHEMA_VERSION = "DELETE FROM api_sync_schema_version"
SET_SCHEMA_VERSION = "INSERT INTO api_sync_schema_version (version) VALUES (%(version)s)"

TABLE_EXISTS = "SELECT to_regclass(%s) IS NOT NULL AS present"

# Creating or altering a per-client table: concurrent creators of one table queue on this lock (keyed
# by the table's name) instead of racing, since CREATE TABLE IF NOT EXISTS is not safe against itself.
TABLE_DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"

DATA_TABLE_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = %s
"""

# A table this project creates gets row-level security with no policy: on Supabase, tables in `public` are
# otherwise readable by anyone holding the public anon key. The owner (this job) and service-role
# connections are not affected; a dashboard reading as another role needs a policy of its own.
# Tables that already existed are left as they are, so a dashboard that reads them keeps working.
ENABLE_RLS = "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"

CREATE_DATA_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigserial PRIMARY KEY,
    credential_id uuid,
    platform_type text,
    data_type text,
    external_id text,
    data jsonb,
    record_hash text,
    source_updated_at timestamptz,
    first_synced_at timestamptz DEFAULT now(),
    last_synced_at timestamptz DEFAULT now()
)
"""

# For a table the guide's first version created with other columns: add ours, keep theirs.
ADD_DATA_COLUMN = "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type}"
DATA_COLUMN_TYPES = {
    "credential_id": "uuid",
    "platform_type": "text",
    "data_type": "text",
    "external_id": "text",
    "data": "jsonb",
    "record_hash": "text",
    "source_updated_at": "timestamptz",
    "first_synced_at": "timestamptz DEFAULT now()",
    "last_synced_at": "timestamptz DEFAULT now()",
}

CREATE_DATA_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS {dedup_index} ON {table} (credential_id, data_type, external_id);
CREATE INDEX IF NOT EXISTS {updated_index} ON {table} (data_type, source_updated_at)
"""

INSERT_INTEGRATION = """
INSERT INTO client_api_credentials (
    credential_id, client_id, platform_type, display_name, credentials, status, is_active,
    next_sync_at, sync_frequency_hours, sync_state, consecutive_failures, created_at, updated_at)
VALUES (%(credential_id)s, %(client_id)s, %(platform_type)s, %(display_name)s, %(credentials)s, %(status)s,
        %(is_active)s, %(next_sync_at)s, %(sync_frequency_hours)s, '{}'::jsonb, 0, %(now)s, %(now)s)
"""

GET_INTEGRATION = f"SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials WHERE credential_id = %s"

LIST_INTEGRATIONS = f"""
SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials
WHERE (%(client_id)s::uuid IS NULL OR client_id = %(client_id)s::uuid)
  AND (%(platform)s::text IS NULL OR platform_type = %(platform)s::text)
ORDER BY client_id, platform_type, created_at, credential_id
"""

DELETE_INTEGRATION = "DELETE FROM client_api_credentials WHERE credential_id = %s"

SET_CREDENTIALS_BLOB = """
UPDATE client_api_credentials SET credentials = %s, updated_at = now() WHERE credential_id = %s
"""

# Never under a live lease: the running sync would write its cursor back at its next page.
RESET_CURSORS = """
UPDATE client_api_credentials
SET sync_state = CASE WHEN jsonb_typeof(sync_state) = 'object' THEN sync_state - %(data_types)s::text[]
                      ELSE '{}'::jsonb END,
    next_sync_at = CASE WHEN %(due_now)s THEN NULL ELSE next_sync_at END,
    updated_at = %(now)s
WHERE credential_id = %(credential_id)s AND (locked_until IS NULL OR locked_until <= %(now)s)
"""

_DUE_FILTER = """
COALESCE(is_active, true)
  AND (%(force)s OR next_sync_at IS NULL OR next_sync_at <= %(now)s)
  AND (locked_until IS NULL OR locked_until <= %(now)s)
  AND (%(client_id)s::uuid IS NULL OR client_id = %(client_id)s::uuid)
  AND (%(platform)s::text IS NULL OR platform_type = %(platform)s::text)
"""

LIST_DUE = f"""
SELECT {INTEGRATION_COLUMNS} FROM client_api_credentials
WHERE {_DUE_FILTER}
ORDER BY next_sync_at NULLS FIRST, credential_id
"""

# SKIP LOCKED: concurrent claimers (other threads, processes, machines) pass over the row
# another one is claiming instead of waiting for it, and never get the same row.
CLAIM_NEXT = f"""
WITH due AS (
    SELECT credential_id, locked_by AS previous_holder FROM client_api_credentials
    WHERE {_DUE_FILTER}
      AND NOT (credential_id = ANY(%(exclude)s::uuid[]))
    ORDER BY next_sync_at NULLS FIRST, credential_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE client_api_credentials c
SET locked_by = %(worker_id)s, locked_until = %(lease_until)s
FROM due WHERE c.credential_id = due.credential_id
RETURNING {INTEGRATION_COLUMNS.replace("credential_id::text", "c.credential_id::text")}, due.previous_holder
"""

RENEW_LEASE = """
UPDATE client_api_credentials SET locked_until = %s
WHERE credential_id = %s AND locked_by = %s
"""

# --- one page of one data type (sync/store/postgres_page.py) ---------------------------------------

# One unique-index probe per id. The obvious `external_id = ANY(%s)` lets the planner, without
# statistics on a table that was just filled (autovacuum analyzes it a minute later, if ever during a
# first load), scan every row of the integration for every page: quadratic in the shop's size.
# OFFSET 0 keeps the lateral subquery from being flattened into that plan.
_PROBE = """
SELECT s.external_id, s.{column} FROM unnest(%s::text[]) AS u(external_id)
CROSS JOIN LATERAL (
    SELECT external_id, {column} FROM {{table}}
    WHERE credential_id = %s AND data_type = %s AND external_id = u.external_id OFFSET 0
) AS s
"""
STORED_HASHES = _PROBE.format(column="record_hash")

COPY_NEW = """
COPY {table} (credential_id, platform_type, data_type, external_id, data, record_hash, source_updated_at,
              first_synced_at, last_synced_at) FROM STDIN
"""

UPSERT_ARRAYS = """
INSERT INTO {table} AS t (credential_id, platform_type, data_type, external_id, data, record_hash,
                          source_updated_at, first_synced_at, last_synced_at)
SELECT %(credential_id)s, %(platform)s, %(data_type)s, u.external_id, u.data::jsonb, u.record_hash,
       u.source_updated_at, %(now)s, %(now)s
FROM unnest(%(external_ids)b::text[], %(data)b::text[], %(hashes)b::text[], %(updated)b::timestamptz[])
     AS u(external_id, data, record_hash, source_updated_at)
ON CONFLICT (credential_id, data_type, external_id) DO UPDATE
SET data = EXCLUDED.data, record_hash = EXCLUDED.record_hash,
    source_updated_at = EXCLUDED.source_updated_at, last_synced_at = EXCLUDED.last_synced_at
WHERE t.record_hash IS DISTINCT FROM EXCLUDED.record_hash
"""

# Checks the lease and moves the cursor in the page's transaction: a worker that lost its lease
# cannot commit, so two workers can never both write one integration's data.
SAVE_STATE = """
UPDATE client_api_credentials
SET sync_state = CASE WHEN %(state)s::jsonb IS NULL THEN sync_state
                      -- a hand-edited or legacy value that is not an object starts over as one
                      ELSE jsonb_set(CASE WHEN jsonb_typeof(sync_state) = 'object' THEN sync_state
                                          ELSE '{}'::jsonb END,
                                     ARRAY[%(data_type)s], %(state)s::jsonb) END,
    locked_until = %(lease_until)s
WHERE credential_id = %(credential_id)s AND locked_by = %(worker_id)s
"""

# The same probe, for the fetchers' "stored already, and which version?" question.
STORED_VERSIONS = _PROBE.format(column="source_updated_at")

INSERT_RESULT = """
INSERT INTO client_api_sync_results (
    result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
    sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at, finished_at)
VALUES (%(result_id)s, %(run_id)s, %(client_id)s, %(credential_id)s, %(platform_type)s, %(records_fetched)s,
        %(records_stored)s, %(sync_duration_seconds)s, %(success)s, %(data_types_synced)s, %(triggered_by)s,
        %(error_message)s, %(started_at)s, %(finished_at)s)
"""

# A worker that lost its lease still records its attempt, but leaves the schedule to the new holder.
FINISH_INTEGRATION = """
UPDATE client_api_credentials
SET status = %(status)s, error_message = %(error_message)s, consecutive_failures = %(consecutive_failures)s,
    last_sync_at = COALESCE(%(last_sync_at)s, last_sync_at), next_sync_at = %(next_sync_at)s,
    locked_by = NULL, locked_until = NULL, updated_at = %(now)s
WHERE credential_id = %(credential_id)s AND locked_by = %(worker_id)s
"""

START_RUN = """
INSERT INTO api_sync_runs (run_id, triggered_by, params, status, started_at)
VALUES (%s, %s, %s, 'running', %s)
ON CONFLICT (run_id) DO NOTHING
"""

# A run whose process died stays `running` for ever. A run is taken as abandoned once it is older than a
# lease and none of its workers (their ids carry the run id's first 8 characters) holds a live lease.
# A live run caught between two claims by this would be corrected by its own finish_run.
CLOSE_ABANDONED_RUNS = """
UPDATE api_sync_runs r
SET status = 'failed', finished_at = %(now)s,
    summary = COALESCE(r.summary, '{}'::jsonb) || jsonb_build_object('error', %(message)s::text)
WHERE r.status = 'running' AND r.started_at < %(older_than)s
  AND NOT EXISTS (
      SELECT 1 FROM client_api_credentials c
      WHERE c.locked_until > %(now)s AND c.locked_by LIKE '%%:' || left(r.run_id::text, 8) || ':%%')
"""

FINISH_RUN = """
UPDATE api_sync_runs SET status = %s, finished_at = %s, summary = %s WHERE run_id = %s
"""

GET_RUN = """
SELECT run_id::text, triggered_by, params, status, started_at, finished_at, summary
FROM api_sync_runs WHERE run_id = %s
"""

LIST_RESULTS = """
SELECT result_id::text, run_id::text, client_id::text, credential_id::text, platform_type, records_fetched,
       records_stored, sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message,
       started_at, finished_at
FROM client_api_sync_results
WHERE (%(credential_id)s::uuid IS NULL OR credential_id = %(credential_id)s::uuid)
  AND (%(run_id)s::uuid IS NULL OR run_id = %(run_id)s::uuid)
ORDER BY started_at, result_id
"""

# -- SKU analysis ---------------------------------------------------------------------------------------
LIST_CLIENT_IDS = "SELECT DISTINCT client_id::text FROM client_api_credentials ORDER BY 1"

# Read in ranges of the primary key: each batch is a short statement (fine behind Supabase's transaction
# pooler, unlike a server-side cursor) over at most `span` ids, whatever plan PostgreSQL picks. (A keyset
# `id > last ... ORDER BY id LIMIT n` lets the planner, without statistics on a freshly filled table,
# sort every remaining row for each batch: quadratic.) A row an upsert changes keeps its id, so a
# concurrent sync never makes a row appear twice or vanish from the scan.
DATA_ID_BOUNDS = "SELECT min(id) AS low, max(id) AS high FROM {table}"
DATA_RANGE = """
SELECT id, credential_id::text, platform_type, data_type, external_id, data FROM {table}
WHERE id > %s AND id <= %s AND data_type = ANY(%s)
ORDER BY id
"""

CREATE_SKU_CACHE = """
CREATE TABLE IF NOT EXISTS {table} (
    sku text PRIMARY KEY,
    title text,
    platforms jsonb,
    units_sold_7d integer,
    units_sold_30d integer,
    units_sold_90d integer,
    orders_30d integer,
    revenue_30d numeric,
    currency_code text,
    inventory_available integer,
    avg_daily_units_30d numeric,
    days_of_cover numeric,
    last_sold_at timestamptz,
    computed_at timestamptz
)
"""

# For a cache table the guide's first version created with other columns: add ours, keep theirs.
SKU_CACHE_COLUMN_TYPES = {
    "title": "text",
    "platforms": "jsonb",
    "units_sold_7d": "integer",
    "units_sold_30d": "integer",
    "units_sold_90d": "integer",
    "orders_30d": "integer",
    "revenue_30d": "numeric",
    "currency_code": "text",
    "inventory_available": "integer",
    "avg_daily_units_30d": "numeric",
    "days_of_cover": "numeric",
    "last_sold_at": "timestamptz",
    "computed_at": "timestamptz",
}
ADD_SKU_CACHE_COLUMN = "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type}"

CLEAR_SKU_CACHE = "DELETE FROM {table}"

INSERT_SKU_ROW = """
INSERT INTO {table} (sku, title, platforms, units_sold_7d, units_sold_30d, units_sold_90d, orders_30d,
                     revenue_30d, currency_code, inventory_available, avg_daily_units_30d, days_of_cover,
                     last_sold_at, computed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

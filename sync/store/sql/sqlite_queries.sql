-- The named statements of the SQLite store (sync/store/sqlite.py), loaded by name by
-- sync/store/statements.py. File format, one block per statement:
--     -- statement_name --
--     -- what it does (comment lines)
--     the statement(s), with :name parameters; {table} is a per-client table's quoted name
-- A block of several statements runs in one write transaction, each with the same parameters.
-- Lists are passed as JSON text and read with json_each. The tables are in sqlite_schema.sql.

-- open --
-- Every connection: WAL lets the dashboard read while a sync writes; a writer waits up to a minute
-- for another one's lock.
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA busy_timeout=60000

-- begin_write --
-- Every write transaction: the writer lock is taken at once, so select-then-update is atomic across
-- threads and processes on the same file.
BEGIN IMMEDIATE

-- list_tables --
SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name

-- schema_present --
SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'api_sync_schema_version'

-- schema_version --
SELECT max(version) FROM api_sync_schema_version

-- table_columns --
SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(:table)

-- add_column --
-- Completing a table an older version made: {column} and {declaration} come from the schema files.
ALTER TABLE {table} ADD COLUMN {column} {declaration}

-- indexes --
CREATE INDEX IF NOT EXISTS client_api_credentials_due_idx ON client_api_credentials (next_sync_at);
CREATE INDEX IF NOT EXISTS client_api_credentials_client_idx ON client_api_credentials (client_id);
CREATE INDEX IF NOT EXISTS client_api_sync_results_credential_idx ON client_api_sync_results (credential_id, started_at);
CREATE INDEX IF NOT EXISTS client_api_sync_results_run_idx ON client_api_sync_results (run_id)

-- key_results --
-- The guide's first results table had no result_id: give the old rows one (a random UUID each, and a
-- new one to every copy of a duplicate but the first) and make it unique, the key SQLite can add to an
-- existing table.
UPDATE client_api_sync_results SET result_id = lower(
        hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
        || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))
WHERE result_id IS NULL OR rowid NOT IN (SELECT min(rowid) FROM client_api_sync_results GROUP BY result_id);
CREATE UNIQUE INDEX IF NOT EXISTS client_api_sync_results_result_id_key ON client_api_sync_results (result_id)

-- set_schema_version --
DELETE FROM api_sync_schema_version;
INSERT INTO api_sync_schema_version (version) VALUES (:version)

-- create_data_table --
-- A client's data table (SPEC section 2). Add a column here and an older table gets it too.
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
    last_synced_at TEXT,
    deleted_at TEXT
)

-- create_data_indexes --
CREATE UNIQUE INDEX IF NOT EXISTS {dedup_index} ON {table} (credential_id, data_type, external_id);
CREATE INDEX IF NOT EXISTS {updated_index} ON {table} (data_type, source_updated_at);
-- Only the rows marked deleted (few): the audit's live count after every sync is the dedup index's count
-- minus this one's, read from the two indexes alone. Counting `deleted_at IS NULL` in the table itself
-- follows each row's overflow pages to its last column (about 0.1 s per 50,000 records of 2 KB).
CREATE INDEX IF NOT EXISTS {deleted_index} ON {table} (credential_id, data_type) WHERE deleted_at IS NOT NULL

-- insert_integration --
INSERT INTO client_api_credentials (
    credential_id, client_id, platform_type, display_name, credentials, status, is_active,
    next_sync_at, sync_frequency_hours, sync_state, consecutive_failures, created_at, updated_at)
VALUES (:credential_id, :client_id, :platform_type, :display_name, :credentials, :status, :is_active,
        :next_sync_at, :sync_frequency_hours, '{}', 0, :now, :now)

-- get_integration --
SELECT * FROM client_api_credentials WHERE credential_id = :credential_id

-- list_integrations --
SELECT * FROM client_api_credentials
WHERE (:client_id IS NULL OR client_id = :client_id) AND (:platform IS NULL OR platform_type = :platform)
ORDER BY client_id, platform_type, created_at, credential_id

-- delete_integration --
DELETE FROM client_api_credentials WHERE credential_id = :credential_id

-- set_credentials --
UPDATE client_api_credentials SET credentials = :credentials, updated_at = :now WHERE credential_id = :credential_id

-- reset_cursors --
-- See api_sync_reset_cursors in postgres_functions.sql: never under a live lease (the running sync would
-- write its cursor back at its next page). The other cursors are copied as they are.
UPDATE client_api_credentials
SET sync_state = CASE WHEN json_type(sync_state) = 'object' THEN (
        SELECT json_group_object(key, CASE WHEN type IN ('object', 'array') THEN json(value)
                                           WHEN type IN ('true', 'false', 'null') THEN json(type) ELSE value END)
        FROM json_each(client_api_credentials.sync_state)
        WHERE key NOT IN (SELECT value FROM json_each(:data_types)))
    ELSE '{}' END,
    next_sync_at = CASE WHEN :due_now THEN NULL ELSE next_sync_at END,
    updated_at = :now
WHERE credential_id = :credential_id AND (locked_until IS NULL OR locked_until <= :now)

-- list_due --
-- SPEC section 3's "due" (see api_sync_is_due in postgres_functions.sql).
SELECT * FROM client_api_credentials
WHERE COALESCE(is_active, 1)
  AND (:force OR next_sync_at IS NULL OR next_sync_at <= :now)
  AND (locked_until IS NULL OR locked_until <= :now)
  AND (:client_id IS NULL OR client_id = :client_id)
  AND (:platform IS NULL OR platform_type = :platform)
  AND credential_id NOT IN (SELECT value FROM json_each(COALESCE(:exclude, '[]')))
ORDER BY next_sync_at IS NOT NULL, next_sync_at, credential_id
LIMIT COALESCE(:limit, -1)

-- claim --
-- Run inside BEGIN IMMEDIATE, after list_due found the row: SQLite's single writer lock makes
-- select-then-update atomic.
UPDATE client_api_credentials SET locked_by = :worker_id, locked_until = :lease_until
WHERE credential_id = :credential_id

-- renew_lease --
UPDATE client_api_credentials SET locked_until = :lease_until
WHERE credential_id = :credential_id AND locked_by = :worker_id

-- acquire_lease --
-- See api_sync_acquire_lease in postgres_functions.sql.
UPDATE client_api_credentials SET locked_by = :worker_id, locked_until = :lease_until
WHERE credential_id = :credential_id AND (locked_until IS NULL OR locked_until <= :now OR locked_by = :worker_id)

-- release_lease --
UPDATE client_api_credentials SET locked_by = NULL, locked_until = NULL
WHERE credential_id = :credential_id AND locked_by = :worker_id

-- lease_holders --
SELECT json_group_array(DISTINCT locked_by) FROM client_api_credentials
WHERE locked_until > :now AND locked_by IS NOT NULL

-- stored_hashes --
-- A row marked deleted has no hash here: a record that comes back is written again (as changed), which
-- clears its deleted_at (see api_sync_stored in postgres_functions.sql).
SELECT external_id, CASE WHEN deleted_at IS NULL THEN record_hash END FROM {table}
WHERE credential_id = :credential_id AND data_type = :data_type
  AND external_id IN (SELECT value FROM json_each(:external_ids))

-- stored_versions --
SELECT external_id, CASE WHEN deleted_at IS NULL THEN source_updated_at END AS source_updated_at FROM {table}
WHERE credential_id = :credential_id AND data_type = :data_type
  AND external_id IN (SELECT value FROM json_each(:external_ids))

-- upsert_rows --
-- New and changed rows alike, up to ROWS_PER_STATEMENT rows of nine values a statement (sqlite.py says why);
-- an unchanged hash is not written, unless the row was marked deleted: a record that comes back is live again.
INSERT INTO {table} (credential_id, platform_type, data_type, external_id, data, record_hash,
                     source_updated_at, first_synced_at, last_synced_at)
VALUES {rows}
ON CONFLICT (credential_id, data_type, external_id) DO UPDATE
SET data = excluded.data, record_hash = excluded.record_hash,
    source_updated_at = excluded.source_updated_at, last_synced_at = excluded.last_synced_at, deleted_at = NULL
WHERE record_hash IS NOT excluded.record_hash OR deleted_at IS NOT NULL

-- save_state --
-- Checks the lease and moves the cursor in the page's transaction (no row: the lease was lost).
UPDATE client_api_credentials
-- json_set through a quoted path, the fast way (it runs with every page); a path cannot quote a data type
-- holding '"' (json_set then silently does nothing), so for such a name the object is rebuilt from its
-- members instead. json() gives objects, arrays and booleans back their JSON type, which a subquery drops.
SET sync_state = CASE WHEN :state IS NULL THEN sync_state
    WHEN instr(:data_type, '"') = 0 THEN
        json_set(CASE WHEN json_type(sync_state) = 'object' THEN sync_state ELSE '{}' END,
                 '$."' || :data_type || '"', json(:state))
    ELSE (
        SELECT json_group_object(key, CASE kind WHEN 'object' THEN json(raw) WHEN 'array' THEN json(raw)
                                                WHEN 'true' THEN json('true') WHEN 'false' THEN json('false')
                                                ELSE value END)
        -- a hand-edited or legacy value that is not an object starts over as one
        FROM (SELECT key, value, type AS kind, value AS raw
              FROM json_each(CASE WHEN json_type(sync_state) = 'object' THEN sync_state ELSE '{}' END)
              WHERE key <> :data_type
              UNION ALL SELECT :data_type, json_extract(:state, '$'), json_type(:state), :state)) END,
    locked_until = :lease_until
WHERE credential_id = :credential_id AND locked_by = :worker_id

-- finish_attempt --
-- A worker that lost its lease still records its attempt, but leaves the schedule to the new holder.
INSERT INTO client_api_sync_results (
    result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
    sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at, finished_at)
VALUES (:result_id, :run_id, :client_id, :credential_id, :platform_type, :records_fetched, :records_stored,
        :sync_duration_seconds, :success, :data_types_synced, :triggered_by, :error_message, :started_at,
        :finished_at)
-- written again after a lost acknowledgement (sync/reconnect.py): the row is there already
ON CONFLICT (result_id) DO NOTHING;
UPDATE client_api_credentials
SET status = :status, error_message = :schedule_error, consecutive_failures = :consecutive_failures,
    last_sync_at = COALESCE(:last_sync_at, last_sync_at), next_sync_at = :next_sync_at,
    locked_by = NULL, locked_until = NULL, updated_at = :finished_at
WHERE credential_id = :credential_id AND locked_by = :worker_id

-- start_run --
INSERT OR IGNORE INTO api_sync_runs (run_id, triggered_by, params, status, started_at)
VALUES (:run_id, :triggered_by, :params, 'running', :started_at)

-- close_abandoned_runs --
-- See api_sync_close_abandoned_runs in postgres_functions.sql.
UPDATE api_sync_runs
SET status = 'failed', finished_at = :now, summary = json_set(COALESCE(summary, '{}'), '$.error', :message)
WHERE status = 'running' AND started_at < :older_than
  AND run_id NOT IN (SELECT value FROM json_each(COALESCE(:live_runs, '[]')))

-- finish_run --
UPDATE api_sync_runs SET status = :status, finished_at = :finished_at, summary = :summary WHERE run_id = :run_id

-- get_run --
SELECT run_id, triggered_by, params, status, started_at, finished_at, summary FROM api_sync_runs
WHERE run_id = :run_id

-- list_results --
SELECT result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
       sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at, finished_at
FROM client_api_sync_results
WHERE (:credential_id IS NULL OR credential_id = :credential_id) AND (:run_id IS NULL OR run_id = :run_id)
ORDER BY started_at, result_id

-- latest_results --
-- See api_sync_latest_results in postgres_functions.sql.
SELECT json_group_array(json_object('credential_id', credential_id, 'started_at', started_at, 'success',
                                    json(CASE WHEN success THEN 'true' ELSE 'false' END),
                                    'data_types_synced', json(COALESCE(data_types_synced, 'null'))))
FROM (SELECT credential_id, started_at, success, data_types_synced,
             row_number() OVER (PARTITION BY credential_id ORDER BY started_at DESC, result_id DESC) AS n
      FROM client_api_sync_results WHERE credential_id IS NOT NULL)
WHERE n = 1

-- list_client_ids --
SELECT json_group_array(id) FROM (SELECT DISTINCT lower(client_id) AS id FROM client_api_credentials ORDER BY 1)

-- data_batch --
-- The live rows (deleted ones left out), by keyset pagination on the primary key: each batch is a short read, and a row an upsert changes keeps
-- its id, so a concurrent sync never makes a row appear twice or vanish from the scan. The unary `+`
-- keeps the planner off the (data_type, ...) index: through it, every batch would sort all the client's
-- rows of those types again (quadratic); walking the key and filtering is linear.
SELECT id, credential_id, platform_type, data_type, external_id, data FROM {table}
WHERE id > :after_id AND +data_type IN (SELECT value FROM json_each(:data_types)) AND deleted_at IS NULL
ORDER BY id LIMIT :limit

-- create_sku_cache --
-- A client's SKU cache (SPEC section 2). Add a column here and an older table gets it too.
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

-- clear_sku_cache --
DELETE FROM {table}

-- insert_sku_row --
INSERT INTO {table} (sku, title, platforms, units_sold_7d, units_sold_30d, units_sold_90d, orders_30d,
                     revenue_30d, currency_code, inventory_available, avg_daily_units_30d, days_of_cover,
                     last_sold_at, computed_at)
VALUES (:sku, :title, :platforms, :units_sold_7d, :units_sold_30d, :units_sold_90d, :orders_30d,
        :revenue_30d, :currency_code, :inventory_available, :avg_daily_units_30d, :days_of_cover,
        :last_sold_at, :computed_at)

-- mark_deleted --
-- Rows already marked keep their first deleted_at (see api_sync_mark_deleted in postgres_functions.sql);
-- run inside the page's write transaction, whose save_state checks the lease.
UPDATE {table} SET deleted_at = :deleted_at
WHERE credential_id = :credential_id AND data_type = :data_type AND deleted_at IS NULL
  AND external_id IN (SELECT value FROM json_each(:external_ids))

-- count_live --
-- Without a window (the audit after each sync) from the two indexes alone, see create_data_indexes; CASE
-- runs only the subquery it picks.
SELECT CASE WHEN :updated_from IS NULL AND :updated_to IS NULL THEN
    (SELECT count(*) FROM {table} WHERE credential_id = :credential_id AND data_type = :data_type)
    - (SELECT count(*) FROM {table}
       WHERE credential_id = :credential_id AND data_type = :data_type AND deleted_at IS NOT NULL)
ELSE
    (SELECT count(*) FROM {table}
     WHERE credential_id = :credential_id AND data_type = :data_type AND deleted_at IS NULL
       AND (:updated_from IS NULL OR source_updated_at >= :updated_from)
       AND (:updated_to IS NULL OR source_updated_at <= :updated_to))
END

-- live_ids --
-- Keyset on the dedup index (credential_id, data_type, external_id): one short read per batch.
SELECT external_id, source_updated_at FROM {table}
WHERE credential_id = :credential_id AND data_type = :data_type AND external_id > :after AND deleted_at IS NULL
  AND (:updated_from IS NULL OR source_updated_at >= :updated_from)
  AND (:updated_to IS NULL OR source_updated_at <= :updated_to)
ORDER BY external_id LIMIT :limit

-- stored_rows --
SELECT external_id, data, deleted_at FROM {table}
WHERE credential_id = :credential_id AND data_type = :data_type
  AND external_id IN (SELECT value FROM json_each(:external_ids))

-- live_rows --
-- ids_where on SQLite: the live rows of one data type in id order, by keyset; the store looks into each
-- record's JSON itself (SQLite has no path query that looks into arrays on the way).
SELECT external_id, data FROM {table}
WHERE credential_id = :credential_id AND data_type = :data_type AND external_id > :after AND deleted_at IS NULL
ORDER BY external_id LIMIT :limit

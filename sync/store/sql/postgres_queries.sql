-- The named statements of the PostgreSQL store (sync/store/postgres.py), loaded by name by
-- sync/store/statements.py. File format, one block per statement:
--     -- statement_name --
--     -- what it does (comment lines)
--     the statement, with %(name)s parameters; {table} is a per-client table's quoted name
-- The atomic operations are functions of postgres_functions.sql, shared with the Supabase REST store:
-- here they are one call each. The tables are in postgres_schema.sql.

-- schema_present --
SELECT to_regclass('api_sync_schema_version') IS NOT NULL

-- schema_version --
SELECT max(version) FROM api_sync_schema_version

-- init_lock --
-- Several cron processes may start on a fresh database at once: init-db runs under this lock.
SELECT pg_advisory_xact_lock(71813083388238)

-- ensure_data_table --
SELECT api_sync_ensure_data_table(%(client_id)s)

-- insert_integration --
SELECT api_sync_insert_integration(
    %(credential_id)s, %(client_id)s, %(platform_type)s, %(display_name)s, %(credentials)s, %(status)s,
    %(is_active)s, %(next_sync_at)s, %(sync_frequency_hours)s, %(now)s)

-- get_integration --
SELECT * FROM client_api_credentials WHERE credential_id = %(credential_id)s

-- list_integrations --
SELECT * FROM client_api_credentials
WHERE (%(client_id)s::uuid IS NULL OR client_id = %(client_id)s::uuid)
  AND (%(platform)s::text IS NULL OR platform_type = %(platform)s::text)
ORDER BY client_id, platform_type, created_at, credential_id

-- delete_integration --
SELECT api_sync_delete_integration(%(credential_id)s)

-- set_credentials --
SELECT api_sync_set_credentials(%(credential_id)s, %(credentials)s, %(now)s)

-- reset_cursors --
SELECT api_sync_reset_cursors(%(credential_id)s, %(data_types)s, %(due_now)s, %(now)s)

-- list_due --
SELECT * FROM api_sync_list_due(%(now)s, %(force)s, %(client_id)s, %(platform)s)

-- claim_next --
SELECT api_sync_claim_next(%(now)s, %(force)s, %(client_id)s, %(platform)s, %(worker_id)s, %(lease_until)s,
                           %(exclude)s::uuid[])

-- renew_lease --
SELECT api_sync_renew_lease(%(credential_id)s, %(worker_id)s, %(lease_until)s)

-- acquire_lease --
SELECT api_sync_acquire_lease(%(credential_id)s, %(worker_id)s, %(now)s, %(lease_until)s)

-- release_lease --
SELECT api_sync_release_lease(%(credential_id)s, %(worker_id)s)

-- lease_holders --
SELECT api_sync_lease_holders(%(now)s)

-- stored_hashes --
-- The page write's lookup, its hot path, direct: api_sync_stored (the Supabase REST store's) costs a
-- function call and a tuplestore, a fifth of the lookup. One unique-index probe per id (see there why).
-- A row marked deleted has no hash or version here: a record that comes back is written again (as
-- changed), which clears its deleted_at.
SELECT s.external_id, s.value FROM unnest(%(external_ids)s::text[]) AS u(external_id) CROSS JOIN LATERAL (
    SELECT external_id, CASE WHEN deleted_at IS NULL THEN {column} END AS value FROM {table}
    WHERE credential_id = %(credential_id)s AND data_type = %(data_type)s
    AND external_id = u.external_id OFFSET 0) AS s

-- copy_new_rows --
-- Rows the page's hash lookup did not find go straight into the data table (the fastest load there is).
COPY {table} (credential_id, platform_type, data_type, external_id, data, record_hash, source_updated_at,
              first_synced_at, last_synced_at) FROM STDIN

-- upsert_rows --
-- Changed rows, as parallel arrays sent in binary.
SELECT api_sync_upsert_rows(%(client_id)s, %(credential_id)s, %(platform)s, %(data_type)s, %(now)s,
                            %(external_ids)b::text[], %(data)b::text[], %(hashes)b::text[],
                            %(updated)b::timestamptz[])

-- save_state --
SELECT api_sync_save_state(%(credential_id)s, %(worker_id)s, %(data_type)s, %(state)s, %(lease_until)s)

-- upsert_rows_and_save_state --
-- A page's changed rows and its cursor in one round trip (one transaction: the order does not matter).
SELECT api_sync_upsert_rows(%(client_id)s, %(credential_id)s, %(platform)s, %(data_type)s, %(now)s,
                            %(external_ids)b::text[], %(data)b::text[], %(hashes)b::text[],
                            %(updated)b::timestamptz[]),
       api_sync_save_state(%(credential_id)s, %(worker_id)s, %(data_type)s, %(state)s, %(lease_until)s)

-- finish_attempt --
SELECT api_sync_finish_attempt(
    %(result_id)s, %(run_id)s, %(client_id)s, %(credential_id)s, %(platform_type)s, %(records_fetched)s,
    %(records_stored)s, %(sync_duration_seconds)s, %(success)s, %(data_types_synced)s, %(triggered_by)s,
    %(error_message)s, %(started_at)s, %(finished_at)s, %(status)s, %(schedule_error)s,
    %(consecutive_failures)s, %(last_sync_at)s, %(next_sync_at)s, %(worker_id)s)

-- start_run --
SELECT api_sync_start_run(%(run_id)s, %(triggered_by)s, %(params)s, %(started_at)s)

-- close_abandoned_runs --
SELECT api_sync_close_abandoned_runs(%(now)s, %(older_than)s, %(message)s, %(live_runs)s::uuid[])

-- finish_run --
SELECT api_sync_finish_run(%(run_id)s, %(status)s, %(finished_at)s, %(summary)s)

-- get_run --
SELECT run_id, triggered_by, params, status, started_at, finished_at, summary
FROM api_sync_runs WHERE run_id = %(run_id)s

-- list_results --
SELECT result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
       sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at,
       finished_at
FROM client_api_sync_results
WHERE (%(credential_id)s::uuid IS NULL OR credential_id = %(credential_id)s::uuid)
  AND (%(run_id)s::uuid IS NULL OR run_id = %(run_id)s::uuid)
ORDER BY started_at, result_id

-- latest_results --
SELECT api_sync_latest_results()

-- list_client_ids --
SELECT api_sync_list_client_ids()

-- data_bounds --
-- The SKU analysis reads a client's live rows (deleted ones left out) in ranges of the primary key, direct (api_sync_data_batch, the
-- REST store's, returns its rows through a tuplestore: about 2.5 times slower). Each range is a short
-- statement (fine behind Supabase's transaction pooler, unlike a server-side cursor) over at most
-- `span` ids, whatever plan PostgreSQL picks: a keyset `id > last ... ORDER BY id LIMIT n` lets the
-- planner, without statistics on a freshly filled table, sort every remaining row for each batch. A row
-- an upsert changes keeps its id, so a concurrent sync never makes a row appear twice or vanish.
SELECT min(id) AS low, max(id) AS high FROM {table}

-- data_range --
SELECT id, credential_id::text, platform_type, data_type, external_id, data FROM {table}
WHERE id > %(low)s AND id <= %(high)s AND data_type = ANY(%(data_types)s) AND deleted_at IS NULL
ORDER BY id

-- replace_sku_cache --
SELECT api_sync_replace_sku_cache(%(client_id)s, %(rows)s)

-- mark_deleted --
SELECT api_sync_mark_deleted(%(client_id)s, %(credential_id)s, %(data_type)s, %(external_ids)s, %(deleted_at)s,
                             %(worker_id)s)

-- count_live --
SELECT api_sync_count_live(%(client_id)s, %(credential_id)s, %(data_type)s, %(updated_from)s, %(updated_to)s)

-- live_ids --
SELECT external_id, source_updated_at FROM api_sync_live_ids(%(client_id)s, %(credential_id)s, %(data_type)s,
                                                             %(after)s, %(limit)s, %(updated_from)s, %(updated_to)s)

-- stored_rows --
SELECT external_id, data, deleted_at FROM api_sync_stored_rows(%(client_id)s, %(credential_id)s, %(data_type)s,
                                                               %(external_ids)s)

-- ids_where --
SELECT external_id FROM api_sync_ids_where(%(client_id)s, %(credential_id)s, %(data_type)s, %(path)s, %(values)s)

-- API Sync: the PostgreSQL functions behind the Supabase REST store (sync/store/supabase_rest.py).
--
-- PostgREST (Supabase's REST API) runs one statement per request and no DDL from table endpoints, so
-- every store operation that must be atomic, or that names a per-client table, is one function here,
-- called as POST /rest/v1/rpc/<name>. Install once, after sync/store/sql/postgres_schema.sql, by pasting
-- both files into the Supabase SQL editor (or run `python -m sync init-db` once with DATABASE_URL set).
-- Idempotent: running it again replaces the functions and keeps every row.
--
-- Security: the functions are SECURITY DEFINER (so tables they create belong to their owner, whoever
-- calls) with search_path pinned to the schema they are installed in; EXECUTE is revoked from PUBLIC,
-- anon and authenticated and granted to service_role only, because they hand out the encrypted
-- secrets and can write any client's data.

-- The tables come first: say so plainly rather than fail on the first function that names one.
DO $$
BEGIN
    IF to_regclass('client_api_credentials') IS NULL OR to_regclass('api_sync_schema_version') IS NULL THEN
        RAISE EXCEPTION 'API Sync tables not found in schema %', current_schema()
            USING HINT = 'Run sync/store/sql/postgres_schema.sql first, then this file again.';
    END IF;
END $$;

-- Pin every function below to the schema this script runs in (public in the SQL editor), then pg_temp
-- last so that no temporary object can shadow ours. The previous search_path comes back at the end.
SELECT set_config('api_sync.saved_search_path', current_setting('search_path'), false);
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', false);

-- What is installed: this file's version ("functions"), the schema version api_sync_init_db() brings
-- ("schema_embedded", = postgres_sql.SCHEMA_VERSION when this file was written) and the database's
-- ("schema"). The REST store refuses to run against older ones and says which files to run again.
CREATE OR REPLACE FUNCTION api_sync_functions_version() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT jsonb_build_object(
        'functions', 2,
        'schema_embedded', 1,
        'schema', (SELECT max(version) FROM api_sync_schema_version)
    )
$$;

-- init-db through the REST API: the tables of postgres_schema.sql (kept identical to that file; a
-- test compares them), then the schema version it stands for. Safe to run again at any time.
CREATE OR REPLACE FUNCTION api_sync_init_db() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
DECLARE
    v_version constant integer := 1;  -- the schema version embedded below (see api_sync_functions_version)
BEGIN
    -- Several cron processes may start on a fresh database at once (same key as the PostgreSQL store).
    PERFORM pg_advisory_xact_lock(71813083388238);
    EXECUTE $schema$
-- API Sync tables (SPEC section 2), PostgreSQL 13+ (Supabase runs 15-17).
-- Idempotent: every statement may run again on a database that has the tables, from this version or
-- from the guide's first version (which had fewer columns): columns are added, nothing dropped or renamed.

CREATE TABLE IF NOT EXISTS client_api_credentials (
    credential_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id uuid NOT NULL,
    platform_type text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
);
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS display_name text;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS credentials text;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS last_sync_at timestamptz;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS next_sync_at timestamptz;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS sync_frequency_hours integer DEFAULT 24;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS error_message text;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS sync_state jsonb DEFAULT '{}'::jsonb;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS consecutive_failures integer DEFAULT 0;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS locked_by text;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS locked_until timestamptz;
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now();
ALTER TABLE client_api_credentials ADD COLUMN IF NOT EXISTS updated_at timestamptz DEFAULT now();
-- The guide's first version may have kept the secrets as json/jsonb: a Fernet token is not JSON,
-- so the column becomes text (values kept as their JSON text, encrypted at their next sync).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'client_api_credentials'
                 AND column_name = 'credentials' AND data_type <> 'text') THEN
        ALTER TABLE client_api_credentials ALTER COLUMN credentials TYPE text USING credentials::text;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS client_api_credentials_due_idx
    ON client_api_credentials (next_sync_at NULLS FIRST) WHERE is_active;
CREATE INDEX IF NOT EXISTS client_api_credentials_client_idx ON client_api_credentials (client_id);

CREATE TABLE IF NOT EXISTS client_api_sync_results (
    result_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id uuid,
    credential_id uuid,
    platform_type text
);
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS result_id uuid DEFAULT gen_random_uuid();
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS run_id uuid;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS records_fetched integer DEFAULT 0;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS records_stored integer DEFAULT 0;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS sync_duration_seconds double precision;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS success boolean;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS data_types_synced jsonb;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS sync_triggered_by text;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS error_message text;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS started_at timestamptz;
ALTER TABLE client_api_sync_results ADD COLUMN IF NOT EXISTS finished_at timestamptz;
CREATE INDEX IF NOT EXISTS client_api_sync_results_credential_idx
    ON client_api_sync_results (credential_id, started_at DESC);
CREATE INDEX IF NOT EXISTS client_api_sync_results_run_idx ON client_api_sync_results (run_id);

CREATE TABLE IF NOT EXISTS api_sync_runs (
    run_id uuid PRIMARY KEY,
    triggered_by text,
    params jsonb,
    status text,
    started_at timestamptz,
    finished_at timestamptz,
    summary jsonb
);

CREATE TABLE IF NOT EXISTS api_sync_schema_version (
    version integer NOT NULL
);
$schema$;
    DELETE FROM api_sync_schema_version;
    INSERT INTO api_sync_schema_version (version) VALUES (v_version);
    RETURN v_version;
END
$fn$;

-- The per-client data table (SPEC section 2): created, or completed when an older version made it
-- with fewer columns. The name comes from the uuid type alone, and is quoted with %I all the same.
CREATE OR REPLACE FUNCTION api_sync_ensure_data_table(p_client_id uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_name text := 'client_' || replace(p_client_id::text, '-', '_') || '_data';
    v_column record;
    v_new boolean;
BEGIN
    IF p_client_id IS NULL THEN
        RAISE EXCEPTION 'client id is required' USING ERRCODE = '22004';
    END IF;
    IF v_name !~ '^client_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}_data$' THEN
        RAISE EXCEPTION 'refusing table name %', v_name USING ERRCODE = '22023';
    END IF;
    v_new := to_regclass(quote_ident(v_name)) IS NULL;
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %I (
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
        )$ddl$, v_name);
    IF v_new THEN
        -- Supabase grants every new public table to anon and authenticated: without row level security
        -- anyone holding the project's public anon key could read the client's orders. No policy: the
        -- service role (and the owner) read it; a dashboard adds its own policy. Tables an earlier
        -- version created are left as they are, so that a dashboard reading them keeps working.
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_name);
    END IF;
    FOR v_column IN
        SELECT * FROM (VALUES ('credential_id', 'uuid'), ('platform_type', 'text'), ('data_type', 'text'),
                              ('external_id', 'text'), ('data', 'jsonb'), ('record_hash', 'text'),
                              ('source_updated_at', 'timestamptz'),
                              ('first_synced_at', 'timestamptz DEFAULT now()'),
                              ('last_synced_at', 'timestamptz DEFAULT now()')) AS c(name, type)
    LOOP
        -- Only the missing ones (a table from the guide's first version); the type is a literal above.
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = to_regclass(quote_ident(v_name)) AND attname = v_column.name
                         AND NOT attisdropped) THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS %I ' || v_column.type, v_name, v_column.name);
        END IF;
    END LOOP;
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (credential_id, data_type, external_id)',
                   v_name || '_dedup_key', v_name);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (data_type, source_updated_at)',
                   v_name || '_updated_idx', v_name);
    RETURN v_name;
END
$$;

-- A client's data table by id: NULL when it does not exist yet (nothing stored).
CREATE OR REPLACE FUNCTION api_sync_data_table(p_client_id uuid) RETURNS regclass
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT to_regclass(quote_ident('client_' || replace(p_client_id::text, '-', '_') || '_data'))
$$;

-- integrations ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION api_sync_insert_integration(
    p_credential_id uuid, p_client_id uuid, p_platform_type text, p_display_name text, p_credentials text,
    p_status text, p_is_active boolean, p_next_sync_at timestamptz, p_sync_frequency_hours integer,
    p_now timestamptz
) RETURNS uuid
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    INSERT INTO client_api_credentials (
        credential_id, client_id, platform_type, display_name, credentials, status, is_active,
        next_sync_at, sync_frequency_hours, sync_state, consecutive_failures, created_at, updated_at)
    VALUES (p_credential_id, p_client_id, p_platform_type, p_display_name, p_credentials, p_status,
            p_is_active, p_next_sync_at, p_sync_frequency_hours, '{}'::jsonb, 0, p_now, p_now)
    RETURNING credential_id
$$;

CREATE OR REPLACE FUNCTION api_sync_delete_integration(p_credential_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM client_api_credentials WHERE credential_id = p_credential_id;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION api_sync_set_credentials(p_credential_id uuid, p_credentials text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials SET credentials = p_credentials, updated_at = now()
    WHERE credential_id = p_credential_id;
    RETURN FOUND;
END
$$;

-- `python -m sync reset-cursor`: forget some data types' cursors, never under a live lease (the running
-- sync would write its cursor back at its next page). False when leased or unknown.
CREATE OR REPLACE FUNCTION api_sync_reset_cursors(
    p_credential_id uuid, p_data_types text[], p_due_now boolean, p_now timestamptz
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials
    SET sync_state = CASE WHEN jsonb_typeof(sync_state) = 'object' THEN sync_state - p_data_types
                          ELSE '{}'::jsonb END,
        next_sync_at = CASE WHEN p_due_now THEN NULL ELSE next_sync_at END,
        updated_at = p_now
    WHERE credential_id = p_credential_id AND (locked_until IS NULL OR locked_until <= p_now);
    RETURN FOUND;
END
$$;

-- scheduling and leases ------------------------------------------------------------------------------

-- Due now (or every idle one when forced), never one another worker holds a live lease on.
CREATE OR REPLACE FUNCTION api_sync_list_due(
    p_now timestamptz, p_force boolean DEFAULT false, p_client_id uuid DEFAULT NULL, p_platform text DEFAULT NULL
) RETURNS SETOF client_api_credentials
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT * FROM client_api_credentials
    WHERE COALESCE(is_active, true)
      AND (p_force OR next_sync_at IS NULL OR next_sync_at <= p_now)
      AND (locked_until IS NULL OR locked_until <= p_now)
      AND (p_client_id IS NULL OR client_id = p_client_id)
      AND (p_platform IS NULL OR platform_type = p_platform)
    ORDER BY next_sync_at NULLS FIRST, credential_id
$$;

-- Claim the next due integration for this worker: SKIP LOCKED makes concurrent claimers (threads,
-- processes, machines) pass over a row another one is claiming, so no two get the same one.
-- Returns the claimed row as an object, with "previous_holder" (the worker whose lease had expired:
-- that sync crashed), or null when nothing is due.
CREATE OR REPLACE FUNCTION api_sync_claim_next(
    p_now timestamptz, p_force boolean, p_client_id uuid, p_platform text, p_worker_id text,
    p_lease_until timestamptz, p_exclude uuid[] DEFAULT '{}'
) RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    WITH due AS (
        SELECT credential_id, locked_by AS previous_holder FROM client_api_credentials
        WHERE COALESCE(is_active, true)
          AND (p_force OR next_sync_at IS NULL OR next_sync_at <= p_now)
          AND (locked_until IS NULL OR locked_until <= p_now)
          AND (p_client_id IS NULL OR client_id = p_client_id)
          AND (p_platform IS NULL OR platform_type = p_platform)
          AND NOT (credential_id = ANY(COALESCE(p_exclude, '{}')))
        ORDER BY next_sync_at NULLS FIRST, credential_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE client_api_credentials c
        SET locked_by = p_worker_id, locked_until = p_lease_until
        FROM due WHERE c.credential_id = due.credential_id
        RETURNING c.*, due.previous_holder
    )
    SELECT to_jsonb(claimed) FROM claimed
$$;

CREATE OR REPLACE FUNCTION api_sync_renew_lease(p_credential_id uuid, p_worker_id text, p_lease_until timestamptz)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials SET locked_until = p_lease_until
    WHERE credential_id = p_credential_id AND locked_by = p_worker_id;
    RETURN FOUND;
END
$$;

-- data -----------------------------------------------------------------------------------------------

-- {external_id: source_updated_at} of the ids already stored (absent: never stored).
CREATE OR REPLACE FUNCTION api_sync_stored_versions(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[]
) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_out jsonb;
BEGIN
    IF v_table IS NULL THEN
        RETURN '{}'::jsonb;
    END IF;
    -- One unique-index probe per id: `external_id = ANY($3)` on a table without statistics yet (a first
    -- load) is planned as a scan of the integration's every row, per page (see postgres_sql.STORED_HASHES).
    EXECUTE format('SELECT COALESCE(jsonb_object_agg(s.external_id, s.source_updated_at), ''{}''::jsonb) '
                   'FROM unnest($3::text[]) AS u(external_id) CROSS JOIN LATERAL ('
                   'SELECT external_id, source_updated_at FROM %s WHERE credential_id = $1 AND data_type = $2 '
                   'AND external_id = u.external_id OFFSET 0) AS s', v_table)
        INTO v_out USING p_credential_id, p_data_type, p_external_ids;
    RETURN v_out;
END
$$;

-- {external_id: record_hash} of the ids already stored: what the engine compares a page against.
CREATE OR REPLACE FUNCTION api_sync_stored_hashes(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[]
) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_out jsonb;
BEGIN
    IF v_table IS NULL THEN
        RETURN '{}'::jsonb;
    END IF;
    -- One unique-index probe per id: `external_id = ANY($3)` on a table without statistics yet (a first
    -- load) is planned as a scan of the integration's every row, per page (see postgres_sql.STORED_HASHES).
    EXECUTE format('SELECT COALESCE(jsonb_object_agg(s.external_id, s.record_hash), ''{}''::jsonb) '
                   'FROM unnest($3::text[]) AS u(external_id) CROSS JOIN LATERAL ('
                   'SELECT external_id, record_hash FROM %s WHERE credential_id = $1 AND data_type = $2 '
                   'AND external_id = u.external_id OFFSET 0) AS s', v_table)
        INTO v_out USING p_credential_id, p_data_type, p_external_ids;
    RETURN v_out;
END
$$;

-- One page, atomically: check and extend the lease, upsert the rows whose hash changed, move the
-- stream's cursor. A worker whose lease was taken over gets SQLSTATE ASL01 and nothing is written,
-- so two workers can never both write one integration's data.
-- p_rows: [{"external_id": text, "data": text (JSON), "record_hash": text, "source_updated_at": ts|null}]
-- Returns {"new": n, "updated": n, "unchanged": n} as this transaction found them.
CREATE OR REPLACE FUNCTION api_sync_write_page(
    p_client_id uuid, p_credential_id uuid, p_platform text, p_data_type text, p_worker_id text,
    p_rows jsonb, p_state jsonb, p_lease_until timestamptz, p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass;
    v_total integer := COALESCE(jsonb_array_length(p_rows), 0);
    v_new integer := 0;
    v_written integer := 0;
BEGIN
    UPDATE client_api_credentials
    SET sync_state = CASE WHEN p_state IS NULL OR p_state = 'null'::jsonb THEN COALESCE(sync_state, '{}'::jsonb)
                          -- a hand-edited or legacy value that is not an object starts over as one
                          ELSE jsonb_set(CASE WHEN jsonb_typeof(sync_state) = 'object' THEN sync_state
                                              ELSE '{}'::jsonb END, ARRAY[p_data_type], p_state) END,
        locked_until = COALESCE(p_lease_until, locked_until)
    WHERE credential_id = p_credential_id AND locked_by = p_worker_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease on integration % was lost', p_credential_id
            USING ERRCODE = 'ASL01', HINT = 'another worker took over this integration after its lease expired';
    END IF;
    IF v_total = 0 THEN
        RETURN jsonb_build_object('new', 0, 'updated', 0, 'unchanged', 0);
    END IF;
    v_table := api_sync_data_table(p_client_id);
    IF v_table IS NULL THEN
        PERFORM api_sync_ensure_data_table(p_client_id);
        v_table := api_sync_data_table(p_client_id);
    END IF;
    -- xmax = 0 tells a freshly inserted row from an updated one; unchanged rows are not written at all.
    EXECUTE format($sql$
        WITH written AS (
            INSERT INTO %s AS t (credential_id, platform_type, data_type, external_id, data, record_hash,
                                 source_updated_at, first_synced_at, last_synced_at)
            SELECT $1, $2, $3, r.external_id, r.data::jsonb, r.record_hash, r.source_updated_at, $4, $4
            FROM jsonb_to_recordset($5) AS r(external_id text, data text, record_hash text,
                                             source_updated_at timestamptz)
            ON CONFLICT (credential_id, data_type, external_id) DO UPDATE
            SET data = EXCLUDED.data, record_hash = EXCLUDED.record_hash,
                source_updated_at = EXCLUDED.source_updated_at, last_synced_at = EXCLUDED.last_synced_at
            WHERE t.record_hash IS DISTINCT FROM EXCLUDED.record_hash
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FROM written
    $sql$, v_table) INTO v_new, v_written USING p_credential_id, p_platform, p_data_type, p_now, p_rows;
    RETURN jsonb_build_object('new', v_new, 'updated', v_written - v_new, 'unchanged', v_total - v_written);
END
$$;

-- results --------------------------------------------------------------------------------------------

-- One attempt's result row and the integration's new schedule, in one transaction. A worker that lost
-- its lease still records its attempt, but leaves the schedule to the new holder.
CREATE OR REPLACE FUNCTION api_sync_finish_attempt(p_result jsonb, p_schedule jsonb, p_worker_id text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO client_api_sync_results (
        result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
        sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at,
        finished_at)
    VALUES ((p_result->>'result_id')::uuid, (p_result->>'run_id')::uuid, (p_result->>'client_id')::uuid,
            (p_result->>'credential_id')::uuid, p_result->>'platform_type',
            (p_result->>'records_fetched')::integer, (p_result->>'records_stored')::integer,
            (p_result->>'sync_duration_seconds')::double precision, (p_result->>'success')::boolean,
            p_result->'data_types_synced', p_result->>'triggered_by', p_result->>'error_message',
            (p_result->>'started_at')::timestamptz, (p_result->>'finished_at')::timestamptz);
    UPDATE client_api_credentials
    SET status = p_schedule->>'status', error_message = p_schedule->>'error_message',
        consecutive_failures = (p_schedule->>'consecutive_failures')::integer,
        last_sync_at = COALESCE((p_schedule->>'last_sync_at')::timestamptz, last_sync_at),
        next_sync_at = (p_schedule->>'next_sync_at')::timestamptz,
        locked_by = NULL, locked_until = NULL, updated_at = (p_result->>'finished_at')::timestamptz
    WHERE credential_id = (p_result->>'credential_id')::uuid
      AND locked_by = p_worker_id;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION api_sync_start_run(
    p_run_id uuid, p_triggered_by text, p_params jsonb, p_started_at timestamptz
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO api_sync_runs (run_id, triggered_by, params, status, started_at)
    VALUES (p_run_id, p_triggered_by, p_params, 'running', p_started_at)
    ON CONFLICT (run_id) DO NOTHING;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION api_sync_finish_run(
    p_run_id uuid, p_status text, p_finished_at timestamptz, p_summary jsonb
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE api_sync_runs SET status = p_status, finished_at = p_finished_at, summary = p_summary
    WHERE run_id = p_run_id;
    RETURN FOUND;
END
$$;

-- See postgres_sql.CLOSE_ABANDONED_RUNS: runs whose process died, closed as failed.
CREATE OR REPLACE FUNCTION api_sync_close_abandoned_runs(
    p_now timestamptz, p_older_than timestamptz, p_message text
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE api_sync_runs r
    SET status = 'failed', finished_at = p_now,
        summary = COALESCE(r.summary, '{}'::jsonb) || jsonb_build_object('error', p_message)
    WHERE r.status = 'running' AND r.started_at < p_older_than
      AND NOT EXISTS (
          SELECT 1 FROM client_api_credentials c
          WHERE c.locked_until > p_now AND c.locked_by LIKE '%:' || left(r.run_id::text, 8) || ':%');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

CREATE OR REPLACE FUNCTION api_sync_get_run(p_run_id uuid) RETURNS SETOF api_sync_runs
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT * FROM api_sync_runs WHERE run_id = p_run_id
$$;

-- SKU analysis --------------------------------------------------------------------------------------

-- One JSON array (not a set, which Supabase's "Max rows" would cut short): a few thousand ids at most.
CREATE OR REPLACE FUNCTION api_sync_list_client_ids() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT COALESCE(jsonb_agg(id ORDER BY id), '[]'::jsonb)
    FROM (SELECT DISTINCT client_id::text AS id FROM client_api_credentials) ids
$$;

-- One batch of a client's stored records, by keyset on the primary key (each call is short; a row an
-- upsert changes keeps its id, so a concurrent sync never makes one appear twice or vanish).
-- enable_seqscan off: without statistics the planner may sort every remaining row per batch instead of
-- walking the primary key, which makes reading a large table quadratic.
CREATE OR REPLACE FUNCTION api_sync_data_batch(
    p_client_id uuid, p_data_types text[], p_after_id bigint, p_limit integer
) RETURNS TABLE (id bigint, credential_id text, platform_type text, data_type text, external_id text, data jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT SET enable_seqscan = off AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
BEGIN
    IF v_table IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.id, t.credential_id::text, t.platform_type, t.data_type, t.external_id, t.data FROM %s t '
        'WHERE t.id > $1 AND t.data_type = ANY($2) ORDER BY t.id LIMIT $3', v_table)
        USING p_after_id, p_data_types, p_limit;
END
$$;

-- Replace a client's SKU cache (SPEC section 2) in one transaction; created, or completed when an older
-- version made it with fewer columns. p_rows: an array of objects named like the columns.
CREATE OR REPLACE FUNCTION api_sync_replace_sku_cache(p_client_id uuid, p_rows jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_name text := 'client_' || replace(p_client_id::text, '-', '_') || '_sku_cache';
    v_column record;
    v_count integer;
    v_new boolean;
BEGIN
    IF v_name !~ '^client_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}_sku_cache$' THEN
        RAISE EXCEPTION 'refusing table name %', v_name USING ERRCODE = '22023';
    END IF;
    -- Two analyses of one client at once queue here instead of racing on CREATE TABLE.
    PERFORM pg_advisory_xact_lock(hashtext(v_name));
    v_new := to_regclass(quote_ident(v_name)) IS NULL;
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %I (
            sku text PRIMARY KEY, title text, platforms jsonb, units_sold_7d integer, units_sold_30d integer,
            units_sold_90d integer, orders_30d integer, revenue_30d numeric, currency_code text,
            inventory_available integer, avg_daily_units_30d numeric, days_of_cover numeric,
            last_sold_at timestamptz, computed_at timestamptz
        )$ddl$, v_name);
    IF v_new THEN
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', v_name);  -- as for the data tables
    END IF;
    FOR v_column IN
        SELECT * FROM (VALUES ('title', 'text'), ('platforms', 'jsonb'), ('units_sold_7d', 'integer'),
                              ('units_sold_30d', 'integer'), ('units_sold_90d', 'integer'),
                              ('orders_30d', 'integer'), ('revenue_30d', 'numeric'), ('currency_code', 'text'),
                              ('inventory_available', 'integer'), ('avg_daily_units_30d', 'numeric'),
                              ('days_of_cover', 'numeric'), ('last_sold_at', 'timestamptz'),
                              ('computed_at', 'timestamptz')) AS c(name, type)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = to_regclass(quote_ident(v_name)) AND attname = v_column.name
                         AND NOT attisdropped) THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS %I ' || v_column.type, v_name, v_column.name);
        END IF;
    END LOOP;
    EXECUTE format('DELETE FROM %I', v_name);
    EXECUTE format($sql$
        INSERT INTO %I (sku, title, platforms, units_sold_7d, units_sold_30d, units_sold_90d, orders_30d,
                        revenue_30d, currency_code, inventory_available, avg_daily_units_30d, days_of_cover,
                        last_sold_at, computed_at)
        SELECT sku, title, platforms, units_sold_7d, units_sold_30d, units_sold_90d, orders_30d, revenue_30d,
               currency_code, inventory_available, avg_daily_units_30d, days_of_cover, last_sold_at, computed_at
        FROM jsonb_to_recordset($1) AS r(sku text, title text, platforms jsonb, units_sold_7d integer,
             units_sold_30d integer, units_sold_90d integer, orders_30d integer, revenue_30d numeric,
             currency_code text, inventory_available integer, avg_daily_units_30d numeric,
             days_of_cover numeric, last_sold_at timestamptz, computed_at timestamptz)
    $sql$, v_name) USING COALESCE(p_rows, '[]'::jsonb);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- privileges -----------------------------------------------------------------------------------------

-- Service role only. Supabase grants EXECUTE on new functions to anon and authenticated by default
-- (and PostgreSQL to PUBLIC); a dashboard user holding the anon key must not reach any of these.
DO $$
DECLARE
    v_fn regprocedure;
    v_table text;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'api\_sync\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_fn);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM anon', v_fn);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM authenticated', v_fn);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', v_fn);
        END IF;
    END LOOP;
    -- The secrets table: readable by the service role (the REST store reads integrations from it),
    -- never by a dashboard key. Row level security with no policy shuts anon and authenticated out
    -- even where a default privilege granted them the table; the owner and service_role bypass it.
    ALTER TABLE client_api_credentials ENABLE ROW LEVEL SECURITY;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON client_api_credentials FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON client_api_credentials FROM authenticated;
    END IF;
    -- Supabase already grants these to service_role; grant only what is missing (granting on a schema
    -- one does not own would fail).
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        IF NOT has_schema_privilege('service_role', current_schema(), 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO service_role', current_schema());
        END IF;
        FOR v_table IN SELECT unnest(ARRAY['client_api_credentials', 'client_api_sync_results', 'api_sync_runs',
                                           'api_sync_schema_version'])
        LOOP
            IF NOT has_table_privilege('service_role', quote_ident(v_table), 'SELECT') THEN
                EXECUTE format('GRANT SELECT ON %I TO service_role', v_table);
            END IF;
        END LOOP;
    END IF;
END $$;

-- Tell PostgREST about the new functions now rather than at its next schema-cache reload.
NOTIFY pgrst, 'reload schema';

SELECT set_config('search_path', current_setting('api_sync.saved_search_path'), false);

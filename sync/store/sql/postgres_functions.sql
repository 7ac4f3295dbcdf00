-- API Sync: the store operations that must be atomic, as PostgreSQL functions. Written once, called by
-- both PostgreSQL stores: the direct one (sync/store/postgres.py, `SELECT api_sync_...(...)`) and the
-- Supabase REST one (sync/store/supabase_rest.py, `POST /rest/v1/rpc/api_sync_...`). PostgREST runs one
-- statement per request and no DDL, so every operation of the REST store that must be atomic, or that
-- names a per-client table, is here. Only the COPY of a page's new rows is not (postgres_page.py).
--
-- A template: sync/store/statements.py fills in the schema version and, inside api_sync_init_db(), the
-- text of postgres_schema.sql (the one copy of the tables), where the double braces say. What runs is
-- `install_script()`: the schema, then this file. `python -m sync init-db` runs it; supabase/migrations/ holds it as a Supabase CLI migration, the
-- file to paste into the SQL editor. Idempotent: running it again replaces the functions, keeps every row.
--
-- Security: the functions are SECURITY DEFINER (so tables they create belong to their owner, whoever
-- calls) with search_path pinned to the schema they are installed in; EXECUTE is revoked from PUBLIC,
-- anon and authenticated and granted to service_role only (their owner keeps it), because they hand out
-- the encrypted secrets and can write any client's data.
--
-- To add a column to a client's data table: add it to api_sync_data_columns() below (and to the SQLite
-- template in sqlite_queries.sql), then raise SCHEMA_VERSION in statements.py.

-- Pin every function below to the schema this script runs in (public in the SQL editor), then pg_temp
-- last so that no temporary object can shadow ours. The previous search_path comes back at the end.
SELECT set_config('api_sync.saved_search_path', current_setting('search_path'), false);
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', false);

-- Signatures of earlier versions, replaced below by ones with other arguments or results.
DROP FUNCTION IF EXISTS api_sync_finish_attempt(jsonb, jsonb, text);
DROP FUNCTION IF EXISTS api_sync_close_abandoned_runs(timestamptz, timestamptz, text);
DROP FUNCTION IF EXISTS api_sync_get_run(uuid);
DROP FUNCTION IF EXISTS api_sync_set_credentials(uuid, text);
DROP FUNCTION IF EXISTS api_sync_stored_hashes(uuid, uuid, text, text[]);
DROP FUNCTION IF EXISTS api_sync_stored_versions(uuid, uuid, text, text[]);
DROP FUNCTION IF EXISTS api_sync_upsert_rows(uuid, uuid, text, text, timestamptz, text[], text[], text[], timestamptz[]);

-- What is installed: this file's version ("functions"), the schema version api_sync_init_db() brings
-- ("schema_embedded"), both SCHEMA_VERSION of statements.py, and the database's ("schema"). The stores
-- refuse to run against older ones and say what to run again.
CREATE OR REPLACE FUNCTION api_sync_functions_version() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT jsonb_build_object(
        'functions', {{SCHEMA_VERSION}},
        'schema_embedded', {{SCHEMA_VERSION}},
        'schema', (SELECT max(version) FROM api_sync_schema_version)
    )
$$;

-- init-db through the REST API: the tables of postgres_schema.sql, then the schema version they stand
-- for. Safe to run again at any time.
CREATE OR REPLACE FUNCTION api_sync_init_db() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
BEGIN
    -- Several cron processes may start on a fresh database at once.
    PERFORM pg_advisory_xact_lock(71813083388238);
    EXECUTE $schema$
{{POSTGRES_SCHEMA}}
$schema$;
    PERFORM api_sync_upgrade_client_tables();
    DELETE FROM api_sync_schema_version;
    INSERT INTO api_sync_schema_version (version) VALUES ({{SCHEMA_VERSION}});
    RETURN {{SCHEMA_VERSION}};
END
$fn$;

-- per-client tables ----------------------------------------------------------------------------------

-- The columns of a client's data table after its `id bigserial` key (SPEC section 2), in table order.
CREATE OR REPLACE FUNCTION api_sync_data_columns() RETURNS TABLE (name text, type text)
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
    VALUES ('credential_id', 'uuid'), ('platform_type', 'text'), ('data_type', 'text'), ('external_id', 'text'),
           ('data', 'jsonb'), ('record_hash', 'text'), ('source_updated_at', 'timestamptz'),
           ('first_synced_at', 'timestamptz DEFAULT now()'), ('last_synced_at', 'timestamptz DEFAULT now()'),
           ('deleted_at', 'timestamptz')
$$;

-- The columns of a client's SKU cache after its `sku text` key (SPEC section 2), in table order.
CREATE OR REPLACE FUNCTION api_sync_sku_cache_columns() RETURNS TABLE (name text, type text)
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
    VALUES ('title', 'text'), ('platforms', 'jsonb'), ('units_sold_7d', 'integer'), ('units_sold_30d', 'integer'),
           ('units_sold_90d', 'integer'), ('orders_30d', 'integer'), ('revenue_30d', 'numeric'),
           ('currency_code', 'text'), ('inventory_available', 'integer'), ('avg_daily_units_30d', 'numeric'),
           ('days_of_cover', 'numeric'), ('last_sold_at', 'timestamptz'), ('computed_at', 'timestamptz')
$$;

-- A client's table name from its id alone: the uuid type admits no other text, so the name is always
-- client_<8>_<4>_<4>_<4>_<12>_<suffix> (and is quoted with %I all the same). Plain SQL functions without
-- SET, so the planner inlines them into their callers: the page write calls them on every page.
CREATE OR REPLACE FUNCTION api_sync_client_table(p_client_id uuid, p_suffix text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'client_' || replace(p_client_id::text, '-', '_') || '_' || p_suffix
$$;

-- A client's data table by id: NULL when it does not exist yet (nothing stored).
CREATE OR REPLACE FUNCTION api_sync_data_table(p_client_id uuid) RETURNS regclass
LANGUAGE sql STABLE AS $$
    SELECT to_regclass(quote_ident(api_sync_client_table(p_client_id, 'data')))
$$;

-- Create a client's table with its key, or complete one an older version made with fewer columns
-- (their columns are kept). Returns whether anything was done. The catalog is read first: a table
-- that is complete costs no lock (CREATE INDEX IF NOT EXISTS alone locks out the table's writers).
-- Concurrent creators of one table queue on an advisory lock keyed by its name: CREATE TABLE IF NOT
-- EXISTS is not safe against itself (the second fails on pg_type's unique index).
CREATE OR REPLACE FUNCTION api_sync_complete_table(p_name text, p_key text, p_columns text[], p_types text[])
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := to_regclass(quote_ident(p_name));
    v_new boolean;
BEGIN
    IF v_table IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM unnest(p_columns) AS c(name)
            WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
                              WHERE attrelid = v_table AND attname = c.name AND NOT attisdropped)) THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(p_name));
    v_new := to_regclass(quote_ident(p_name)) IS NULL;
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I (%s)', p_name, p_key);
    IF v_new THEN
        -- Supabase grants every new public table to anon and authenticated: without row level security
        -- anyone holding the project's public anon key could read the client's orders. No policy: the
        -- service role (and the owner) read it; a dashboard adds its own policy. Tables an earlier
        -- version created are left as they are, so that a dashboard reading them keeps working.
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', p_name);
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_columns, 1), 0) LOOP
        -- The types are literals of this file (api_sync_*_columns), never input.
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = to_regclass(quote_ident(p_name)) AND attname = p_columns[i]
                         AND NOT attisdropped) THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS %I ', p_name, p_columns[i]) || p_types[i];
        END IF;
    END LOOP;
    RETURN true;
END
$$;

-- A data table's records compressed with lz4 rather than the default pglz: a record's jsonb (2 KB and
-- more) is compressed as it is stored, and pglz was a quarter of the server's time in a first load; lz4
-- compresses several times faster and reads back faster, for about the same size. Only rows written from
-- then on are compressed so (no rewrite). It is only a speed-up, so it never fails its caller: a server
-- without lz4 (built without it, or before PostgreSQL 14) keeps pglz, and so does a table this role does
-- not own or that stays locked past a second (the change takes an exclusive lock, which must not queue
-- a dashboard's reads behind a long query; the next init-db tries again). Returns whether lz4 is in use.
CREATE OR REPLACE FUNCTION api_sync_compress_with_lz4(p_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET lock_timeout = '1s' AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = to_regclass(quote_ident(p_name)) AND attname = 'data' AND attcompression = 'l') THEN
        EXECUTE format('ALTER TABLE %I ALTER COLUMN data SET COMPRESSION lz4', p_name);
    END IF;
    RETURN true;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error OR undefined_column
               OR insufficient_privilege OR lock_not_available THEN
    RETURN false;
END
$$;

-- The per-client data table (SPEC section 2), created or completed, with its dedup key and index.
CREATE OR REPLACE FUNCTION api_sync_ensure_data_table(p_client_id uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_name text := api_sync_client_table(p_client_id, 'data');
BEGIN
    IF api_sync_complete_table(v_name, 'id bigserial PRIMARY KEY',
                               ARRAY(SELECT name FROM api_sync_data_columns()),
                               ARRAY(SELECT type FROM api_sync_data_columns()))
       OR to_regclass(quote_ident(v_name || '_dedup_key')) IS NULL
       OR to_regclass(quote_ident(v_name || '_updated_idx')) IS NULL THEN
        EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (credential_id, data_type, external_id)',
                       v_name || '_dedup_key', v_name);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (data_type, source_updated_at)',
                       v_name || '_updated_idx', v_name);
        PERFORM api_sync_compress_with_lz4(v_name);
    END IF;
    RETURN v_name;
END
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

CREATE OR REPLACE FUNCTION api_sync_set_credentials(p_credential_id uuid, p_credentials text, p_now timestamptz)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials SET credentials = p_credentials, updated_at = p_now
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

-- SPEC section 3's "due": active, next_sync_at null or past (any time when forced), not leased, and
-- within the run's filters. Inlined by the planner (plain SQL, no SET), so that the claim below still
-- checks it on the row version it locks.
CREATE OR REPLACE FUNCTION api_sync_is_due(
    c client_api_credentials, p_now timestamptz, p_force boolean, p_client_id uuid, p_platform text
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(c.is_active, true)
       AND (p_force OR c.next_sync_at IS NULL OR c.next_sync_at <= p_now)
       AND (c.locked_until IS NULL OR c.locked_until <= p_now)
       AND (p_client_id IS NULL OR c.client_id = p_client_id)
       AND (p_platform IS NULL OR c.platform_type = p_platform)
$$;

-- Due now (or every idle one when forced), never one another worker holds a live lease on.
CREATE OR REPLACE FUNCTION api_sync_list_due(
    p_now timestamptz, p_force boolean DEFAULT false, p_client_id uuid DEFAULT NULL, p_platform text DEFAULT NULL
) RETURNS SETOF client_api_credentials
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT * FROM client_api_credentials c
    WHERE api_sync_is_due(c, p_now, p_force, p_client_id, p_platform)
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
        SELECT credential_id, locked_by AS previous_holder FROM client_api_credentials c
        WHERE api_sync_is_due(c, p_now, p_force, p_client_id, p_platform)
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

-- Lease one integration for work outside a sync (`python -m sync audit --repair`), only when no live
-- lease is held on it; its schedule is left alone. False when another worker holds it (or unknown).
CREATE OR REPLACE FUNCTION api_sync_acquire_lease(
    p_credential_id uuid, p_worker_id text, p_now timestamptz, p_lease_until timestamptz
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials SET locked_by = p_worker_id, locked_until = p_lease_until
    WHERE credential_id = p_credential_id
      AND (locked_until IS NULL OR locked_until <= p_now OR locked_by = p_worker_id);
    RETURN FOUND;
END
$$;

-- Give a lease back (its holder only).
CREATE OR REPLACE FUNCTION api_sync_release_lease(p_credential_id uuid, p_worker_id text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials SET locked_by = NULL, locked_until = NULL
    WHERE credential_id = p_credential_id AND locked_by = p_worker_id;
    RETURN FOUND;
END
$$;

-- The workers holding a live lease (one JSON array, not a set: Supabase's "Max rows" cannot cut it).
CREATE OR REPLACE FUNCTION api_sync_lease_holders(p_now timestamptz) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT COALESCE(jsonb_agg(DISTINCT locked_by), '[]'::jsonb) FROM client_api_credentials
    WHERE locked_until > p_now AND locked_by IS NOT NULL
$$;

-- data -----------------------------------------------------------------------------------------------

-- What is stored of these ids (absent: never stored). One unique-index probe per id: the obvious
-- `external_id = ANY(ids)` lets the planner, without statistics on a table that was just filled
-- (autovacuum analyzes it a minute later, if ever during a first load), scan every row of the
-- integration for every page: quadratic in the shop's size. OFFSET 0 keeps the lateral subquery from
-- being flattened into that plan.
CREATE OR REPLACE FUNCTION api_sync_stored(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[]
) RETURNS TABLE (external_id text, record_hash text, source_updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
BEGIN
    IF v_table IS NULL OR COALESCE(cardinality(p_external_ids), 0) = 0 THEN
        RETURN;
    END IF;
    -- A row marked deleted is stored without a hash or version: a record that comes back is then
    -- written again (as changed), which clears its deleted_at.
    RETURN QUERY EXECUTE format(
        'SELECT s.external_id, s.record_hash, s.source_updated_at FROM unnest($3::text[]) AS u(external_id) '
        'CROSS JOIN LATERAL (SELECT t.external_id, '
        'CASE WHEN t.deleted_at IS NULL THEN t.record_hash END AS record_hash, '
        'CASE WHEN t.deleted_at IS NULL THEN t.source_updated_at END AS source_updated_at FROM %s t '
        'WHERE t.credential_id = $1 AND t.data_type = $2 AND t.external_id = u.external_id OFFSET 0) AS s',
        v_table) USING p_credential_id, p_data_type, p_external_ids;
END
$$;

-- api_sync_stored as one JSON object {external_id: value of p_field}, for the REST store: one request
-- whatever Supabase's "Max rows" is. p_field: record_hash or source_updated_at.
CREATE OR REPLACE FUNCTION api_sync_stored_object(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[], p_field text
) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT COALESCE(jsonb_object_agg(s.external_id, CASE p_field WHEN 'record_hash' THEN to_jsonb(s.record_hash)
                                                                 ELSE to_jsonb(s.source_updated_at) END),
                    '{}'::jsonb)
    FROM api_sync_stored(p_client_id, p_credential_id, p_data_type, p_external_ids) AS s
$$;

-- Check and extend the lease and move the stream's cursor (when p_state is not null), in the caller's
-- transaction: a worker whose lease was taken over gets SQLSTATE ASL01, and its page rolls back, so
-- two workers can never both write one integration's data.
CREATE OR REPLACE FUNCTION api_sync_save_state(
    p_credential_id uuid, p_worker_id text, p_data_type text, p_state jsonb, p_lease_until timestamptz
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE client_api_credentials
    SET sync_state = CASE WHEN p_state IS NULL OR p_state = 'null'::jsonb THEN sync_state
                          -- a hand-edited or legacy value that is not an object starts over as one
                          ELSE jsonb_set(CASE WHEN jsonb_typeof(sync_state) = 'object' THEN sync_state
                                              ELSE '{}'::jsonb END, ARRAY[p_data_type], p_state) END,
        locked_until = COALESCE(p_lease_until, locked_until)
    WHERE credential_id = p_credential_id AND locked_by = p_worker_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease on integration % was lost', p_credential_id
            USING ERRCODE = 'ASL01', HINT = 'another worker took over this integration after its lease expired';
    END IF;
END
$$;

-- Insert or update rows of one data type (parallel arrays, which the PostgreSQL store sends in binary);
-- a row whose hash did not change is not written, unless it was marked deleted: a record that comes
-- back is live again (deleted_at cleared). With p_count, returns {"new": n, "updated": n} as this
-- transaction found them (xmax = 0 tells a freshly inserted row from an updated one; the REST store logs
-- them); without, NULL (telling them apart costs a RETURNING the PostgreSQL store does not need).
CREATE OR REPLACE FUNCTION api_sync_upsert_rows(
    p_client_id uuid, p_credential_id uuid, p_platform text, p_data_type text, p_now timestamptz,
    p_external_ids text[], p_data text[], p_hashes text[], p_updated timestamptz[], p_count boolean DEFAULT false
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_upsert text;
    v_new integer := 0;
    v_written integer := 0;
BEGIN
    IF COALESCE(cardinality(p_external_ids), 0) = 0 THEN
        RETURN CASE WHEN p_count THEN jsonb_build_object('new', 0, 'updated', 0) END;
    END IF;
    IF v_table IS NULL THEN
        PERFORM api_sync_ensure_data_table(p_client_id);
        v_table := api_sync_data_table(p_client_id);
    END IF;
    v_upsert := format($sql$
        INSERT INTO %s AS t (credential_id, platform_type, data_type, external_id, data, record_hash,
                             source_updated_at, first_synced_at, last_synced_at)
        SELECT $1, $2, $3, u.external_id, u.data::jsonb, u.record_hash, u.source_updated_at, $4, $4
        FROM unnest($5::text[], $6::text[], $7::text[], $8::timestamptz[])
             AS u(external_id, data, record_hash, source_updated_at)
        ON CONFLICT (credential_id, data_type, external_id) DO UPDATE
        SET data = EXCLUDED.data, record_hash = EXCLUDED.record_hash,
            source_updated_at = EXCLUDED.source_updated_at, last_synced_at = EXCLUDED.last_synced_at,
            deleted_at = NULL
        WHERE t.record_hash IS DISTINCT FROM EXCLUDED.record_hash OR t.deleted_at IS NOT NULL
    $sql$, v_table);
    IF NOT p_count THEN
        EXECUTE v_upsert USING p_credential_id, p_platform, p_data_type, p_now, p_external_ids, p_data, p_hashes,
                               p_updated;
        RETURN NULL;
    END IF;
    EXECUTE 'WITH written AS (' || v_upsert || ' RETURNING (xmax = 0) AS inserted) '
            'SELECT count(*) FILTER (WHERE inserted), count(*) FROM written'
        INTO v_new, v_written
        USING p_credential_id, p_platform, p_data_type, p_now, p_external_ids, p_data, p_hashes, p_updated;
    RETURN jsonb_build_object('new', v_new, 'updated', v_written - v_new);
END
$$;

-- One page over REST, atomically: the lease and cursor (api_sync_save_state), then the rows whose hash
-- changed (api_sync_upsert_rows). A worker whose lease was taken over gets ASL01 and nothing is written.
-- p_rows: [{"external_id": text, "data": text (JSON), "record_hash": text, "source_updated_at": ts|null}]
-- Returns {"new": n, "updated": n, "unchanged": n} as this transaction found them.
CREATE OR REPLACE FUNCTION api_sync_write_page(
    p_client_id uuid, p_credential_id uuid, p_platform text, p_data_type text, p_worker_id text,
    p_rows jsonb, p_state jsonb, p_lease_until timestamptz, p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_total integer := COALESCE(jsonb_array_length(p_rows), 0);
    v_counts jsonb;
BEGIN
    PERFORM api_sync_save_state(p_credential_id, p_worker_id, p_data_type, p_state, p_lease_until);
    SELECT api_sync_upsert_rows(p_client_id, p_credential_id, p_platform, p_data_type, p_now,
                                array_agg(r.external_id), array_agg(r.data), array_agg(r.record_hash),
                                array_agg(r.source_updated_at), true)
    INTO v_counts
    FROM jsonb_to_recordset(COALESCE(p_rows, '[]'::jsonb))
         AS r(external_id text, data text, record_hash text, source_updated_at timestamptz);
    RETURN v_counts || jsonb_build_object(
        'unchanged', v_total - (v_counts->>'new')::integer - (v_counts->>'updated')::integer);
END
$$;

-- One batch of a client's live records (deleted ones left out), by keyset on the primary key (each call
-- is short; a row an upsert changes keeps its id, so a concurrent sync never makes one appear twice or
-- vanish).
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
        'WHERE t.id > $1 AND t.data_type = ANY($2) AND t.deleted_at IS NULL ORDER BY t.id LIMIT $3', v_table)
        USING p_after_id, p_data_types, p_limit;
END
$$;

-- completeness: deletions and the audit ---------------------------------------------------------------

-- Mark rows of one data type deleted (SPEC section 2: rows are never removed). Rows already marked keep
-- their first deleted_at; returns how many were marked now. p_worker_id, when given, must hold the
-- integration's lease (the REST store marks in a call of its own, before the page that moves the cursor;
-- the PostgreSQL store marks inside the page's transaction, whose api_sync_save_state checks it).
-- One unique-index probe per id, as in api_sync_stored.
CREATE OR REPLACE FUNCTION api_sync_mark_deleted(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[], p_deleted_at timestamptz,
    p_worker_id text DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_count integer;
BEGIN
    IF p_worker_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM client_api_credentials WHERE credential_id = p_credential_id AND locked_by = p_worker_id) THEN
        RAISE EXCEPTION 'lease on integration % was lost', p_credential_id
            USING ERRCODE = 'ASL01', HINT = 'another worker took over this integration after its lease expired';
    END IF;
    IF v_table IS NULL OR COALESCE(cardinality(p_external_ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'UPDATE %1$s t SET deleted_at = $4 WHERE t.id IN ('
        'SELECT s.id FROM unnest($3::text[]) AS u(external_id) CROSS JOIN LATERAL ('
        'SELECT d.id FROM %1$s d WHERE d.credential_id = $1 AND d.data_type = $2 AND d.external_id = u.external_id '
        'AND d.deleted_at IS NULL OFFSET 0) AS s)', v_table)
        USING p_credential_id, p_data_type, p_external_ids, p_deleted_at;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- How many live rows (deleted_at null) an integration holds of one data type; with p_updated_from /
-- p_updated_to, only those whose source_updated_at is in that closed range (a platform counting by a
-- time window).
CREATE OR REPLACE FUNCTION api_sync_count_live(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_updated_from timestamptz DEFAULT NULL,
    p_updated_to timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_count bigint;
BEGIN
    IF v_table IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'SELECT count(*) FROM %s t WHERE t.credential_id = $1 AND t.data_type = $2 AND t.deleted_at IS NULL '
        'AND ($3::timestamptz IS NULL OR t.source_updated_at >= $3) '
        'AND ($4::timestamptz IS NULL OR t.source_updated_at <= $4)', v_table)
        INTO v_count USING p_credential_id, p_data_type, p_updated_from, p_updated_to;
    RETURN v_count;
END
$$;

-- One batch of an integration's live ids of one data type (with their stored versions), in id order
-- after p_after: the audit walks them by keyset through the dedup index, never the whole set at once.
-- With p_updated_from / p_updated_to, only rows whose source_updated_at is in that range.
CREATE OR REPLACE FUNCTION api_sync_live_ids(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_after text, p_limit integer,
    p_updated_from timestamptz DEFAULT NULL, p_updated_to timestamptz DEFAULT NULL
) RETURNS TABLE (external_id text, source_updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT SET enable_seqscan = off AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
BEGIN
    IF v_table IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.external_id, t.source_updated_at FROM %s t '
        'WHERE t.credential_id = $1 AND t.data_type = $2 AND t.external_id > $3 AND t.deleted_at IS NULL '
        'AND ($5::timestamptz IS NULL OR t.source_updated_at >= $5) '
        'AND ($6::timestamptz IS NULL OR t.source_updated_at <= $6) '
        'ORDER BY t.external_id LIMIT $4', v_table)
        USING p_credential_id, p_data_type, COALESCE(p_after, ''), p_limit, p_updated_from, p_updated_to;
END
$$;

-- The stored records of these ids (deleted or not): what a platform reads back to follow a deletion to
-- the rows it implies (a deleted Shopify product's inventory items are in its stored variants).
CREATE OR REPLACE FUNCTION api_sync_stored_rows(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_external_ids text[]
) RETURNS TABLE (external_id text, data jsonb, deleted_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
BEGIN
    IF v_table IS NULL OR COALESCE(cardinality(p_external_ids), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT s.external_id, s.data, s.deleted_at FROM unnest($3::text[]) AS u(external_id) '
        'CROSS JOIN LATERAL (SELECT t.external_id, t.data, t.deleted_at FROM %s t '
        'WHERE t.credential_id = $1 AND t.data_type = $2 AND t.external_id = u.external_id OFFSET 0) AS s',
        v_table) USING p_credential_id, p_data_type, p_external_ids;
END
$$;

-- The live rows of one data type whose record holds one of p_values at p_path (keys from the top; an
-- array on the way is looked into, as a jsonpath in lax mode does): e.g. the inventory levels of some
-- inventory items (path {item,id}), the products holding some variants (path {variants,id}). Two
-- columns, so that the answer is a set of rows, not of scalars, through PostgREST too.
CREATE OR REPLACE FUNCTION api_sync_ids_where(
    p_client_id uuid, p_credential_id uuid, p_data_type text, p_path text[], p_values text[]
) RETURNS TABLE (external_id text, source_updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_table regclass := api_sync_data_table(p_client_id);
    v_path jsonpath;
BEGIN
    IF v_table IS NULL OR COALESCE(cardinality(p_values), 0) = 0 OR COALESCE(cardinality(p_path), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT ('lax $' || string_agg('.' || to_jsonb(k)::text, '' ORDER BY n))::jsonpath INTO v_path
    FROM unnest(p_path) WITH ORDINALITY AS p(k, n);
    RETURN QUERY EXECUTE format(
        'SELECT t.external_id, t.source_updated_at FROM %s t WHERE t.credential_id = $1 AND t.data_type = $2 AND t.deleted_at IS NULL '
        'AND EXISTS (SELECT 1 FROM jsonb_path_query(t.data, $3) AS v(value) WHERE v.value #>> ''{}'' = ANY($4)) '
        'ORDER BY t.external_id', v_table)
        USING p_credential_id, p_data_type, v_path, p_values;
END
$$;

-- Client data tables made by an older version get the columns this one has (deleted_at, say) and lz4 for
-- the records written from then on: run by init-db, so a dashboard can rely on them before the client's
-- next sync.
CREATE OR REPLACE FUNCTION api_sync_upgrade_client_tables() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_name text;
    v_count integer := 0;
BEGIN
    FOR v_name IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          AND c.relname ~ '^client_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}_data$'
        ORDER BY c.relname
    LOOP
        PERFORM api_sync_ensure_data_table(replace(substr(v_name, 8, 36), '_', '-')::uuid);
        PERFORM api_sync_compress_with_lz4(v_name);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;

-- results and runs -----------------------------------------------------------------------------------

-- One attempt's result row and the integration's new schedule, in one transaction. A worker that lost
-- its lease still records its attempt, but leaves the schedule to the new holder. Returns whether the
-- schedule was written.
CREATE OR REPLACE FUNCTION api_sync_finish_attempt(
    p_result_id uuid, p_run_id uuid, p_client_id uuid, p_credential_id uuid, p_platform_type text,
    p_records_fetched integer, p_records_stored integer, p_sync_duration_seconds double precision,
    p_success boolean, p_data_types_synced jsonb, p_triggered_by text, p_error_message text,
    p_started_at timestamptz, p_finished_at timestamptz, p_status text, p_schedule_error text,
    p_consecutive_failures integer, p_last_sync_at timestamptz, p_next_sync_at timestamptz, p_worker_id text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO client_api_sync_results (
        result_id, run_id, client_id, credential_id, platform_type, records_fetched, records_stored,
        sync_duration_seconds, success, data_types_synced, sync_triggered_by, error_message, started_at,
        finished_at)
    VALUES (p_result_id, p_run_id, p_client_id, p_credential_id, p_platform_type, p_records_fetched,
            p_records_stored, p_sync_duration_seconds, p_success, p_data_types_synced, p_triggered_by,
            p_error_message, p_started_at, p_finished_at)
    -- Written again after a lost acknowledgement (sync/reconnect.py): the row is there already.
    ON CONFLICT (result_id) DO NOTHING;
    UPDATE client_api_credentials
    SET status = p_status, error_message = p_schedule_error, consecutive_failures = p_consecutive_failures,
        last_sync_at = COALESCE(p_last_sync_at, last_sync_at), next_sync_at = p_next_sync_at,
        locked_by = NULL, locked_until = NULL, updated_at = p_finished_at
    WHERE credential_id = p_credential_id AND locked_by = p_worker_id;
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

-- Runs whose process died stay `running` for ever: close those older than p_older_than, except the
-- runs of p_live_runs (the store works them out from the live leases' worker ids). A live run caught
-- between two claims by this is corrected by its own finish.
CREATE OR REPLACE FUNCTION api_sync_close_abandoned_runs(
    p_now timestamptz, p_older_than timestamptz, p_message text, p_live_runs uuid[]
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE api_sync_runs r
    SET status = 'failed', finished_at = p_now,
        summary = COALESCE(r.summary, '{}'::jsonb) || jsonb_build_object('error', p_message)
    WHERE r.status = 'running' AND r.started_at < p_older_than
      AND NOT (r.run_id = ANY(COALESCE(p_live_runs, '{}')));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- The latest result of each integration (what `python -m sync status` shows beside it), as one JSON
-- array (Supabase's "Max rows" cannot cut it); the (credential_id, started_at DESC) index serves it.
CREATE OR REPLACE FUNCTION api_sync_latest_results() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT COALESCE(jsonb_agg(to_jsonb(r)), '[]'::jsonb) FROM (
        SELECT DISTINCT ON (credential_id) credential_id, started_at, success, data_types_synced
        FROM client_api_sync_results WHERE credential_id IS NOT NULL
        ORDER BY credential_id, started_at DESC NULLS LAST, result_id DESC
    ) r
$$;

-- SKU analysis ---------------------------------------------------------------------------------------

-- One JSON array (not a set, which Supabase's "Max rows" would cut short): a few thousand ids at most.
CREATE OR REPLACE FUNCTION api_sync_list_client_ids() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT COALESCE(jsonb_agg(id ORDER BY id), '[]'::jsonb)
    FROM (SELECT DISTINCT client_id::text AS id FROM client_api_credentials) ids
$$;

-- Replace a client's SKU cache (SPEC section 2) in one transaction; created, or completed when an older
-- version made it with fewer columns. p_rows: an array of objects named like the columns.
CREATE OR REPLACE FUNCTION api_sync_replace_sku_cache(p_client_id uuid, p_rows jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_name text := api_sync_client_table(p_client_id, 'sku_cache');
    v_columns text[] := ARRAY(SELECT name FROM api_sync_sku_cache_columns());
    v_list text;
    v_count integer;
BEGIN
    -- Two analyses of one client at once queue here instead of racing on CREATE TABLE.
    PERFORM pg_advisory_xact_lock(hashtext(v_name));
    PERFORM api_sync_complete_table(v_name, 'sku text PRIMARY KEY', v_columns,
                                    ARRAY(SELECT type FROM api_sync_sku_cache_columns()));
    SELECT string_agg(quote_ident(c), ', ') INTO v_list FROM unnest('{sku}' || v_columns) AS c;
    EXECUTE format('DELETE FROM %I', v_name);
    -- The table's own row type reads the objects: a column named once, in api_sync_sku_cache_columns().
    EXECUTE format('INSERT INTO %1$I (%2$s) SELECT %2$s FROM jsonb_populate_recordset(NULL::%1$I, $1)',
                   v_name, v_list) USING COALESCE(p_rows, '[]'::jsonb);
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

-- The tables (the schema runs first, see install_script) and functions are now those of this version,
-- and so are the client data tables an older version made.
SELECT api_sync_upgrade_client_tables();
DELETE FROM api_sync_schema_version;
INSERT INTO api_sync_schema_version (version) VALUES ({{SCHEMA_VERSION}});

-- Tell PostgREST about the new functions now rather than at its next schema-cache reload.
NOTIFY pgrst, 'reload schema';

SELECT set_config('search_path', current_setting('api_sync.saved_search_path'), false);

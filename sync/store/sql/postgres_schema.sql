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
-- The guide's first table had no primary key: result_id (added above, filled for existing rows by its
-- default) becomes the key. A row with no id, or one sharing its id with another, gets a fresh one first,
-- so every row is kept. A table with another primary key of its own is left as it is.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'client_api_sync_results'::regclass AND contype = 'p') THEN
        UPDATE client_api_sync_results r SET result_id = gen_random_uuid()
        FROM (SELECT ctid, row_number() OVER (PARTITION BY result_id) AS n FROM client_api_sync_results) d
        WHERE r.ctid = d.ctid AND (r.result_id IS NULL OR d.n > 1);
        ALTER TABLE client_api_sync_results ADD PRIMARY KEY (result_id);
    END IF;
END $$;
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

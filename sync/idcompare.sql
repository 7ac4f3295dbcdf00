-- The statements of the id comparison (sync/idcompare.py), a temporary SQLite file; loaded by name by
-- sync/store/statements.py (the same format as the stores' queries files).

-- open --
-- A scratch file: no journal, no fsync; a crash loses nothing but the comparison itself.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA temp_store=FILE;
CREATE TABLE platform (id TEXT PRIMARY KEY, updated TEXT, seen INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID

-- begin --
BEGIN

-- commit --
COMMIT

-- add --
-- An id listed twice (a bulk export's parts overlap at their boundary) counts once, its latest version kept.
INSERT INTO platform (id, updated) VALUES (?, ?)
ON CONFLICT (id) DO UPDATE SET updated = max(COALESCE(updated, ''), COALESCE(excluded.updated, ''))

-- count --
SELECT count(*) FROM platform

-- lookup --
SELECT id, updated FROM platform WHERE id IN (SELECT value FROM json_each(?))

-- mark_seen --
UPDATE platform SET seen = 1 WHERE id IN (SELECT value FROM json_each(?))

-- unseen --
SELECT id FROM platform WHERE seen = 0 ORDER BY id

-- The statements of the bulk-result spool (spool.py), a temporary SQLite file; loaded by name by
-- sync/store/statements.py (the same format as the stores' queries files).

-- open --
-- A scratch file: no journal, no fsync; a crash loses nothing but the spool itself.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-8000;
PRAGMA temp_store=FILE;
CREATE TABLE roots (seq INTEGER PRIMARY KEY, id TEXT, line BLOB);
CREATE TABLE children (seq INTEGER PRIMARY KEY, parent TEXT, line BLOB)

-- begin --
BEGIN

-- commit --
COMMIT

-- add_root --
INSERT INTO roots VALUES (?, ?, ?)

-- add_child --
INSERT INTO children VALUES (?, ?, ?)

-- index --
-- Built once after loading: cheaper than keeping them up to date line by line.
CREATE INDEX children_by_parent ON children (parent, seq);
CREATE INDEX roots_by_id ON roots (id);
ANALYZE

-- count_children --
SELECT count(*) FROM children

-- count_placed_children --
SELECT count(*) FROM children WHERE parent IN (SELECT id FROM roots)

-- roots_with_children --
SELECT r.seq, r.line, c.line FROM roots r LEFT JOIN children c ON c.parent = r.id ORDER BY r.seq, c.seq

-- children_with_parents --
SELECT c.line, r.id, r.line FROM children c JOIN roots r ON r.id = c.parent ORDER BY c.seq

-- What a revision's impact is read from, before and after its upgrade, in the transaction it
-- runs in: each relation of the application's schemas (tables, partitioned and foreign tables,
-- views, materialized views, sequences, indexes) with its storage file (a new relfilenode: the table was
-- rewritten) and the scans this transaction made of it (more: it was read in full, e.g. to
-- validate a constraint or SET NOT NULL, or to copy it).
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relfilenode,
       coalesce(pg_stat_get_xact_numscans(c.oid), 0) AS scans,
       (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid) AS indexed_table
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'v', 'S', 'f', 'i', 'I')
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')

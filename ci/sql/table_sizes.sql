-- Each table of the application's schemas with the planner's row estimate (-1: never
-- analysed) and its total size on disk, indexes and TOAST included.
SELECT n.nspname, c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
ORDER BY 1, 2

-- The tables that hold the round trip's rows: those already known ($1) and, when :discover is
-- true (a statement that may write ran), any table this transaction wrote to; each with a
-- counter of its writes so unchanged tables need no new digest. The oids follow renames.
SELECT c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) AS name,
       pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
         + pg_stat_get_xact_tuples_deleted(c.oid) AS writes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND NOT (c.relname = $3 AND n.nspname = $2)
  AND (c.oid = ANY ($1::oid[])
       OR (:discover AND pg_stat_get_xact_tuples_inserted(c.oid)
           + pg_stat_get_xact_tuples_updated(c.oid) + pg_stat_get_xact_tuples_deleted(c.oid) > 0))

-- The tables that hold the round trip's rows, each with a counter of its writes so unchanged
-- tables need no new digest (the oids follow renames). When :discover is true (a statement that
-- may write rows ran, or the read is whole): every table already known (dbci.known), and any
-- table this transaction wrote to (when :every is true, every table: after a commit the
-- counters start again once the session's statistics are flushed; :every is a test of that
-- where the reader can tell, see ci/tracker.py); else only the known ones
-- among the relations the step touched (`wanted`, looked up by oid). One pass over pg_class
-- either way, each table's counters read once.
SELECT c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) AS name, c.writes
FROM (SELECT c.oid, c.relname, c.relnamespace,
             pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
               + pg_stat_get_xact_tuples_deleted(c.oid) AS writes
      FROM (SELECT * FROM pg_class c WHERE :discover
            UNION ALL  -- else each wanted one by its oid, as relation.sql does
            SELECT c.*
            FROM (SELECT DISTINCT w.oid FROM wanted w
                  WHERE w.kind = 'relation' AND NOT :discover) w
            CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = w.oid OFFSET 0) c) c
      WHERE c.relkind IN ('r', 'p')
      OFFSET 0) c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND NOT (c.relname = current_setting('dbci.version_table')
           AND n.nspname = current_setting('dbci.version_schema'))
  AND (c.oid = ANY (current_setting('dbci.known')::oid[]) OR (:discover AND c.writes > 0)
       OR :every)

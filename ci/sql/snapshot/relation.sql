-- Tables, views, materialized views, sequences and foreign tables, each with its columns,
-- constraints, indexes, triggers, policies and comments; `oids` lists every catalog row that
-- belongs to the unit, so a dropped index or constraint can be traced back to its table.
SELECT 'relation' AS kind, n.nspname AS schema, c.relname AS name,
       jsonb_build_object(
         'relkind', c.relkind,
         'persistence', c.relpersistence,
         'options', c.reloptions,
         'rls', c.relrowsecurity,
         -- Lookups are scalar subqueries by index: plans stay good however stale the
         -- catalog's statistics are (a round trip grows it inside one transaction), and
         -- obj_description() or col_description() would cost a function call each.
         'comment', (SELECT ds.description FROM pg_description ds WHERE ds.objoid = c.oid
                     AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0),
         'columns', (SELECT jsonb_agg(jsonb_build_object(
                         'name', a.attname,
                         'type', format_type(a.atttypid, a.atttypmod),
                         'not_null', a.attnotnull,
                         'default', (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                                     WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum),
                         'identity', nullif(a.attidentity, ''),
                         'generated', nullif(a.attgenerated, ''),
                         'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> (
                                               SELECT t.typcollation FROM pg_type t
                                               WHERE t.oid = a.atttypid)
                                           THEN a.attcollation::regcollation::text END,
                         'comment', (SELECT ds.description FROM pg_description ds
                                     WHERE ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass
                                       AND ds.objsubid = a.attnum),
                         -- Planner and storage settings (SET STATISTICS, STORAGE, COMPRESSION,
                         -- options such as n_distinct), each where not the default; without
                         -- pg_attver, which a patched PostgreSQL 15 stamps on every column anew
                         -- at each ALTER TABLE.
                         'statistics', nullif(a.attstattarget, -1),
                         'storage', (SELECT nullif(a.attstorage, t.typstorage) FROM pg_type t
                                     WHERE t.oid = a.atttypid),
                         'compression', nullif(a.attcompression, ''),
                         'options', (SELECT array_agg(o ORDER BY o) FROM unnest(a.attoptions) o
                                     WHERE o NOT LIKE 'pg\_attver=%')) ORDER BY a.attnum)
                     FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
         -- PostgreSQL 18 names NOT NULL constraints after the table they were made in, so a
         -- table renamed, dropped and made again under its new name differs by name alone:
         -- such generated names are keyed by the table's current name.
         'constraints', (SELECT jsonb_object_agg(
                             CASE WHEN k.contype = 'n' AND k.conname LIKE '%\_not\_null'
                                  THEN c.relname || '_' || (
                                      SELECT na.attname FROM pg_attribute na
                                      WHERE na.attrelid = k.conrelid AND na.attnum = k.conkey[1])
                                       || '_not_null'
                                  ELSE k.conname END,
                             pg_get_constraintdef(k.oid))
                         FROM pg_constraint k
                         WHERE k.conrelid = c.oid),
         'indexes', (SELECT jsonb_object_agg((SELECT ic.relname FROM pg_class ic
                                              WHERE ic.oid = i.indexrelid), jsonb_build_object(
                         'definition', pg_get_indexdef(i.indexrelid),
                         'comment', (SELECT ds.description FROM pg_description ds
                                     WHERE ds.objoid = i.indexrelid
                                       AND ds.classoid = 'pg_class'::regclass
                                       AND ds.objsubid = 0)))
                     FROM pg_index i WHERE i.indrelid = c.oid),
         'triggers', (SELECT jsonb_object_agg(g.tgname, pg_get_triggerdef(g.oid))
                      FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal),
         'policies', (SELECT jsonb_object_agg(p.polname, jsonb_build_object(
                          'command', p.polcmd, 'permissive', p.polpermissive,
                          'using', pg_get_expr(p.polqual, p.polrelid),
                          'check', pg_get_expr(p.polwithcheck, p.polrelid)))
                      FROM pg_policy p WHERE p.polrelid = c.oid),
         'view', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
         'sequence', (SELECT jsonb_build_object(
                          'type', s.seqtypid::regtype::text, 'start', s.seqstart,
                          'increment', s.seqincrement, 'min', s.seqmin, 'max', s.seqmax,
                          'cache', s.seqcache, 'cycle', s.seqcycle,
                          'owned_by', (SELECT oc.relname || '.' || oa.attname
                                       FROM pg_depend dp
                                       JOIN pg_class oc ON oc.oid = dp.refobjid
                                       JOIN pg_attribute oa ON oa.attrelid = dp.refobjid
                                                           AND oa.attnum = dp.refobjsubid
                                       WHERE dp.classid = 'pg_class'::regclass
                                         AND dp.objid = c.oid AND dp.deptype IN ('a', 'i')
                                         AND dp.refclassid = 'pg_class'::regclass))
                      FROM pg_sequence s WHERE s.seqrelid = c.oid),
         'partition_key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
         'partition_of', CASE WHEN c.relispartition THEN
                           (SELECT ip.inhparent::regclass::text || ' ' ||
                                   pg_get_expr(c.relpartbound, c.oid)
                            FROM pg_inherits ip WHERE ip.inhrelid = c.oid) END
       ) AS definition,
       ARRAY[c.oid]
         || ARRAY(SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = c.oid)
         || ARRAY(SELECT k.oid FROM pg_constraint k WHERE k.conrelid = c.oid)
         || ARRAY(SELECT g.oid FROM pg_trigger g WHERE g.tgrelid = c.oid)
         || ARRAY(SELECT d.oid FROM pg_attrdef d WHERE d.adrelid = c.oid)
         || ARRAY(SELECT r.oid FROM pg_rewrite r WHERE r.ev_class = c.oid)
         || ARRAY(SELECT p.oid FROM pg_policy p WHERE p.polrelid = c.oid) AS oids
-- Else the wanted ones first, each looked up by its oid (LATERAL and OFFSET 0 keep it so):
-- `oid = ANY (...)` is planned as a scan of the whole catalog while it is small, and a prepared
-- statement keeps that plan as the round trip grows the catalog.
FROM (SELECT * FROM pg_class c WHERE :everything
      UNION ALL
      SELECT c.*
      FROM (SELECT DISTINCT w.oid FROM wanted w WHERE w.kind = 'relation' AND NOT :everything) w
      CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = w.oid OFFSET 0) c
      OFFSET 0) c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND NOT (c.relname = current_setting('dbci.version_table')
           AND n.nspname = current_setting('dbci.version_schema'))
  AND (SELECT count(*) FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
       AND e.objid = c.oid AND e.deptype = 'e') = 0  -- by index, not an anti join

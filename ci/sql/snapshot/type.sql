-- Enum, domain, composite and range types that stand on their own (not a table's row type,
-- not an array, not an extension's).
SELECT 'type' AS kind, n.nspname AS schema, t.typname AS name,
       jsonb_build_object(
         'typtype', t.typtype,
         'comment', (SELECT ds.description FROM pg_description ds WHERE ds.objoid = t.oid
                     AND ds.classoid = 'pg_type'::regclass AND ds.objsubid = 0),
         'labels', CASE WHEN t.typtype = 'e' THEN
                     (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder)
                      FROM pg_enum e WHERE e.enumtypid = t.oid) END,
         'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
         'not_null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
         'default', t.typdefault,
         'constraints', (SELECT jsonb_object_agg(k.conname, pg_get_constraintdef(k.oid))
                         FROM pg_constraint k WHERE k.contypid = t.oid),
         'attributes', CASE WHEN t.typtype = 'c' THEN
                         (SELECT jsonb_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                           ORDER BY a.attnum)
                          FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                                AND NOT a.attisdropped) END,
         'range', CASE WHEN t.typtype = 'r' THEN
                    (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r
                     WHERE r.rngtypid = t.oid) END
       ) AS definition,
       ARRAY[t.oid] || ARRAY(SELECT k.oid FROM pg_constraint k WHERE k.contypid = t.oid)
         || ARRAY(SELECT t.typrelid WHERE t.typrelid <> 0) AS oids
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typtype IN ('e', 'd', 'r', 'm')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND (SELECT count(*) FROM pg_depend e WHERE e.classid = 'pg_type'::regclass
       AND e.objid = t.oid AND e.deptype = 'e') = 0  -- by index, not an anti join
  AND (:everything OR t.oid = ANY (ARRAY(SELECT w.oid FROM wanted w WHERE w.kind = 'type')))

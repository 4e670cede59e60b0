-- Functions and procedures (not aggregates, not an extension's), by name and argument types.
SELECT 'function' AS kind, n.nspname AS schema,
       p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS name,
       jsonb_build_object('definition', pg_get_functiondef(p.oid),
                          'comment', (SELECT ds.description FROM pg_description ds
                                      WHERE ds.objoid = p.oid
                                        AND ds.classoid = 'pg_proc'::regclass
                                        AND ds.objsubid = 0)) AS definition,
       ARRAY[p.oid] AS oids
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p')
  AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND (SELECT count(*) FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
       AND e.objid = p.oid AND e.deptype = 'e') = 0  -- by index, not an anti join
  AND (:everything OR p.oid = ANY (ARRAY(SELECT w.oid FROM wanted w WHERE w.kind = 'function')))

-- Schemas other than the system's.
SELECT 'schema' AS kind, n.nspname AS schema, n.nspname AS name,
       jsonb_build_object('comment', (SELECT ds.description FROM pg_description ds
                                      WHERE ds.objoid = n.oid
                                        AND ds.classoid = 'pg_namespace'::regclass
                                        AND ds.objsubid = 0)) AS definition,
       ARRAY[n.oid] AS oids
FROM pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')
  AND (:everything OR n.oid = ANY (ARRAY(SELECT w.oid FROM wanted w WHERE w.kind = 'schema')))

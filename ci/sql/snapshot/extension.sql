-- Extensions, with their version and schema (their member objects belong to them).
SELECT 'extension' AS kind, n.nspname AS schema, x.extname AS name,
       jsonb_build_object('version', x.extversion) AS definition,
       ARRAY[x.oid] AS oids
FROM pg_extension x
JOIN pg_namespace n ON n.oid = x.extnamespace
WHERE :everything OR x.oid = ANY (ARRAY(SELECT w.oid FROM wanted w WHERE w.kind = 'extension'))

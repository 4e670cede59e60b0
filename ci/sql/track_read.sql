-- What the DDL since the last read touched, then forget it. Live objects are mapped to the
-- snapshot unit that holds them (an index or constraint to its table); dropped ones come back
-- as bare oids, which the caller maps through the units it knew.
WITH taken AS (
    DELETE FROM pg_temp.dbci_touched RETURNING classid, objid, dropped
), live AS (
    SELECT DISTINCT classid, objid FROM taken t
    WHERE NOT t.dropped
      -- a scalar subquery, so each row looks pg_depend up by index (an anti join scans it)
      AND (SELECT count(*) FROM pg_depend e WHERE e.classid = t.classid
           AND e.objid = t.objid AND e.deptype = 'e') = 0
), dependents AS (
    -- What names a touched object in its own definition (a foreign key to a renamed table,
    -- a column of a renamed type, a view) reads differently now, so its unit counts as touched.
    SELECT l.classid, l.objid FROM live l
    UNION
    SELECT d.classid, d.objid FROM live l
    JOIN pg_depend d ON d.refclassid = l.classid AND d.refobjid = l.objid
    WHERE d.deptype IN ('n', 'a')
), owner AS (
    SELECT l.objid,
           CASE l.classid
             WHEN 'pg_class'::regclass THEN
               (SELECT CASE WHEN c.relkind IN ('i', 'I')
                            THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid)
                            ELSE c.oid END FROM pg_class c WHERE c.oid = l.objid)
             WHEN 'pg_constraint'::regclass THEN
               (SELECT nullif(k.conrelid, 0) FROM pg_constraint k WHERE k.oid = l.objid)
             WHEN 'pg_attrdef'::regclass THEN
               (SELECT d.adrelid FROM pg_attrdef d WHERE d.oid = l.objid)
             WHEN 'pg_trigger'::regclass THEN
               (SELECT g.tgrelid FROM pg_trigger g WHERE g.oid = l.objid)
             WHEN 'pg_rewrite'::regclass THEN
               (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = l.objid)
             WHEN 'pg_policy'::regclass THEN
               (SELECT p.polrelid FROM pg_policy p WHERE p.oid = l.objid)
             WHEN 'pg_type'::regclass THEN
               (SELECT t.typrelid FROM pg_type t WHERE t.oid = l.objid AND t.typrelid <> 0
                  AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) <> 'c')
           END AS relid,
           CASE l.classid
             WHEN 'pg_type'::regclass THEN
               (SELECT t.oid FROM pg_type t WHERE t.oid = l.objid AND t.typelem = 0
                  AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class
                                          WHERE oid = t.typrelid) = 'c'))
             WHEN 'pg_constraint'::regclass THEN
               (SELECT nullif(k.contypid, 0) FROM pg_constraint k WHERE k.oid = l.objid)
             WHEN 'pg_class'::regclass THEN
               (SELECT c.reltype FROM pg_class c WHERE c.oid = l.objid AND c.relkind = 'c')
           END AS typid,
           l.classid
    FROM dependents l
)
SELECT 'relation' AS kind, n.nspname AS schema, c.relname AS name, o.objid
FROM owner o JOIN pg_class c ON c.oid = o.relid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE o.relid IS NOT NULL AND c.relkind <> 'c'
UNION
SELECT 'type', n.nspname, t.typname, o.objid
FROM owner o JOIN pg_type t ON t.oid = o.typid JOIN pg_namespace n ON n.oid = t.typnamespace
UNION
SELECT 'function', n.nspname,
       p.proname || '(' || oidvectortypes(p.proargtypes) || ')', o.objid
FROM owner o JOIN pg_proc p ON p.oid = o.objid JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE o.classid = 'pg_proc'::regclass
UNION
SELECT 'schema', n.nspname, n.nspname, o.objid
FROM owner o JOIN pg_namespace n ON n.oid = o.objid
WHERE o.classid = 'pg_namespace'::regclass
UNION
SELECT 'extension', n.nspname, x.extname, o.objid
FROM owner o JOIN pg_extension x ON x.oid = o.objid JOIN pg_namespace n ON n.oid = x.extnamespace
WHERE o.classid = 'pg_extension'::regclass
UNION
SELECT 'unknown', NULL, l.classid::regclass::text, l.objid
FROM live l
WHERE l.classid NOT IN ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_attrdef'::regclass,
                        'pg_trigger'::regclass, 'pg_rewrite'::regclass, 'pg_policy'::regclass,
                        'pg_type'::regclass, 'pg_proc'::regclass, 'pg_namespace'::regclass,
                        'pg_extension'::regclass, 'pg_index'::regclass,
                        'pg_sequence'::regclass, 'pg_statistic_ext'::regclass,
                        'pg_default_acl'::regclass, 0)
UNION
SELECT 'dropped', NULL, NULL, t.objid FROM taken t WHERE t.dropped

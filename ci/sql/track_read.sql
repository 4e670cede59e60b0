-- The CTEs naming what the DDL since the last read touched, emptying the log (`touched`: the
-- units, by kind, schema and name). Live objects map to the snapshot unit that holds them (an
-- index or constraint to its table); dropped ones, and a renamed object's old name, through
-- the owners recorded when their units were last read (dbci_track.owner).
taken AS (
    DELETE FROM pg_temp.dbci_touched RETURNING classid, objid, dropped
), live AS (
    SELECT DISTINCT classid, objid FROM taken t
    WHERE NOT t.dropped
      -- a scalar subquery, so each row looks pg_depend up by index (an anti join scans it)
      AND (SELECT count(*) FROM pg_depend e WHERE e.classid = t.classid
           AND e.objid = t.objid AND e.deptype = 'e') = 0
), now AS (
    -- The live objects that are units of their own, named as they are now. pg_class is
    -- looked up by oid, one key at a time (LATERAL, OFFSET 0), as in snapshot/relation.sql.
    SELECT c.oid AS objid, n.nspname AS schema, c.relname AS name
    FROM (SELECT DISTINCT objid FROM live WHERE classid = 'pg_class'::regclass) l
    CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = l.objid OFFSET 0) c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    UNION ALL
    SELECT t.oid, n.nspname, t.typname
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.oid = ANY (ARRAY(SELECT objid FROM live WHERE classid = 'pg_type'::regclass))
    UNION ALL
    SELECT p.oid, n.nspname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.oid = ANY (ARRAY(SELECT objid FROM live WHERE classid = 'pg_proc'::regclass))
), renamed AS (
    -- Known objects renamed, or with a column or label renamed: what names them in its own
    -- definition (a foreign key to the table or column, a column of the type, a view, a
    -- trigger calling the function) reads differently now. No other change alters how an
    -- object's dependents read.
    SELECT w.objid FROM now JOIN dbci_track.owner w ON w.objid = now.objid
    WHERE w.objid = ANY (ARRAY(SELECT objid FROM now)) AND w.main  -- by index
      AND ((w.schema, w.name) IS DISTINCT FROM (now.schema, now.name)
           OR EXISTS (SELECT FROM unnest(w.detail) o, unnest(dbci_track.names(now.objid)) n
                      WHERE split_part(o, ':', 1) = split_part(n, ':', 1) AND o <> n))
), dependents AS (
    SELECT l.classid, l.objid FROM live l
    UNION
    SELECT d.classid, d.objid FROM live l
    JOIN pg_depend d ON d.refclassid = l.classid AND d.refobjid = l.objid
    WHERE d.deptype IN ('n', 'a') AND l.objid IN (SELECT objid FROM renamed)
    UNION  -- a renamed table's row type is renamed with it: what names that type in its own
    SELECT d.classid, d.objid  -- definition (a function's arguments, a column) reads differently
    FROM (SELECT objid FROM live WHERE classid = 'pg_class'::regclass
          AND objid IN (SELECT objid FROM renamed)) l
    CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = l.objid OFFSET 0) c
    JOIN pg_depend d ON d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype
    WHERE d.deptype IN ('n', 'a')
), holder AS (
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
), touched AS (
    -- Each kind by `oid = ANY (ARRAY(...))`, an index scan however stale the statistics of a
    -- catalog the round trip grows inside one transaction; pg_class, where the planner scans
    -- it whole instead, one oid at a time as in `now`.
    SELECT 'relation' AS kind, n.nspname AS schema, c.relname AS name
    FROM (SELECT DISTINCT relid FROM holder) h
    CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = h.relid OFFSET 0) c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind <> 'c'
    UNION
    SELECT 'type', n.nspname, t.typname
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.oid = ANY (ARRAY(SELECT typid FROM holder))
    UNION
    SELECT 'function', n.nspname, p.proname || '(' || oidvectortypes(p.proargtypes) || ')'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.oid = ANY (ARRAY(SELECT objid FROM holder WHERE classid = 'pg_proc'::regclass))
    UNION
    SELECT 'schema', n.nspname, n.nspname
    FROM pg_namespace n
    WHERE n.oid = ANY (ARRAY(SELECT objid FROM holder WHERE classid = 'pg_namespace'::regclass))
    UNION
    SELECT 'extension', n.nspname, x.extname
    FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
    WHERE x.oid = ANY (ARRAY(SELECT objid FROM holder WHERE classid = 'pg_extension'::regclass))
    UNION
    SELECT 'unknown', NULL, l.classid::regclass::text
    FROM live l
    WHERE l.classid NOT IN ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_attrdef'::regclass,
                            'pg_trigger'::regclass, 'pg_rewrite'::regclass, 'pg_policy'::regclass,
                            'pg_type'::regclass, 'pg_proc'::regclass, 'pg_namespace'::regclass,
                            'pg_extension'::regclass, 'pg_index'::regclass,
                            'pg_sequence'::regclass, 'pg_statistic_ext'::regclass,
                            'pg_default_acl'::regclass, 0)
    UNION
    SELECT w.kind, w.schema, w.name
    FROM dbci_track.owner w
    WHERE w.objid = ANY (ARRAY(SELECT objid FROM dependents  -- by index
                               UNION ALL SELECT objid FROM taken WHERE dropped))
)

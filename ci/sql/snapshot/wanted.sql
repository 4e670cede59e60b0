-- The units a partial snapshot asks for (the rows of `named`), and the oid each name has now
-- (NULL when nothing of that name exists). Names are quoted here, so any identifier works.
SELECT w.kind, w.schema, w.name,
       CASE w.kind
         WHEN 'relation' THEN to_regclass(format('%I.%I', w.schema, w.name))::oid
         WHEN 'type' THEN to_regtype(format('%I.%I', w.schema, w.name))::oid
         -- by the name the unit has (to_regprocedure raises before PostgreSQL 16 where an
         -- argument's type is gone, as after a table whose row type it was is renamed)
         WHEN 'function' THEN (SELECT p.oid FROM pg_proc p
                               JOIN pg_namespace n ON n.oid = p.pronamespace
                               WHERE p.proname = split_part(w.name, '(', 1)
                                 AND n.nspname = w.schema
                                 AND p.proname || '(' || oidvectortypes(p.proargtypes) || ')'
                                     = w.name)
         WHEN 'schema' THEN to_regnamespace(quote_ident(w.name))::oid
         WHEN 'extension' THEN (SELECT x.oid FROM pg_extension x WHERE x.extname = w.name)
       END AS oid
FROM named w

-- The units a partial snapshot asks for (the rows of `named`), and the oid each name has now
-- (NULL when nothing of that name exists). Names are quoted here, so any identifier works.
SELECT w.kind, w.schema, w.name,
       CASE w.kind
         WHEN 'relation' THEN to_regclass(format('%I.%I', w.schema, w.name))::oid
         WHEN 'type' THEN to_regtype(format('%I.%I', w.schema, w.name))::oid
         WHEN 'function' THEN to_regprocedure(format('%I.%I', w.schema,
                                split_part(w.name, '(', 1)) || '(' ||
                                substr(w.name, length(split_part(w.name, '(', 1)) + 2))::oid
         WHEN 'schema' THEN to_regnamespace(quote_ident(w.name))::oid
         WHEN 'extension' THEN (SELECT x.oid FROM pg_extension x WHERE x.extname = w.name)
       END AS oid
FROM named w

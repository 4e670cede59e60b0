-- Count what a database holds beyond an empty one: schemas other than public, extensions other
-- than plpgsql, and relations, types and routines in public.
SELECT (SELECT count(*) FROM pg_namespace
        WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public'))
     + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
     + (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace)
     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace
                                      AND typtype IN ('e', 'd', 'r', 'm'))
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)

-- In a lent database, with its advisory lock held (so no other dbci run is at work there): end
-- the sessions a killed dbci run left behind, still running a statement (pg_sleep, a long
-- UPDATE) and holding locks until it ends; then wait, briefly, for them to be gone. Sessions that
-- only make databases or wait for their turn here are named 'dbci admin'
-- (database.ADMIN_APPLICATION): another run's, alive, and left alone.
DO $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '10 seconds';
    orphans int[] := ARRAY(SELECT pid FROM pg_stat_activity
                           WHERE datname = current_database() AND pid <> pg_backend_pid()
                             AND application_name LIKE 'dbci%'
                             AND application_name <> 'dbci admin');
BEGIN
    PERFORM pg_terminate_backend(pid) FROM unnest(orphans) AS pid;
    WHILE EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ANY (orphans))
          AND clock_timestamp() < deadline LOOP
        PERFORM pg_sleep(0.05);
        PERFORM pg_stat_clear_snapshot();  -- else the first look is seen again, till the end
    END LOOP;
END
$$;

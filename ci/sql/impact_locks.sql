-- The relation locks this session's transaction holds: after a revision's upgrade in a
-- transaction of its own, exactly the locks the revision took (held until its commit).
SELECT l.relation, l.mode
FROM pg_locks l
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())

-- Record which objects each DDL command touched: two event triggers append to a temporary
-- table of this session (so other sessions are unaffected, and a rollback to a savepoint also
-- rolls back what was recorded). Needs a role that may create event triggers (a superuser).
CREATE SCHEMA IF NOT EXISTS dbci_track;
CREATE TEMP TABLE IF NOT EXISTS dbci_touched (classid oid, objid oid, dropped bool);
-- A row before each step that may commit: a read after it finds their count of inserts back
-- at zero where the session's statistics were flushed meanwhile (see ci/tracker.py).
CREATE TEMP TABLE IF NOT EXISTS dbci_marks ();
-- The unit each catalog row belonged to when its unit was last read: names what was dropped.
-- In dbci's schema rather than pg_temp: schemainspect (migra) trips over a temporary table's
-- index. Reads are transactional like the rest, so a savepoint rolled back forgets them too.
CREATE UNLOGGED TABLE IF NOT EXISTS dbci_track.owner (
    objid oid PRIMARY KEY, kind text NOT NULL, schema text, name text NOT NULL,
    main bool NOT NULL, detail text[]);
TRUNCATE dbci_track.owner;
-- The names an object's dependents spell out besides its own: a relation's (or a composite
-- type's) columns, an enum's labels; each after what keeps it across a rename (attnum, oid).
-- In PL/pgSQL, whose plans the session keeps: a SQL function's is made again at each statement
-- that calls it before PostgreSQL 18 (two in each read).
CREATE OR REPLACE FUNCTION dbci_track.names(object oid) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY(
        SELECT a.attnum || ':' || a.attname FROM pg_attribute a
        WHERE a.attrelid = coalesce(nullif((SELECT t.typrelid FROM pg_type t
                                            WHERE t.oid = object), 0), object)
          AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT e.oid || ':' || e.enumlabel FROM pg_enum e WHERE e.enumtypid = object);
END
$$;
CREATE OR REPLACE FUNCTION dbci_track.record() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.dbci_touched') IS NULL THEN
        RETURN;  -- another session's DDL
    ELSIF TG_EVENT = 'sql_drop' THEN
        INSERT INTO pg_temp.dbci_touched
        SELECT classid, objid, true FROM pg_event_trigger_dropped_objects();
    ELSE
        INSERT INTO pg_temp.dbci_touched
        SELECT classid, objid, false FROM pg_event_trigger_ddl_commands();
    END IF;
END
$$;
DROP EVENT TRIGGER IF EXISTS dbci_ddl_command_end;
DROP EVENT TRIGGER IF EXISTS dbci_sql_drop;
CREATE EVENT TRIGGER dbci_ddl_command_end ON ddl_command_end EXECUTE FUNCTION dbci_track.record();
CREATE EVENT TRIGGER dbci_sql_drop ON sql_drop EXECUTE FUNCTION dbci_track.record();

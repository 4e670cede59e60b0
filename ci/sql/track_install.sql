-- Record which objects each DDL command touched: two event triggers append to a temporary
-- table of this session (so other sessions are unaffected, and a rollback to a savepoint also
-- rolls back what was recorded). Needs a role that may create event triggers (a superuser).
CREATE SCHEMA IF NOT EXISTS dbci_track;
CREATE TEMP TABLE IF NOT EXISTS dbci_touched (classid oid, objid oid, dropped bool);
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

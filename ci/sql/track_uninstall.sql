-- Drop the event triggers with their function; the schema stays as dbci's mark on a lent
-- database (emptying the database drops it).
DROP FUNCTION IF EXISTS dbci_track.record() CASCADE;
DROP TABLE IF EXISTS dbci_track.owner;
DROP FUNCTION IF EXISTS dbci_track.names(oid);

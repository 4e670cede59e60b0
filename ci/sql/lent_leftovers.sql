-- Whether a lent database holds what a killed dbci run left: dbci marks a database it was lent
-- with its schema dbci_track before it creates anything, and drops everything when it is done.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'dbci_track')

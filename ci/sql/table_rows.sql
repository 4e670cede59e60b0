-- The tables this transaction inserted rows into (data fixtures, data migrations): the ones
-- whose rows the round trip checks survive each step.
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_xact_user_tables s
WHERE s.n_tup_ins > 0 AND s.schemaname NOT IN ('dbci_track')
  AND NOT (s.relname = $2 AND s.schemaname = $1)

-- A CTE recording the owner of each catalog row of the units just read (`units`), so what is
-- dropped later is traced back to its unit; and for the unit's own object (`main`) the names
-- of its columns or labels (`detail`), so a rename is told from other changes. Inside a
-- savepoint rolled back, it is forgotten too; a read inside one that will be (dbci.keep false)
-- records nothing.
remember AS (
    INSERT INTO dbci_track.owner AS known (objid, kind, schema, name, main, detail)
    SELECT DISTINCT ON (o.objid) o.objid, u.kind, u.schema, u.name, o.n = 1,
           CASE WHEN o.n = 1 THEN dbci_track.names(o.objid) END
    FROM units u, unnest(u.oids) WITH ORDINALITY AS o(objid, n)
    WHERE current_setting('dbci.keep')::bool
    ORDER BY o.objid, o.n
    ON CONFLICT (objid) DO UPDATE
        SET kind = excluded.kind, schema = excluded.schema, name = excluded.name,
            main = excluded.main, detail = excluded.detail
        WHERE (known.kind, known.schema, known.name, known.main, known.detail)
              IS DISTINCT FROM (excluded.kind, excluded.schema, excluded.name, excluded.main,
                                excluded.detail)  -- no dead rows
)

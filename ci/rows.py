"""The rows a round trip keeps an eye on: digests of the tables that hold data, recomputed
only where a step wrote rows or changed a table's shape."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ci.database import READS, run_prepared, sql, verb
from ci.snapshot import UnitKey

#: Statements that cannot change rows (SELECT may call a writing function: that is not caught).
SCHEMA_ONLY = READS | {"CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE"}


Digest = tuple[int, str]
"""(row count, md5 of the rows as jsonb): equal when a table holds the same rows."""


class Rows:
    """Digests of the tables holding rows; recomputed only where a step wrote or changed DDL."""

    def __init__(self, version_table: tuple[str, str]) -> None:
        self.version_table = version_table
        self.digests: dict[str, Digest] = {}  # by table name: the state as it stands
        self.writes: dict[int, int] = {}  # oid -> write counter when last digested
        self.names: dict[int, str] = {}  # oid -> quoted name, as last seen
        self.tables: dict[int, tuple[str, str]] = {}  # oid -> (schema, table), as last seen
        self.wrote = True  # a statement that may write rows ran since the last look

    def watch(self, connection: sa.Connection) -> None:
        """Note statements that may write rows, so quiet steps skip looking for new tables."""

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not self.wrote and verb(statement) not in SCHEMA_ONLY:
                self.wrote = True

        event.listen(connection, "before_cursor_execute", before)

    def _changed(self, conn: sa.Connection, keys: set[UnitKey] | None,
                 remember: bool = True) -> set[str]:
        """Tables written since their last digest, or whose DDL the step touched.

        Inside a savepoint that will be rolled back, ``remember`` is False: names and counters
        seen there (a table renamed back by the downgrade) must not outlive it.
        """
        discover = self.wrote or keys is None
        self.wrote = False
        touched = None if keys is None else {(s, n) for kind, s, n in keys if kind == "relation"}
        if not discover and not (touched and touched & set(self.tables.values())):
            return set()  # nothing wrote rows, and no table holding rows changed shape
        name = "dbci_table_activity" + ("_discover" if discover else "")
        text = sql("table_activity").replace(":discover", "true" if discover else "false")
        rows = run_prepared(conn, name, text,
                            ("{" + ",".join(map(str, self.names)) + "}", *self.version_table))
        changed = {name for oid, schema, table, name, writes in rows
                   if self.writes.get(oid) != writes or touched is None
                   or (schema, table) in touched}
        for oid, schema, table, name, writes in rows if remember else ():
            self.names[oid] = name
            self.tables[oid] = (schema, table)
            self.writes[oid] = writes
        gone = set(self.digests) - {row[3] for row in rows}
        return changed | gone

    def _digest(self, conn: sa.Connection, names: set[str]) -> dict[str, Digest | None]:
        out: dict[str, Digest | None] = {}
        for name in sorted(names):
            if conn.exec_driver_sql("SELECT to_regclass(%(n)s)", {"n": name}).scalar() is None:
                out[name] = None
                continue
            count, digest = conn.exec_driver_sql(  # jsonb: independent of column order
                f"SELECT count(*), md5(coalesce(string_agg(md5(to_jsonb(t)::text), ',' "
                f"ORDER BY md5(to_jsonb(t)::text)), '')) FROM {name} t").one()
            out[name] = (count, digest) if count else None
        return out

    def update(self, conn: sa.Connection, keys: set[UnitKey] | None) -> dict[str, Digest | None]:
        """Bring the digests up to date after a step; returns the previous ones it replaced."""
        fresh = self._digest(conn, self._changed(conn, keys))
        previous = {name: self.digests.get(name) for name in fresh}
        for name, digest in fresh.items():
            if digest is None:
                self.digests.pop(name, None)
            else:
                self.digests[name] = digest
        return previous

    def compare(self, conn: sa.Connection, keys: set[UnitKey] | None,
                previous: dict[str, Digest | None]) -> list[tuple[str, Digest, Digest | None]]:
        """Tables whose rows differ from before the upgrade: (name, before, now)."""
        names = self._changed(conn, keys, remember=False) | set(previous)
        now = self._digest(conn, names)
        out = []
        for name in sorted(names):
            before = previous[name] if name in previous else self.digests.get(name)
            if before is not None and now.get(name) != before:
                out.append((name, before, now.get(name)))
        return out

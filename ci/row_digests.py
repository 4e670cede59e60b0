"""The rows a round trip keeps an eye on: digests of the tables that hold data, recomputed
only where a step wrote rows or changed a table's shape."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions
import sqlalchemy as sa

from ci.db.runners import READS, refused, run_plain, verb
from ci.db.urls import mask_url
from ci.errors import OutsideFailure
from ci.tracker import Read, Table

#: Statements that cannot change a table's rows by their grammar. Everything else may (a
#: ``SELECT wipe()`` calls a function that deletes, ``EXPLAIN ANALYZE`` runs what it explains):
#: after one, the server's per-table write counters of the transaction say which tables it
#: wrote, so rows are watched by what the server did, not by how the SQL starts.
SCHEMA_ONLY = (READS - {"SELECT", "EXPLAIN"}) | {"CREATE", "ALTER", "DROP", "COMMENT", "GRANT",
                                                 "REVOKE"}


Digest = tuple[int, str]
"""(row count, md5 of the rows as jsonb): equal when a table holds the same rows."""


def count_writes(connection: sa.Connection) -> None:
    """See that the server counts this session's writes per table (``track_counts``, on by
    default), which the row check reads: where the server or the role turned it off, turn it on
    for the session (a superuser may); a role that may not stops the run, rather than pass
    every change of rows unseen."""
    if run_plain(connection, "SELECT current_setting('track_counts')::bool")[0][0]:
        return
    refusal = refused(connection, lambda: run_plain(connection, "SET track_counts = on"))
    if refusal is not None:
        raise OutsideFailure(
            f"the server at {mask_url(connection.engine.url)} does not count writes "
            "(track_counts = off) and this role may not turn it on, so the round trip cannot "
            "see which rows a step changed; turn track_counts on in the server's configuration "
            "or for the role (ALTER ROLE ... SET track_counts = on, as a superuser)") from refusal


class Watch:
    """What the statements sent since the last look may have done.

    It watches the driver's cursors, not SQLAlchemy's events: while it is on, every cursor the
    connection makes without asking for a kind of its own is of a kind that tells it, so a
    revision's statements are seen whether they go through Alembic, SQLAlchemy or a cursor of
    the driver's it took itself (``op.get_bind().connection.cursor()``). dbci's own SQL goes
    through plain cursors (``runners.own_cursor``) and is not seen.
    """

    def __init__(self, connection: sa.Connection) -> None:
        self.ran = True  # any statement
        self.wrote = True  # one that may write rows
        driver: Any = connection.connection.driver_connection
        self.driver, self.previous = driver, driver.cursor_factory
        watch = self

        base = self.previous or psycopg2.extensions.cursor

        class Watched(base):  # type: ignore[misc,valid-type]
            def execute(self, query: Any, vars: Any = None) -> Any:
                watch.saw(query)
                return super().execute(query, vars)

            def executemany(self, query: Any, vars_list: Any) -> Any:
                watch.saw(query, writes=True)
                return super().executemany(query, vars_list)

            # statements not given as text: each may write
            callproc, copy_expert, copy_from, copy_to = (
                _telling(watch, getattr(base, name))
                for name in ("callproc", "copy_expert", "copy_from", "copy_to"))

        driver.cursor_factory = Watched

    def saw(self, statement: Any, writes: bool = False) -> None:
        """A statement was sent (None, or one not given as text: it may write)."""
        self.ran = True
        if self.wrote:
            return
        if isinstance(statement, bytes):
            statement = statement.decode(errors="replace")
        self.wrote = writes or not isinstance(statement, str) or verb(statement) not in SCHEMA_ONLY

    def look(self) -> tuple[bool, bool]:
        """(ran, wrote) since the last look."""
        seen = self.ran, self.wrote
        self.ran = self.wrote = False
        return seen

    def close(self) -> None:
        """Stop watching: the connection makes cursors of the kind it made before."""
        self.driver.cursor_factory = self.previous


def _telling(watch: Watch, method: Any) -> Any:
    """A cursor's ``method`` that first tells ``watch`` a statement that may write was sent."""

    def told(cursor: Any, *args: Any, **kwargs: Any) -> Any:
        watch.saw(None)
        return method(cursor, *args, **kwargs)

    return told


def digests(conn: sa.Connection, names: set[str],
            tables: list[Table] | None) -> dict[str, Digest | None]:
    """Each table's digest, in one statement; None for an empty or missing one."""
    present = sorted(names & {t.name for t in tables or ()})
    out: dict[str, Digest | None] = dict.fromkeys(names)
    if present:
        union = "\nUNION ALL\n".join(  # jsonb: independent of column order
            f"SELECT %(n{i})s, count(*), md5(coalesce(string_agg(md5(to_jsonb(t)::text), ',' "
            f"ORDER BY md5(to_jsonb(t)::text)), '')) FROM {name} t"
            for i, name in enumerate(present))
        rows = run_plain(conn, union, {f"n{i}": n for i, n in enumerate(present)})
        out.update({name: (count, digest) if count else None
                    for name, count, digest in rows})
    return out


class Rows:
    """Digests of the tables holding rows; recomputed only where a step wrote or changed DDL."""

    def __init__(self) -> None:
        self.digests: dict[str, Digest] = {}  # by table name: the state as it stands
        self.writes: dict[int, int] = {}  # oid -> write counter when last digested
        self.names: dict[int, str] = {}  # oid -> quoted name, as last seen
        self.tables: dict[int, tuple[str, str]] = {}  # oid -> (schema, table), as last seen

    def committed(self) -> None:
        """The transaction committed: the server's write counters start again at zero once the
        session's statistics are flushed (between transactions, at most once a second), so a
        table's count of writes since then is its whole counter; one not yet flushed reads as
        a change, and the table is digested again."""
        self.writes = dict.fromkeys(self.writes, 0)

    def recount(self) -> None:
        """A step committed part of its work: the write counters no longer tell which tables it
        wrote to, so every table is digested again at the next read."""
        self.writes.clear()

    def known(self) -> list[int]:
        """The oids of the tables known to hold rows."""
        return list(self.names)

    def _changed(self, read: Read, remember: bool = True) -> set[str]:
        """Tables written since their last digest, whose DDL the read's step touched, or gone.

        Inside a savepoint that will be rolled back, ``remember`` is False: names and counters
        seen there (a table renamed back by the downgrade) must not outlive it.
        """
        if read.tables is None:
            return set()  # nothing ran: nothing changed
        touched = None if read.keys is None else {(s, n) for kind, s, n in read.keys
                                                  if kind == "relation"}
        changed = {t.name for t in read.tables if self.writes.get(t.oid) != t.writes
                   or touched is None or (t.schema, t.table) in touched}
        looked = {name: read.discovered or touched is None or self.tables[oid] in touched
                  for oid, name in self.names.items()}
        for t in read.tables if remember else ():
            self.names[t.oid] = t.name
            self.tables[t.oid] = (t.schema, t.table)
            self.writes[t.oid] = t.writes
        seen = {t.name for t in read.tables}
        gone = {name for name in self.digests if looked.get(name, True) and name not in seen}
        return changed | gone

    def update(self, conn: sa.Connection, read: Read) -> dict[str, Digest | None]:
        """Bring the digests up to date after a step; returns the previous ones it replaced."""
        fresh = digests(conn, self._changed(read), read.tables)
        previous = {name: self.digests.get(name) for name in fresh}
        for name, digest in fresh.items():
            if digest is None:
                self.digests.pop(name, None)
            else:
                self.digests[name] = digest
        for t in read.tables or ():  # empty and unwritten (a read of every table lists them):
            if not t.writes and t.name not in self.digests:  # a write will name them
                self.names.pop(t.oid, None)
                self.writes.pop(t.oid, None)
                self.tables.pop(t.oid, None)
        return previous

    def compare(self, conn: sa.Connection, read: Read,
                previous: dict[str, Digest | None]) -> list[tuple[str, Digest, Digest | None]]:
        """Tables whose rows differ from before the upgrade (``previous``), read after the
        downgrade: (name, before, now)."""
        changed = self._changed(read, remember=False)
        now = digests(conn, changed, read.tables)
        out = []
        for name in sorted(changed | set(previous)):
            before = previous[name] if name in previous else self.digests.get(name)
            after = now[name] if name in now else self.digests.get(name)
            if before is not None and after != before:
                out.append((name, before, after))
        return out

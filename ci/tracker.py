"""What a step of the round trip did, read in one round trip: the snapshot units its DDL touched
(told by two event triggers), those units as they stand now, and the tables holding rows. A
tracked read is a PL/pgSQL function of the session (:func:`_function`), which reads the tables
alone where the triggers logged nothing.

Where the role may not create event triggers (insufficient_privilege, and only then), every
read is whole: every unit, every table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import sqlalchemy as sa

from ci.db.runners import refused, run_plain, run_prepared, run_script, sql
from ci.errors import error_line
from ci.snapshot import KINDS, Snapshot, Unit, UnitKey, units_sql, version_settings


@dataclass(frozen=True)
class Table:
    """A table holding rows, as it stands: its oid, names and counter of writes."""

    oid: int
    schema: str
    table: str
    name: str  # quoted: "schema"."table"
    writes: int


@dataclass(frozen=True)
class Read:
    """What the statements since the last read did.

    ``keys``: the units they touched (None: any may have changed, so ``units`` holds them all);
    ``units``: those of them that exist now; ``tables``: tables holding rows as they stand, of
    every one known and every one written to when ``discovered``, else of those known among the
    touched relations (None when nothing ran, so nothing was read).
    """

    keys: set[UnitKey] | None
    units: Snapshot
    tables: list[Table] | None
    discovered: bool = False
    every_table: bool = False  # it listed every table: write counters tell nothing


#: A read of a step that ran no statement.
NOTHING = Read(set(), {}, None)

#: Which tables a read lists besides those its write counters name: none; every one (after
#: commits it cannot vouch for); every one where the session's statistics were flushed since
#: the last :meth:`StepReader.mark` (a flush sets the counters back to zero, forgetting the
#: writes before it).
Every = Literal["never", "always", "if-flushed"]

#: Whether the session's statistics were flushed since the last mark: the marks' own counter of
#: inserts, pending in the session like every table's, is back to zero.
_FLUSH = ("flush AS (SELECT pg_stat_get_xact_tuples_inserted('pg_temp.dbci_marks'::regclass) = 0 "
          "AS flushed)")

#: A read's flags are session settings its statement reads, so one statement (planned once, and
#: again after what makes the server plan it afresh: about 8 ms each time) serves every kind of
#: read: ``dbci.discover`` (list the tables this transaction wrote to), ``dbci.keep`` (record
#: the owners of the units read) and ``dbci.every`` (:data:`Every`).
_DISCOVER = "current_setting('dbci.discover')::bool"
_EVERY = {False: "current_setting('dbci.every') = 'always'",  # (no marks untracked)
          True: "(current_setting('dbci.every') = 'always' OR "
                "(current_setting('dbci.every') = 'if-flushed' AND (SELECT flushed FROM flush)))"}

_NAMED = {  # the units a read snapshots, as the CTE `named` (kind, schema, name)
    "touched": "keys AS (SELECT DISTINCT kind, schema, name FROM touched),\n"
               f"named AS (SELECT * FROM keys WHERE kind IN {tuple(KINDS)!r})",
    "none": "keys AS (SELECT NULL::text AS kind, NULL::text AS schema, NULL::text AS name "
            "WHERE false),\nnamed AS (SELECT * FROM keys)",
}


@cache
def _statement(tracked: bool, whole: bool, touched: bool = True) -> str:
    """One read (its flags in session settings, see :data:`_DISCOVER`): the touched keys
    (unless ``whole``), the units, the tables holding rows (see :data:`Every`), and the owners
    of the units' catalog rows recorded for later reads where ``dbci.keep`` says so.
    ``touched`` False: the event triggers' log is empty, so the tables alone are read (the rows
    the whole read would give)."""
    ctes = [sql("track_read") if tracked and not whole and touched else "",
            "taken AS (DELETE FROM pg_temp.dbci_touched RETURNING 1)" if tracked and whole else "",
            _NAMED["none" if whole or not touched else "touched"],
            f"wanted AS ({sql('snapshot/wanted')})",
            f"units AS ({units_sql(KINDS, everything=whole)})" if touched else "",
            sql("track_remember") if tracked and touched else "",
            _FLUSH if tracked else "",
            "tables AS ({})".format(sql("table_activity").replace(
                ":discover", _DISCOVER).replace(":every", _EVERY[tracked]))]
    keys = "" if whole or not touched else (
        "SELECT 'key', kind, schema, name, NULL::jsonb, NULL::oid, NULL::bigint FROM keys\n"
        "UNION ALL\n")
    flushed = ("SELECT 'flushed', NULL, NULL, NULL, NULL::jsonb, NULL::oid, NULL::bigint "
               "FROM flush WHERE flushed AND current_setting('dbci.every') = 'if-flushed'\n"
               "UNION ALL\n") if tracked else ""
    units = ("SELECT 'unit', kind, schema, name, definition, NULL::oid, NULL::bigint FROM units\n"
             "UNION ALL\n") if touched else ""
    return ("WITH " + ",\n".join(c.strip() for c in ctes if c) + "\n"
            + "SELECT tag::text, kind::text, schema::text, name::text, definition::jsonb, "
              "oid::oid, writes::bigint\nFROM (" + keys + flushed + units
            + "SELECT 'table', name, nspname, relname, NULL, oid, writes FROM tables"
              ") AS read (tag, kind, schema, name, definition, oid, writes)")


@cache
def _function() -> str:
    """A tracked read (not whole) as a function of the session (``pg_temp``, made with the event
    triggers, gone with the session): where the event triggers logged nothing (a step that only
    wrote rows), it reads the tables alone. The server starts a statement's executor whole,
    every branch of it: the whole read's start-up alone took 0.5 ms."""
    return ("CREATE OR REPLACE FUNCTION pg_temp.dbci_read() RETURNS TABLE (r_tag text, "
            "r_kind text, r_schema text, r_name text, r_definition jsonb, r_oid oid, "
            "r_writes bigint) LANGUAGE plpgsql AS $dbci$\nBEGIN\n"
            "IF EXISTS (SELECT FROM pg_temp.dbci_touched) THEN\n"
            f"RETURN QUERY {_statement(True, False)};\n"
            f"ELSE\nRETURN QUERY {_statement(True, False, touched=False)};\nEND IF;\n"
            "END\n$dbci$")


class StepReader:
    """Reads what each step did, on the connection the round trip runs on."""

    def __init__(self, connection: sa.Connection, version_table: tuple[str, str],
                 tracked: bool, why: str = "") -> None:
        self.connection = connection
        self.version_table = version_table
        self.tracked = tracked
        self.why = why  # why every read is whole (not tracked)

    @classmethod
    def install(cls, connection: sa.Connection,
                version_table: tuple[str, str]) -> StepReader:
        """Install the event triggers; where the role may not (insufficient_privilege), every
        read will be whole, and ``why`` says so. Any other failure is raised: a broken install
        would otherwise make every run slow without a word."""
        refusal = refused(connection, lambda: run_script(connection, "track_install"))
        if refusal is not None:
            return cls(connection, version_table, tracked=False,
                       why=f"the role may not create event triggers ({error_line(refusal)})")
        run_plain(connection, _function())
        return cls(connection, version_table, tracked=True)

    def uninstall(self) -> None:
        """Drop the event triggers and their function."""
        if self.tracked:
            run_script(self.connection, "track_uninstall")

    def mark(self) -> None:
        """Before a step that may commit: a mark that the next read's ``if-flushed`` looks for.
        The session's statistics are flushed at idle moments between transactions (at most
        once a second), which sets every table's write counter back to zero, the marks' too."""
        if self.tracked:
            run_plain(self.connection, "INSERT INTO pg_temp.dbci_marks DEFAULT VALUES")

    def read(self, known: Iterable[int], discover: bool, whole: bool = False,
             keep: bool = True, every: Every = "never") -> Read:
        """The units touched since the last read and the tables holding rows: the tables
        ``known`` (by oid), and, when ``discover``, every table this transaction wrote to;
        where ``every`` says so, every table (see :data:`Every`).

        ``keep`` False: the read is inside a savepoint that will be rolled back, so what it
        would record for later reads (who owns each catalog row) is not recorded.
        """
        whole = whole or not self.tracked
        if every == "if-flushed" and not self.tracked:  # no marks to tell
            every = "always"
        discover = discover or whole or every != "never"
        rows = self._run(whole, known, discover, keep, every)
        keys = None if whole else {(k, s, n) for tag, k, s, n, *_ in rows if tag == "key"}
        if keys is not None and any(kind not in KINDS or kind == "schema" for kind, *_ in keys):
            return self.read(known, discover=True, whole=True, keep=keep,  # a schema: many names
                             every=every)
        return Read(keys, {(k, s, n): Unit(definition) for tag, k, s, n, definition, *_ in rows
                           if tag == "unit"},
                    [Table(oid, schema, table, name, writes)
                     for tag, name, schema, table, _, oid, writes in rows if tag == "table"],
                    discover, every == "always" or any(row[0] == "flushed" for row in rows))

    def _run(self, whole: bool, known: Iterable[int], discover: bool,
             keep: bool, every: Every) -> list[tuple[Any, ...]]:
        tracked = self.tracked and not whole
        name = "dbci_read_" + "_".join(flag for flag, on in (
            ("tracked", self.tracked), ("whole", whole)) if on)
        return run_prepared(self.connection, name,
                            "SELECT * FROM pg_temp.dbci_read()" if tracked
                            else _statement(self.tracked, whole),
                            {"dbci.known": "{" + ",".join(map(str, known)) + "}",
                             "dbci.discover": str(discover), "dbci.keep": str(keep),
                             "dbci.every": every, **version_settings(self.version_table)})

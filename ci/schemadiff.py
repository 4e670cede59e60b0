"""A database's schema held in memory, and migra's SQL between two of them.

Capturing first and comparing afterwards needs only one database at a time, so a role that may
not create databases (dbci then works in the one database it is lent) gets the same results.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ci import compat, snapshot
from ci.db.runners import run_prepared
from ci.snapshot import UnitKey

#: Objects dbci adds or Alembic owns: never part of the application's schema.
_IGNORED = ("alembic_version", "dbci_track")
#: What every new database has: not part of the SQL from no database at all.
_BUILTIN = ('create schema if not exists "public";', 'create extension if not exists "plpgsql"')


@dataclass(frozen=True)
class Inspected:
    """One database's schema as migra reads it (schemainspect's inspection); of the tables
    only those ``touched`` names, where it names any (see :func:`inspect`)."""

    inspector: Any
    touched: frozenset[UnitKey] | None = field(default=None, kw_only=True)
    #: Each of schemainspect's queries' rows, by its name (:data:`compat.QUERIES`).
    rows: dict[str, list[Any]] = field(default_factory=dict, kw_only=True, compare=False)


@dataclass(frozen=True)
class Captured(Inspected):
    """One database's schema: migra's inspection and dbci's catalog snapshot."""

    snapshot: snapshot.Snapshot


class _Prepared:
    """A cursor as schemainspect uses one (``execute``, then ``fetchall``) that runs each of its
    queries with :func:`run_prepared`, prepared once per connection: planning them is about a
    third of an inspection, and explaining a round trip's findings inspects twice each."""

    def __init__(self, connection: sa.Connection, settings: dict[str, str] | None) -> None:
        self.on = connection
        self.connection = connection.connection.dbapi_connection  # its server_version is read
        self.settings = settings  # set with the first query: one inspection, no rollback between
        self.rows: list[Any] = []

    def execute(self, query: str) -> None:
        from psycopg2.extras import NamedTupleCursor  # rows by column name, as it reads them

        name = "dbci_inspect_" + hashlib.sha1(query.encode()).hexdigest()[:16]
        self.rows = run_prepared(self.on, name, query, self.settings,
                                 cursor_factory=NamedTupleCursor)
        self.settings = None

    def fetchall(self) -> list[Any]:
        return self.rows


class Answers:
    """schemainspect's answers to its queries of one kind of unit (:data:`compat.ONE_KIND`),
    kept from one inspection to the next while no unit of that kind is touched: each is kept
    with the version of its kind it was read at (:attr:`snapshot.Catalog.versions`, which
    counts what the round trip's reads found touched)."""

    def __init__(self, versions: dict[str, int]) -> None:
        self.versions = versions
        self.kept: dict[str, tuple[int, list[Any]]] = {}

    def usable(self, same: set[str]) -> dict[str, list[Any]]:
        """The answers still true of a state whose units of the kinds ``same`` are those the
        versions count (whatever else differs)."""
        return {name: rows for name, (version, rows) in self.kept.items()
                if compat.ONE_KIND[name] in same
                and version == self.versions.get(compat.ONE_KIND[name], 0)}

    def keep(self, answers: dict[str, list[Any]], same: set[str]) -> None:
        """Keep those of ``answers`` read of a state as :meth:`usable` describes."""
        for name, rows in answers.items():
            kind = compat.ONE_KIND[name]
            if kind in same:
                self.kept[name] = (self.versions.get(kind, 0), rows)


def inspect(connection: sa.Connection, touched: Collection[UnitKey] | None = None,
            answers: Answers | None = None) -> Inspected:
    """migra's view of the database behind ``connection`` (see :func:`compat.inspect_schema`),
    and nothing else: what explaining a difference needs. schemainspect reads it through the
    driver's own cursor (it accepts one, and SQLAlchemy's results would cost a fifth more), its
    queries prepared (see :class:`_Prepared`); the transaction is the same.

    ``touched``: the snapshot units two states can differ in (the event triggers' units of an
    upgrade and its downgrade). Of the tables, only those among them are read, and those with a
    column of a type among them, with their indexes, constraints, triggers and policies; of the
    sequences, those among them; everything else is read whole. Two states inspected so give
    the SQL migra writes between the whole schemas: it writes statements only for the objects
    that differ, for the views and functions depending on a changed one (read whole) and for
    the columns of a changed enum (read with their tables). Where ``touched`` names nothing, or
    a unit of a kind the event triggers do not name (``unknown``), the schema is read whole.
    On a schema of 50 tables an inspection of three reads in a third of the time.

    ``answers``, with ``touched``: of the kinds of units ``touched`` names none of, the state
    holds what the versions count, so what was read of them is read from there (and kept).
    """
    some = frozenset(touched or ())
    some_tables = bool(some) and all(kind != "unknown" for kind, _, _ in some)
    settings = {compat.ONLY_TABLES: _names(some, "relation"),
                compat.ONLY_TYPES: _names(some, "type")} if some_tables else None
    same = set(snapshot.KINDS) - {kind for kind, _, _ in some} if some_tables else set()
    known = answers.usable(same) if answers else None
    rows: dict[str, list[Any]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemainspect and sqlbag warn under SQLAlchemy 2
        inspector = compat.inspect_schema(_Prepared(connection, settings), some_tables, known,
                                          seen=rows)
    if answers and known is not None:
        answers.keep(known, same)
    return Inspected(inspector, touched=some if some_tables else None, rows=rows)


def _part(part: str) -> Callable[[Any, snapshot.Leftovers], bool]:
    """Whether a row of a table's part (``table_name``, ``name``) holds a leftover."""
    return lambda row, gone: (("relation", row.schema, row.table_name) in gone.units
                              or (part, row.schema, row.table_name, row.name) in gone.parts)


#: Which rows of schemainspect's answers hold a leftover (:class:`snapshot.Leftovers`).
_HOLDS: dict[str, Callable[[Any, snapshot.Leftovers], bool]] = {
    "ENUMS_QUERY": lambda row, gone: ("type", row.schema, row.name) in gone.units,
    "SEQUENCES_QUERY": lambda row, gone: ("relation", row.schema, row.name) in gone.units,
    "ALL_RELATIONS_QUERY": lambda row, gone: (
        ("relation", row.schema, row.name) in gone.units
        or ("columns", row.schema, row.name, row.attname) in gone.parts),
    "INDEXES_QUERY": _part("indexes"), "CONSTRAINTS_QUERY": _part("constraints"),
    "TRIGGERS_QUERY": _part("triggers"), "RLSPOLICIES_QUERY": _part("policies")}


def without(left: Inspected, gone: snapshot.Leftovers) -> Inspected:
    """migra's view of the state ``left`` was read in, less what ``gone`` names and with the
    columns' defaults it gives: where those are all that a downgrade left different from
    before its upgrade, the state before the upgrade as an inspection of the same units would
    read it, with no query asked again. schemainspect reads each of them in rows of its own (a
    table's columns, indexes, constraints, triggers and policies each in a query of their
    own), and a column's default as dbci's snapshot does (``pg_get_expr``)."""
    rows = {name: [row for row in answer if not _HOLDS[name](row, gone)]
            if name in _HOLDS else answer for name, answer in left.rows.items()}
    defaults = {(schema, table, column): was for schema, table, column, was in gone.defaults}
    rows["ALL_RELATIONS_QUERY"] = [  # a column's default as it was (pg_get_expr's, as dbci's)
        row._replace(defaultdef=defaults[key]) if (key := (row.schema, row.name, row.attname))
        in defaults else row for row in rows["ALL_RELATIONS_QUERY"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inspector = compat.replayed(rows, left.inspector.pg_version * 10000)
    return Inspected(inspector, touched=left.touched, rows=rows)


def _names(touched: Collection[UnitKey], kind: str) -> str:
    """The ``[schema, name]`` of the units of ``kind`` among ``touched``, as a JSON array."""
    return json.dumps(sorted([schema, name] for k, schema, name in touched if k == kind))


def capture(connection: sa.Connection) -> Captured:
    """Read the whole schema of the database behind ``connection`` into memory."""
    return Captured(inspect(connection).inspector, snapshot.take(connection))


def migra_sql(source: Inspected | None, target: Inspected) -> list[str]:
    """The statements migra writes to turn ``source`` (None: an empty database) into ``target``.

    migra's SQL leaves some types and foreign-key targets unqualified; it is shown to reviewers,
    never run by dbci.
    """
    compat.load_inspector()
    from migra import Migration
    from schemainspect import get_inspector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        migration = Migration(source.inspector if source else get_inspector(None),
                              target.inspector)
        migration.set_safety(False)
        migration.add_all_changes()
    return [s.strip() for s in migration.statements
            if s.strip() and not any(name in s for name in _IGNORED)
            and not (source is None and s.strip().startswith(_BUILTIN))]

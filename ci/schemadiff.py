"""A database's schema held in memory, and migra's SQL between two of them.

Capturing first and comparing afterwards needs only one database at a time, so a role that may
not create databases (dbci then works in the one database it is lent) gets the same results.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ci import compat, snapshot

#: Objects dbci adds or Alembic owns: never part of the application's schema.
_IGNORED = ("alembic_version", "dbci_track")
#: What every new database has: not part of the SQL from no database at all.
_BUILTIN = ('create schema if not exists "public";', 'create extension if not exists "plpgsql"')


@dataclass(frozen=True)
class Inspected:
    """One database's schema as migra reads it (schemainspect's inspection)."""

    inspector: Any


@dataclass(frozen=True)
class Captured(Inspected):
    """One database's schema: migra's inspection and dbci's catalog snapshot."""

    snapshot: snapshot.Snapshot


class _Prepared:
    """The driver's cursor as schemainspect uses one (``execute`` then ``fetchall``), running
    each of its queries as a statement prepared once per connection: planning them is about a
    third of an inspection, and explaining a round trip's findings inspects twice each."""

    def __init__(self, cursor: Any, names: dict[str, str]) -> None:
        self.cursor, self.names, self.connection = cursor, names, cursor.connection

    def execute(self, query: str) -> None:
        name = self.names.get(query)
        if name is None:
            name = self.names[query] = f"dbci_inspect_{len(self.names)}"
            self.cursor.execute(f"PREPARE {name} AS {query}")
        self.cursor.execute(f"EXECUTE {name}")

    def fetchall(self) -> list[Any]:
        return list(self.cursor.fetchall())


def inspect(connection: sa.Connection) -> Inspected:
    """migra's view of the database behind ``connection``, and nothing else: what explaining a
    difference needs. schemainspect reads it through the driver's own cursor (it accepts one,
    and SQLAlchemy's results would cost a fifth more), its queries prepared (see
    :class:`_Prepared`); the transaction is the same."""
    compat.load_inspector()
    from psycopg2.extras import NamedTupleCursor
    from schemainspect import get_inspector

    driver: Any = connection.connection.dbapi_connection
    names = connection.info.setdefault("dbci_inspect", {})
    with warnings.catch_warnings(), driver.cursor(cursor_factory=NamedTupleCursor) as cursor:
        warnings.simplefilter("ignore")  # schemainspect and sqlbag warn under SQLAlchemy 2
        return Inspected(get_inspector(_Prepared(cursor, names)))


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

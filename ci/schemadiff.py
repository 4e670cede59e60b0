"""A database's schema held in memory, and migra's SQL between two of them.

Capturing first and comparing afterwards needs only one database at a time, so a role that may
not create databases (dbci then works in the one database it is lent) gets the same results.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ci import compat, snapshot
from ci.db.runners import run_prepared

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
    """A cursor as schemainspect uses one (``execute``, then ``fetchall``) that runs each of its
    queries with :func:`run_prepared`, prepared once per connection: planning them is about a
    third of an inspection, and explaining a round trip's findings inspects twice each."""

    def __init__(self, connection: sa.Connection) -> None:
        self.on = connection
        self.connection = connection.connection.dbapi_connection  # its server_version is read
        self.rows: list[Any] = []

    def execute(self, query: str) -> None:
        from psycopg2.extras import NamedTupleCursor  # rows by column name, as it reads them

        name = "dbci_inspect_" + hashlib.sha1(query.encode()).hexdigest()[:16]
        self.rows = run_prepared(self.on, name, query, cursor_factory=NamedTupleCursor)

    def fetchall(self) -> list[Any]:
        return self.rows


def inspect(connection: sa.Connection) -> Inspected:
    """migra's view of the database behind ``connection`` (see :func:`compat.inspect_schema`),
    and nothing else: what explaining a difference needs. schemainspect reads it through the
    driver's own cursor (it accepts one, and SQLAlchemy's results would cost a fifth more), its
    queries prepared (see :class:`_Prepared`); the transaction is the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemainspect and sqlbag warn under SQLAlchemy 2
        return Inspected(compat.inspect_schema(_Prepared(connection)))


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

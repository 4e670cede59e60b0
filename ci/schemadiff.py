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
class Captured:
    """One database's schema: dbci's catalog snapshot and migra's (schemainspect's) inspection."""

    snapshot: snapshot.Snapshot
    inspector: Any




def capture(connection: sa.Connection) -> Captured:
    """Read the whole schema of the database behind ``connection`` into memory."""
    compat.load_inspector()
    from schemainspect import get_inspector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemainspect and sqlbag warn under SQLAlchemy 2
        inspector = get_inspector(connection)
    return Captured(snapshot.take(connection), inspector)


def migra_sql(source: Captured | None, target: Captured) -> list[str]:
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

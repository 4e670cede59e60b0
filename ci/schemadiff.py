"""migra's SQL between two databases: what turns one schema into the other, for people to read."""

from __future__ import annotations

import warnings

import sqlalchemy as sa

#: Objects dbci adds or Alembic owns: never part of the application's schema.
_IGNORED = ("alembic_version", "dbci_track")
#: What every new database has: not part of the SQL from no database at all.
_BUILTIN = ('create schema if not exists "public";', 'create extension if not exists "plpgsql"')


def migra_sql(source: sa.Connection | None, target: sa.Connection) -> list[str]:
    """The statements migra writes to turn ``source`` (None: an empty database) into ``target``.

    migra's SQL leaves some types and foreign-key targets unqualified; it is shown to reviewers,
    never run by dbci.
    """
    from migra import Migration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemainspect and sqlbag warn under SQLAlchemy 2
        migration = Migration(source, target)
        migration.set_safety(False)
        migration.add_all_changes()
    return [s.strip() for s in migration.statements
            if s.strip() and not any(name in s for name in _IGNORED)
            and not (source is None and s.strip().startswith(_BUILTIN))]

"""A database's schema held in memory, and migra's SQL between two of them.

Capturing first and comparing afterwards needs only one database at a time, so a role that may
not create databases (dbci then works in the one database it is lent) gets the same results.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from ci import snapshot

#: Objects dbci adds or Alembic owns: never part of the application's schema.
_IGNORED = ("alembic_version", "dbci_track")
#: What every new database has: not part of the SQL from no database at all.
_BUILTIN = ('create schema if not exists "public";', 'create extension if not exists "plpgsql"')


@dataclass(frozen=True)
class Captured:
    """One database's schema: dbci's catalog snapshot and migra's (schemainspect's) inspection."""

    snapshot: snapshot.Snapshot
    inspector: Any


def load_inspector() -> None:
    """Import schemainspect ahead of a capture made deep in a call stack.

    Its import finds its own package for each of its 17 query files with ``inspect.stack()``,
    which reads the source lines of every frame, and ``inspect.getmodule`` on those frames,
    which walks every loaded module (a long history's revisions too): inside env.py's run over
    a long history that took about a second, and 0.2 s near the bottom of the stack. It needs
    the frames alone, and a frame's module is the one its globals are, so while it imports
    neither is looked up the slow way."""
    if "schemainspect" in sys.modules:
        return
    stack, getmodule = inspect.stack, inspect.getmodule

    def frames_only(context: int = 1) -> list[inspect.FrameInfo]:
        return stack(0)[1:]  # not this frame: the caller looks for the first frame outside

    def module_of(object: object, _filename: str | None = None) -> ModuleType | None:
        if inspect.isframe(object):  # (named as inspect names it)
            return sys.modules.get(object.f_globals.get("__name__", ""))
        return getmodule(object, _filename)

    inspect.stack, inspect.getmodule = frames_only, module_of
    try:
        import schemainspect  # noqa: F401
    finally:
        inspect.stack, inspect.getmodule = stack, getmodule


def capture(connection: sa.Connection) -> Captured:
    """Read the whole schema of the database behind ``connection`` into memory."""
    load_inspector()
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
    load_inspector()
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

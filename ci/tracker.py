"""Which snapshot units a step's DDL touched, told by two event triggers."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from ci.database import run_prepared, run_script, sql
from ci.snapshot import KINDS, UnitKey


class DdlTracker:
    """Event triggers (``ddl_command_end``, ``sql_drop``) log touched objects per session."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    @classmethod
    def install(cls, connection: sa.Connection) -> DdlTracker | None:
        """Install the triggers; None when the role may not create event triggers."""
        savepoint = connection.begin_nested()
        try:
            run_script(connection, "track_install")
        except connection.dialect.loaded_dbapi.Error:  # raised by the driver's own cursor
            savepoint.rollback()
            return None
        savepoint.commit()
        return cls(connection)

    def uninstall(self) -> None:
        """Drop the triggers and their schema."""
        run_script(self.connection, "track_uninstall")

    def touched(self, owners: Mapping[int, UnitKey]) -> set[UnitKey] | None:
        """The units touched since the last call; None when only a whole snapshot will do.

        ``owners`` maps the oids of known catalog rows to their units: it names the units of
        dropped objects, and a renamed object's old name.
        """
        keys: set[UnitKey] = set()
        for kind, schema, name, objid in run_prepared(
                self.connection, "dbci_track_read", sql("track_read")):
            if kind == "unknown" or kind == "schema":
                return None  # another catalog, or a schema: names of many units may change
            if kind in KINDS:
                keys.add((kind, schema, name))
            if objid in owners:
                keys.add(owners[objid])
        return keys

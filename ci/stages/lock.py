"""The migration lock: one `dbci migrate` at a time per database, a session-level advisory lock
on a connection of its own (a revision that commits would release a transaction-level one); and
who holds the locks a migration waits for."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from ci.errors import OutsideFailure

#: The advisory lock every `dbci migrate` of a database takes ("dbcimigr").
MIGRATION_LOCK = 0x646263696D696772


def holder(connection: sa.Connection) -> str:
    """Who holds the migration lock: pid, application, since when."""
    row = connection.exec_driver_sql(
        "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s",
        {"key": MIGRATION_LOCK}).first()
    if row is None:
        return "a session that has just let go"
    return f"pid {row[0]} ({row[1] or 'no application name'}, since {row[2]:%Y-%m-%d %H:%M:%S %Z})"


def take(connection: sa.Connection, stage: str, wait: int, log: Callable[[str], None]) -> None:
    """Take the stage's migration lock, waiting at most ``wait`` seconds for another run."""
    deadline = time.monotonic() + wait
    said = False
    while not connection.exec_driver_sql(
            f"SELECT pg_try_advisory_lock({MIGRATION_LOCK})").scalar():
        who = holder(connection)
        if time.monotonic() >= deadline:
            raise OutsideFailure(f"stage {stage}: another migration has held the lock for more "
                                 f"than {wait}s: {who}; run again when it is done (or raise "
                                 f"[tool.dbci.stages.{stage}] lock_wait)")
        if not said:
            log(f"migrate: waiting for the migration lock of stage {stage}, held by {who}")
            said = True
        time.sleep(0.25)


def blockers(connection: sa.Connection, mine: tuple[int, ...]) -> str:
    """The sessions that hold locks on tables of this database (the likely blockers)."""
    rows = connection.exec_driver_sql(
        "SELECT a.pid, a.application_name, a.state, coalesce(a.xact_start, a.backend_start) "
        "FROM pg_stat_activity a WHERE a.datname = current_database() "
        "AND NOT (a.pid = ANY (%(mine)s)) AND a.application_name NOT LIKE 'dbci migrate%%' "
        "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted "
        "AND l.locktype = 'relation') ORDER BY 4 LIMIT 3", {"mine": list(mine)}).all()
    return "; ".join(f"pid {pid} ({app or 'no application name'}, {state}, since "
                     f"{since:%H:%M:%S})" for pid, app, state, since in rows) or "a session gone"

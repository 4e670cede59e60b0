"""Running dbci's own SQL, engines and connections, and telling the server's errors apart."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any

import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from psycopg2 import errorcodes
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

#: ``application_name`` of dbci's sessions (``dbci migrate dev`` where a command says more).
APPLICATION = "dbci"


#: ... of the sessions that make, sweep or take turns for databases (a lent database's lock)
#: and do no work in one: never taken for a killed run's orphan.
ADMIN_APPLICATION = "dbci admin"


@cache
def sql(name: str) -> str:
    """The text of ``ci/sql/<name>.sql``."""
    return resources.files("ci").joinpath("sql", f"{name}.sql").read_text()


def run_script(connection: sa.Connection, name: str) -> list[tuple[Any, ...]]:
    """Run ``ci/sql/<name>.sql`` as it is (no parameters) through the driver's own cursor."""
    return run_plain(connection, sql(name))


def run_plain(connection: sa.Connection, text: str,
              parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run dbci's own SQL (with psycopg2's ``%(name)s`` ``parameters``, if any) through a
    plain cursor of the driver's own: one round trip, unseen by SQLAlchemy's events (statement
    capture) and by the round trip's watch (a cursor of its kind, see :func:`own_cursor`)."""
    cursor = own_cursor(connection)
    try:
        cursor.execute(text, parameters)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def refused(connection: sa.Connection, run: Callable[[], object]) -> Exception | None:
    """Run ``run`` (dbci's own SQL on ``connection``) inside a savepoint: None where it ran;
    where the server refused it for want of a privilege (insufficient_privilege), the driver's
    error, the savepoint rolled back so the transaction stays usable. Any other error is
    raised."""
    savepoint = connection.begin_nested()
    try:
        run()
    except connection.dialect.loaded_dbapi.Error as exc:  # raised by the driver's own cursor
        if getattr(exc, "pgcode", None) != errorcodes.INSUFFICIENT_PRIVILEGE:
            raise
        savepoint.rollback()
        return exc
    savepoint.commit()
    return None


def own_cursor(connection: sa.Connection, cursor_factory: Any = None) -> Any:
    """A cursor of the driver's own for dbci's SQL: psycopg2's plain one unless another kind
    is asked for, never the connection's default kind (the round trip watches the revisions'
    statements through it)."""
    driver: Any = connection.connection.driver_connection
    return driver.cursor(cursor_factory=cursor_factory or psycopg2.extensions.cursor)


def run_prepared(connection: sa.Connection, name: str, text: str,
                 settings: dict[str, str] | None = None,
                 cursor_factory: Any = None) -> list[tuple[Any, ...]]:
    """Run a catalog query as a server-side prepared statement, planned once per connection.

    The statement takes no parameters, so the server plans it once for good (with parameters it
    would plan it afresh for each of its first five runs); its inputs are the session
    ``settings`` (``dbci.*``, read with ``current_setting``), set in the same round trip. It goes
    through a cursor of the driver's own (:func:`own_cursor`): these are dbci's queries, not the
    revision's, so neither statement capture nor the round trip's watch sees them.
    ``cursor_factory``: psycopg2's, for rows of another kind.
    """
    prepared = connection.info.setdefault("dbci_prepared", set())
    cursor = own_cursor(connection, cursor_factory)
    try:
        if name not in prepared:
            cursor.execute(f"PREPARE {name} AS {text}")
            prepared.add(name)
        values = [v for pair in (settings or {}).items() for v in pair]
        setting = ", ".join(["set_config(%s, %s, false)"] * len(settings or {}))
        cursor.execute(f"SELECT {setting}; EXECUTE {name}" if setting else f"EXECUTE {name}",
                       values)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


#: Statements that change nothing in the database (a SELECT calling a function that writes is
#: not caught).
READS = {"SELECT", "SHOW", "EXPLAIN", "SET", "RESET", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
         "RELEASE"}


def verb(statement: str) -> str:
    """A statement's first word, upper case, after any comments."""
    match = re.match(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(\w+)", statement, re.DOTALL)
    return match.group(1).upper() if match else ""


def create_engine(url: str, application_name: str = APPLICATION, **options: Any) -> Engine:
    """An engine without a pool: dbci opens few connections and must leave none behind. Its
    sessions carry ``application_name`` (``pg_stat_activity`` shows who is there)."""
    connect_args = {"application_name": application_name, **options.pop("connect_args", {})}
    return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args,
                            **options)


class HandedConnection(sa.Connection):
    """The connection dbci hands env.py. It also answers ``connect()`` with itself, left open,
    as SQLAlchemy 1.x connections did: env.py files written for the Alembic cookbook or
    pytest-alembic do ``with connectable.connect() as connection:`` on what they are handed."""

    __slots__ = ()

    @contextlib.contextmanager
    def connect(self) -> Iterator[HandedConnection]:
        yield self


def connect(engine: Engine) -> HandedConnection:
    """A new connection of ``engine``, the kind dbci hands env.py."""
    return HandedConnection(engine)


def is_database_error(error: BaseException) -> bool:
    """True for an error the database server or its driver raised."""
    return isinstance(error, DBAPIError | psycopg2.Error)


def is_connection_lost(error: BaseException) -> bool:
    """True when the error says the server went away or cannot be reached (not a SQL error)."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(orig, psycopg2.OperationalError | psycopg2.InterfaceError):
        return False
    code = getattr(orig, "pgcode", None)
    return code is None or code.startswith(("08", "57P"))

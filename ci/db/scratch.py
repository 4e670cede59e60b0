"""Scratch databases: made for one run and dropped after it, on the embedded server or a given
one; where the role may not create databases, the given one lent and left empty."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from ci.db.embedded import MEMORY, embedded_url, memory_folder
from ci.db.runners import ADMIN_APPLICATION, create_engine, run_script
from ci.db.urls import mask_url, normalize_url
from ci.errors import BadInput, OutsideFailure, error_line

SCRATCH_PREFIX = "dbci_"


#: ``COMMENT ON DATABASE`` of every scratch database: who made it, so a later run on the same
#: machine drops it once that process is gone.
SCRATCH_COMMENT = "dbci scratch database: host={host} pid={pid}"


_SCRATCH_COMMENT = re.compile(r"dbci scratch database: host=(?P<host>\S+) pid=(?P<pid>\d+)")


#: The advisory lock a run holds on a database it was lent (a role without CREATEDB), so runs
#: that share one take turns.
LENT_LOCK = 0x64626369  # "dbci"


@contextlib.contextmanager
def named_database(server: str | None, name: str) -> Iterator[str]:
    """A new database called ``name`` on ``server`` (None: the embedded one), kept when the
    block succeeds and dropped when it fails (bad input leaves nothing behind); its URL.
    Refuses a name that is taken."""
    base = server_url(server)
    admin = create_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s",
                                    {"n": name}).first():
                raise BadInput(f"a database {name!r} exists on {mask_url(base)}; drop it or "
                               "name another")
            conn.exec_driver_sql(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(name)}")
        try:
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
        except BaseException:
            _drop_quietly(admin, name, embedded=False)  # a tablespace is a scratch one's only
            raise
    except OperationalError as exc:
        raise _unreachable(base, exc) from exc
    finally:
        admin.dispose()


def server_url(database_url: str | None) -> str:
    """The given URL (normalised), or the embedded server's."""
    return normalize_url(database_url) if database_url else embedded_url()


def _sweep_stale(conn: sa.Connection, embedded: bool) -> None:
    """Drop scratch databases that dbci processes of this machine left and that no longer run,
    and on the embedded server then their memory tablespaces.

    A scratch database says in its comment which host and process made it; on the embedded
    server (this machine's own) the process id in the name is enough for older ones.
    """
    for name in _stale(conn, "pg_database", "datname", embedded):
        with contextlib.suppress(DBAPIError):  # another run is sweeping it right now
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for name in _stale(conn, "pg_tablespace", "spcname", embedded) if embedded else ():
        _drop_tablespace(conn, name)


def _stale(conn: sa.Connection, catalog: str, column: str, embedded: bool) -> list[str]:
    """The scratch objects of ``catalog`` whose process, on this machine, has ended."""
    host = socket.gethostname()
    rows = conn.exec_driver_sql(
        f"SELECT {column}, shobj_description(oid, '{catalog}') FROM {catalog} "
        f"WHERE {column} LIKE %(p)s", {"p": SCRATCH_PREFIX + "%"}).all()
    stale = []
    for name, comment in rows:
        made = _SCRATCH_COMMENT.fullmatch(comment or "")
        if made is not None:
            mine, pid = made.group("host") == host, int(made.group("pid"))
        else:
            number = name.removeprefix(SCRATCH_PREFIX).split("_", 1)[0]
            mine, pid = embedded and number.isdigit(), int(number) if number.isdigit() else 0
        if mine and not _pid_alive(pid):
            stale.append(name)
    return stale


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unreachable(server: str, error: OperationalError) -> OutsideFailure:
    """The one line for a server dbci cannot connect to (its URL masked)."""
    return OutsideFailure(f"cannot reach {mask_url(server)}: {error_line(error)}")


def may_create_databases(database_url: str | None) -> bool:
    """Whether the role may create databases on the server (always on the embedded one), as
    the catalog says: a round trip's two workers can then make theirs at once."""
    if database_url is None:
        return True
    base = server_url(database_url)
    admin = create_engine(base, ADMIN_APPLICATION)
    try:
        with admin.connect() as conn:
            return bool(conn.exec_driver_sql(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).scalar())
    except OperationalError as exc:
        raise _unreachable(base, exc) from exc
    finally:
        admin.dispose()


def never_lend() -> None:
    """This process (a round trip's second worker) must make its own databases: being lent the
    one its parent holds would wait for it forever."""
    global _LENDING
    _LENDING = False


#: Whether a role that may not create databases is lent the given one (see never_lend).
_LENDING = True


@contextlib.contextmanager
def scratch_database(database_url: str | None, lend: bool = True) -> Iterator[str]:
    """A fresh empty database for one run, dropped afterwards, also on errors and interrupts.

    On the embedded server, or on the server of a given URL. Where the given role may not create
    databases, the given database itself is lent, unless ``lend`` is False (a database made
    beside another, which could only wait for it): it must be empty, and is emptied afterwards
    (see ``_lent_database`` for nested use).
    """
    base = server_url(database_url)
    admin = create_engine(base, ADMIN_APPLICATION).execution_options(
        isolation_level="AUTOCOMMIT")
    name = f"{SCRATCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    embedded = database_url is None
    try:
        with admin.connect() as conn:
            _sweep_stale(conn, embedded)
            _create_database(conn, name, memory_folder(name) if embedded else None)
    except ProgrammingError as exc:
        admin.dispose()
        refused = getattr(exc.orig, "pgcode", None) == "42501"  # insufficient_privilege
        if not refused or not (lend and _LENDING):
            raise OutsideFailure(f"cannot create a scratch database on {mask_url(base)}: "
                                 f"{error_line(exc)}") from exc
        with _lent_database(base) as url:
            yield url
        return
    except OperationalError as exc:
        admin.dispose()
        raise _unreachable(base, exc) from exc
    except BaseException:  # interrupted once the database may be there (Ctrl-C, or a second
        _drop_quietly(admin, name, embedded)  # worker asked to end): it goes too
        admin.dispose()
        raise
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    except BaseException:
        _drop_quietly(admin, name, embedded)
        raise
    else:
        try:
            _drop(admin, name, embedded)
        except OperationalError as exc:
            raise OutsideFailure(f"cannot drop the scratch database {name} on "
                                 f"{mask_url(base)}: {error_line(exc)}") from exc
    finally:
        admin.dispose()


def _drop(admin: Engine, name: str, embedded: bool) -> None:
    """Drop a scratch database, and on the embedded server its memory tablespace (if it has
    one: it is named as the database) and that folder."""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded:
            _drop_tablespace(conn, name)


def _drop_tablespace(conn: sa.Connection, name: str) -> None:
    """Drop a scratch database's memory tablespace and its folder, where it has them; what
    cannot be dropped now (another run sweeping it too) the next run sweeps."""
    with contextlib.suppress(DBAPIError):
        conn.exec_driver_sql(f'DROP TABLESPACE IF EXISTS "{name}"')
    with contextlib.suppress(OSError):  # none was made: memory had no room
        (MEMORY / name).rmdir()


def _drop_quietly(admin: Engine, name: str, embedded: bool) -> None:
    """Drop on the way out of a failure, which stays the one reported (the server may be gone:
    the next run sweeps the database)."""
    with contextlib.suppress(Exception):
        _drop(admin, name, embedded)


def _create_database(conn: sa.Connection, name: str, memory: Path | None = None) -> None:
    """Create a scratch database (retrying while template1 is busy) and mark it as dbci's; in
    a tablespace of the same name in the folder ``memory``, when given one.

    Nothing in it needs to outlive a server crash (the next run sweeps what one leaves), so
    neither its creation nor its sessions (dbci's and env.py's own) wait for the WAL to reach
    the disk at commit: on a server that syncs to a real disk that wait is most of the time
    ``CREATE DATABASE`` takes.
    """
    conn.exec_driver_sql("SET synchronous_commit = off")
    comment = SCRATCH_COMMENT.format(host=socket.gethostname(), pid=os.getpid())
    where = ""
    if memory is not None:
        try:
            conn.exec_driver_sql(f'CREATE TABLESPACE "{name}" LOCATION %(l)s',
                                 {"l": str(memory)})
        except DBAPIError:  # the server may not use the folder: the database goes on disk
            with contextlib.suppress(OSError):  # else the drop at the end removes it
                memory.rmdir()
        else:
            conn.exec_driver_sql(f'COMMENT ON TABLESPACE "{name}" IS %(c)s', {"c": comment})
            where = f' TABLESPACE "{name}"'
    for attempt in range(20):
        try:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{where}')
            break
        except OperationalError as exc:  # template1 busy: another client is copying it
            if "is being accessed by other users" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))
    conn.exec_driver_sql(f'COMMENT ON DATABASE "{name}" IS %(c)s', {"c": comment})
    conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


#: Databases this process was lent (URL -> how many scratch databases use it now).
_LENT: dict[str, int] = {}


def lent(url: str) -> bool:
    """Whether a scratch database's URL is a database this process was lent (the role may not
    create databases): there is no second one to be had."""
    return url in _LENT


@contextlib.contextmanager
def _lent_database(url: str) -> Iterator[str]:
    """The given database as the scratch one.

    Runs that share it take turns (an advisory lock, which the server releases when a run is
    killed). The first use must find it empty, or holding only what a killed dbci run left
    (its ``dbci_track`` schema says so), which is dropped; it is emptied when the outermost use
    ends. A nested use empties it on entry, so callers capture what they need from one scratch
    database before they ask for the next.
    """
    engine = create_engine(url)
    outermost = url not in _LENT
    try:
        with contextlib.ExitStack() as stack:
            if outermost:
                lock_engine = create_engine(url, ADMIN_APPLICATION)
                stack.callback(lock_engine.dispose)
                lock = stack.enter_context(lock_engine.connect())
                lock.exec_driver_sql(f"SELECT pg_advisory_lock({LENT_LOCK})")
                run_script(lock, "end_orphans")  # sessions of killed runs still at work
                lock.commit()
            with engine.begin() as conn:
                if not outermost or run_script(conn, "lent_leftovers")[0][0]:
                    run_script(conn, "empty_database")
                elif run_script(conn, "user_objects")[0][0]:
                    raise BadInput(
                        f"{mask_url(url)}: the role may not create databases, so dbci works in "
                        "this database, which must then be empty; it is not. Give an empty "
                        "database or a role with CREATEDB"
                    )
                conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS dbci_track")  # dbci's mark
            _LENT[url] = _LENT.get(url, 0) + 1
            try:
                yield url
            finally:
                _LENT[url] -= 1
                if not _LENT[url]:
                    del _LENT[url]
                    with engine.begin() as conn:
                        run_script(conn, "empty_database")
    finally:
        engine.dispose()

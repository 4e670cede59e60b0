"""Scratch databases: made for one run and dropped after it, on the embedded server or a given
one; where the role may not create databases, the given one lent and left empty."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from ci import interrupts
from ci.db import masking
from ci.db.embedded import MEMORY, embedded_url, memory_folder
from ci.db.lent import lent_database
from ci.db.runners import ADMIN_APPLICATION, create_engine
from ci.db.urls import mask_url, normalize_url
from ci.errors import BadInput, OutsideFailure, error_line

SCRATCH_PREFIX = "dbci_"


#: ``COMMENT ON DATABASE`` of every scratch database: who made it, so a later run on the same
#: machine drops it once that process is gone.
SCRATCH_COMMENT = "dbci scratch database: host={host} pid={pid}"


_SCRATCH_COMMENT = re.compile(r"dbci scratch database: host=(?P<host>\S+) pid=(?P<pid>\d+)")


@contextlib.contextmanager
def named_database(server: str | None, name: str) -> Iterator[str]:
    """A new database called ``name`` on ``server`` (None: the embedded one), kept when the
    block succeeds and dropped when it fails (bad input leaves nothing behind); its URL.
    Refuses a name that is taken."""
    base = server_url(server)
    admin = _admin(base)
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
    if _made_ahead(base):  # it made some already
        return True
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
    (see ``lent_database`` for nested use).
    """
    base = server_url(database_url)
    admin = _admin(base)
    embedded = database_url is None
    ahead = _take_ahead(base)
    name = ahead or _new_name()
    try:
        if ahead is None:
            with admin.connect() as conn:
                _sweep_stale(conn, embedded)
                _create_database(conn, name, memory_folder(name) if embedded else None)
    except ProgrammingError as exc:
        admin.dispose()
        refused = getattr(exc.orig, "pgcode", None) == "42501"  # insufficient_privilege
        if not refused or not (lend and _LENDING):
            raise OutsideFailure(f"cannot create a scratch database on {mask_url(base)}: "
                                 f"{error_line(exc)}") from exc
        with lent_database(base) as url:
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


def _admin(base: str, **options: Any) -> Engine:
    """An engine on ``base`` (a server's maintenance database) for creating and dropping."""
    return create_engine(base, ADMIN_APPLICATION, **options).execution_options(
        isolation_level="AUTOCOMMIT")


def _new_name() -> str:
    """A scratch database's name: the process that makes it, and a random part."""
    return f"{SCRATCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"


@dataclass(eq=False)
class _Ahead:
    """A scratch database being made ahead (see :func:`made_ahead`) on ``server`` by process
    ``pid``; ``name`` once it is made (None while it is, or when that failed)."""

    server: str
    thread: threading.Thread = field(init=False)
    name: str | None = None
    pid: int = field(default_factory=os.getpid)  # a forked child takes none of them

    def make(self) -> None:
        """Make it (in its thread); a failure leaves nothing, prints nothing, and ``name``
        None."""
        name = _new_name()
        try:
            admin = _admin(self.server, connect_args={"connect_timeout": AHEAD_TIMEOUT})
        except Exception:  # noqa: BLE001 - whoever asks makes its own, and reports why not
            return
        conn = None
        try:
            with admin.connect() as conn:
                _sweep_stale(conn, embedded=False)
                _create_database(conn, name)
            self.name = name
        except Exception:  # noqa: BLE001 - as above
            if conn is not None:  # the server answered: the database may be there
                _drop_quietly(admin, name, embedded=False)
        finally:
            admin.dispose()

    def wait(self) -> None:
        """Until it is made or has failed."""
        self.thread.join()


#: Seconds a thread making a database ahead waits for the server to answer its connection: the
#: end of the command waits for it (a server that drops packets would otherwise hold even a
#: usage error for the system's TCP timeout, minutes).
AHEAD_TIMEOUT = 10


#: The scratch databases of :func:`made_ahead` not taken yet.
_AHEAD: list[_Ahead] = []
_AHEAD_LOCK = threading.Lock()


@contextlib.contextmanager
def made_ahead(database_url: str, count: int) -> Iterator[None]:
    """Have the server of ``database_url`` start making ``count`` scratch databases now, each
    from a thread of its own, for :func:`scratch_database` to take instead of making one.

    ``CREATE DATABASE`` is the server's work (0.1 to 0.3 s), which then overlaps what this
    process does meanwhile: importing the command that asks for them. Those not taken are
    dropped when the block ends; SIGINT and SIGTERM (which the caller turns into
    ``KeyboardInterrupt``) reach only this thread, and while they are dropped, not even it. A
    failure is not reported here: the ``scratch_database`` that would have taken the database
    makes its own, and says what went wrong. Nor is the URL's password registered for masking
    here: the command does so once its run has begun, and tells GitHub.
    """
    try:
        with masking.scope():
            server = normalize_url(database_url)
    except BadInput:  # the command refuses it, as it would have
        yield
        return
    made = [_Ahead(server) for _ in range(count)]
    with _signals_held():  # the threads start with them blocked, and keep them so
        for ahead in made:
            ahead.thread = threading.Thread(target=ahead.make, name="dbci-scratch", daemon=True)
            ahead.thread.start()
        with _AHEAD_LOCK:
            _AHEAD.extend(made)
    try:
        yield
    finally:
        with _AHEAD_LOCK:
            left = [a for a in _AHEAD if a in made]
            _AHEAD[:] = [a for a in _AHEAD if a not in made]
        with _signals_held():
            _drop_left(server, left)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back from this thread, and from the threads it starts, until
    the block ends (then they are handled)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, interrupts.HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _drop_left(server: str, left: list[_Ahead]) -> None:
    """Drop the databases of ``left`` once their threads have ended; an interrupt meanwhile (a
    signal another thread took: Python raises it in this one) is raised once all are gone."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            for ahead in left:
                ahead.wait()
            if names := [a.name for a in left if a.name]:
                admin = _admin(server)
                with ThreadPoolExecutor(len(names)) as pool:
                    for name in names:
                        pool.submit(_drop_quietly, admin, name, False)
                admin.dispose()
            break
        except KeyboardInterrupt as exc:  # dropped again: each drop is IF EXISTS
            interrupted = exc
    if interrupted is not None:
        raise interrupted


def _made_ahead(server: str) -> list[_Ahead]:
    """The databases this process made ahead on ``server`` and has not taken, once all it
    made ahead are made (so a fork finds no thread at work)."""
    with _AHEAD_LOCK:
        mine = [a for a in _AHEAD if a.pid == os.getpid()]
    for ahead in mine:
        ahead.wait()
    return [a for a in mine if a.server == server and a.name]


def _take_ahead(server: str) -> str | None:
    """A database made ahead on ``server`` (see :func:`_made_ahead`), None when there is none."""
    made = _made_ahead(server)
    with _AHEAD_LOCK:  # another thread may have taken one meanwhile
        for ahead in made:
            if ahead in _AHEAD:
                _AHEAD.remove(ahead)
                return ahead.name
    return None


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

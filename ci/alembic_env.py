"""Running revisions in-process, through the project's own env.py, on one connection.

dbci hands env.py its connection (``config.attributes["connection"]``, and ``sqlalchemy.url``)
and, before any revision runs, proves that the MigrationContext env.py configured works on that
database: an env.py that builds its own engine from elsewhere (a secret, an environment
variable) would otherwise run every upgrade and downgrade on a database that is not scratch.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import textwrap
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from ci import compat, interrupts
from ci.config import Config
from ci.db.runners import is_connection_lost, own_cursor
from ci.errors import BadInput, DbciError, described, error_line, internal, user_frame
from ci.findings import display_path
from ci.history import History, Revision

_MISSING_EXTENSION = re.compile(
    r'extension "([^"]+)" is not available'
    r'|could not open extension control file ".*/([^/"]+)\\.control"'
)

#: The lines that make an env.py run on the connection dbci (or pytest-alembic) hands it.
HONOUR_THE_CONNECTION = textwrap.dedent("""\
    def run_migrations_online():
        connectable = config.attributes.get("connection")
        if connectable is None:  # not dbci: build the engine as before
            connectable = engine_from_config(...)
        if isinstance(connectable, Connection):
            do_run_migrations(connectable)
        else:
            with connectable.connect() as connection:
                do_run_migrations(connection)""")


class RevisionFailed(BadInput):
    """A revision's upgrade or downgrade raised. Checks turn it into a finding; anywhere else it
    is one line naming the revision's file (exit 2)."""

    def __init__(self, revision: Revision, direction: str, error: BaseException) -> None:
        self.revision = revision
        self.direction = direction
        self.error = error
        self.reason = f"{direction} of {revision.id} failed: {error_line(error)}"
        super().__init__(f"{revision.display}: {self.reason}")


def _same_database(theirs: sa.Connection, ours: sa.Connection) -> bool:
    """Whether two connections reach the same database of the same server: ours holds a random
    advisory lock, and theirs must see it held, by our backend, in its own database."""
    key = secrets.randbits(62)
    mine, seen = own_cursor(ours), own_cursor(theirs)
    try:
        mine.execute("SELECT pg_advisory_lock(%s), pg_backend_pid()", (key,))
        pid = mine.fetchone()[1]
        seen.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.pid = %s AND d.datname = current_database() "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s)", (pid, key))
        return bool(seen.fetchone()[0])
    finally:
        mine.execute("SELECT pg_advisory_unlock(%s)", (key,))
        mine.close()
        seen.close()


def _verify(context: MigrationContext, handed: sa.Connection, env_py: str) -> None:
    """Refuse, having run nothing, unless env.py's MigrationContext is on dbci's database."""
    theirs = context.connection
    if theirs is None:
        raise BadInput(f"{env_py}: env.py configured no database connection (offline mode?); "
                       "dbci ran nothing", detail=HONOUR_THE_CONNECTION)
    if theirs is handed or theirs.connection.dbapi_connection is handed.connection.dbapi_connection:
        return
    if not _same_database(theirs, handed):
        raise BadInput(
            f"{env_py}: env.py runs the migrations on a database of its own, not on the scratch "
            "database dbci handed it; dbci ran nothing there. Make env.py use "
            "config.attributes['connection'] when it is set (see above)",
            detail=HONOUR_THE_CONNECTION)


def _lost(connection: sa.Connection) -> bool:
    """Whether the connection dbci handed env.py is gone (not one env.py made itself)."""
    if connection.invalidated or connection.closed:
        return True
    return bool(getattr(connection.connection.dbapi_connection, "closed", 0))


def env_failed(error: BaseException, env_py: str, config: Config) -> BadInput:
    """An exception env.py (or the ORM it imports) raised, as one line naming where."""
    where = user_frame(error, config.project_dir)
    at = f" (at {where})" if where and not where.startswith(env_py) else ""
    if isinstance(error, SystemExit):
        return BadInput(f"{env_py}: env.py exited (SystemExit: {error.code}){at}; dbci counts "
                        "that as a failure: make env.py run the migrations on the connection "
                        "it is handed", detail=HONOUR_THE_CONNECTION)
    line = f":{where.rsplit(':', 1)[1]}" if where and where.startswith(env_py) else ""
    return BadInput(f"{env_py}{line}: env.py failed: {described(error)}{at}; fix env.py or what "
                    "it imports (dbci ran no revision)")


def _environment(cfg: AlembicConfig, script: ScriptDirectory, forced: dict[str, Any],
                 **kw: Any) -> EnvironmentContext:
    """Alembic's EnvironmentContext, with options dbci adds to whatever env.py configures (one
    transaction per revision for ``migrate``, a callback after each revision)."""
    environment = EnvironmentContext(cfg, script, **kw)

    def with_forced(options: dict[str, Any]) -> dict[str, Any]:
        callbacks = options.pop("on_version_apply", None) or ()
        callbacks = callbacks if isinstance(callbacks, list | tuple) else (callbacks,)
        ours = forced.get("on_version_apply", ())
        return {**options, **forced, "on_version_apply": (*callbacks, *ours)}

    compat.wrap_configure(environment, with_forced)
    return environment


def run_env(config: Config, history: History, connection: sa.Connection,
            body: Callable[[MigrationContext], list[Any] | None], *,
            forced: dict[str, Any] | None = None, **environment: Any) -> None:
    """Run the project's env.py on ``connection``, with ``body`` in place of Alembic's steps.

    env.py configures the MigrationContext as it always does (schemas, version table, the
    connection dbci hands over), with ``forced`` options on top; after dbci has checked that
    context is on its database, ``body`` drives revisions on it with ``op`` bound, or returns
    the steps for Alembic to run (``migrate``). What env.py raises (SystemExit too) is one line
    naming env.py; what ``body`` and the steps it returned raise passes through as it is.
    """
    config.add_import_paths()
    cfg = config.alembic(connection)
    env_py = display_path(history.script_dir.env_py_location)
    ran: list[BaseException | None] = []

    def driver(heads: Any, context: MigrationContext) -> list[Any]:
        _verify(context, connection, env_py)
        try:
            with compat.begin_per_revision(context):
                steps = body(context)
        except BaseException as exc:
            ran.append(exc)
            raise
        ran.append(None)
        return steps or []

    try:
        with _environment(cfg, history.script_dir, forced or {}, fn=driver, **environment):
            history.script_dir.run_env()
    except DbciError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and interrupts.by_signal():
            raise  # the user's Ctrl-C; one env.py raised itself is env.py's failure
        if ran and (exc is ran[0] or ran[0] is None):
            raise  # body's own, or a step's: the caller knows what it was doing
        if is_connection_lost(exc) and (ran or _lost(connection)):
            raise  # dbci's database went away: the caller names it
        raise env_failed(exc, env_py, config) from exc
    if not ran:
        raise BadInput(f"{env_py}: env.py never called context.run_migrations(), so dbci ran "
                       "nothing; make env.py run the migrations", detail=HONOUR_THE_CONNECTION)


def commit_what_alembic_left(connection: sa.Connection) -> None:
    """After ``run_env`` with a transaction per migration: a last revision that committed its
    transaction itself (``.commit()``) leaves the rest of its work and its version row in one
    Alembic never commits (plain Alembic loses them when the session ends): commit it."""
    if connection.in_transaction():
        connection.commit()


def apply(rev: Revision, direction: str) -> None:
    """Run a revision's ``upgrade()`` or ``downgrade()``; failures name the revision.

    ``sys.exit()`` and a ``KeyboardInterrupt`` the revision raises itself are failures like any
    other; losing the server, or a signal (and whatever it broke on its way out), is not the
    revision's failure and passes through.
    """
    try:
        getattr(rev.script.module, direction)()
    except BaseException as exc:
        failure = _failure(rev, direction, exc)
        if failure is exc:
            raise
        raise failure from exc


def _failure(rev: Revision, direction: str, exc: BaseException) -> BaseException:
    """What a revision's exception stands for: itself when it is not the revision's to carry,
    else a RevisionFailed (or the BadInput of a missing extension)."""
    if interrupts.by_signal():  # the user's Ctrl-C, or a worker asked to end
        return exc if isinstance(exc, KeyboardInterrupt) else KeyboardInterrupt()
    if isinstance(exc, DbciError) or is_connection_lost(exc):
        return exc
    if isinstance(exc, DBAPIError):
        match = _MISSING_EXTENSION.search(str(exc.orig))
        if match:
            return BadInput(
                f"{rev.display}: {rev.id} needs the extension {match.group(1) or match.group(2)}, "
                "which this PostgreSQL lacks (the embedded build has no OpenSSL: no pgcrypto or "
                "uuid-ossp); set DATABASE_URL to a full PostgreSQL server")
    if isinstance(exc, AssertionError):
        raised_in = traceback.extract_tb(exc.__traceback__)[-1].filename
        if Path(raised_in).resolve() != rev.path.resolve():  # Alembic's or dbci's own assert
            return internal(exc)
    if isinstance(exc, Exception | SystemExit | KeyboardInterrupt):
        return RevisionFailed(rev, direction, exc)
    return exc  # GeneratorExit and the like: not a revision's failure


def _literal(cursor: Any, statement: str, parameters: Any) -> str:
    mogrify = getattr(cursor, "mogrify", None)
    if parameters and mogrify is not None:
        text = mogrify(statement, parameters)
        return text.decode() if isinstance(text, bytes) else str(text)
    return statement


@dataclass(frozen=True)
class Statement:
    """One statement a revision sent, parameters rendered in, and whether it ran in autocommit."""

    sql: str
    autocommit: bool


@contextlib.contextmanager
def capture_statements(connection: sa.Connection) -> Iterator[list[Statement]]:
    """Record every statement sent on ``connection``."""
    statements: list[Statement] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        options = context.execution_options if context is not None else {}
        autocommit = options.get("isolation_level") == "AUTOCOMMIT"
        batches = parameters if executemany else [parameters]
        statements.extend(Statement(_literal(cursor, statement, p), autocommit) for p in batches)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", before)


def upgrade(config: Config, history: History, connection: sa.Connection,
            revisions: list[Revision],
            then: Callable[[MigrationContext], None] | None = None) -> None:
    """Apply ``revisions`` in order through env.py (no version stamps); then call ``then``."""

    def body(context: MigrationContext) -> None:
        for rev in revisions:
            apply(rev, "upgrade")
        if then is not None:
            then(context)

    run_env(config, history, connection, body)


@dataclass(frozen=True)
class VersionStamp:
    """What a database's version table says, and where that table is (env.py decides)."""

    heads: tuple[str, ...]
    schema: str | None
    table: str

    def read(self, connection: sa.Connection) -> tuple[str, ...]:
        """The heads now, read again without env.py."""
        context = MigrationContext.configure(connection, opts={
            "version_table": self.table, "version_table_schema": self.schema})
        return tuple(context.get_current_heads())


def read_stamp(config: Config, history: History, connection: sa.Connection) -> VersionStamp:
    """The revisions a database is at, read through the project's env.py (it says where the
    version table is); changes nothing."""
    found: list[VersionStamp] = []

    def body(context: MigrationContext) -> None:
        found.append(VersionStamp(tuple(context.get_current_heads()), context.version_table_schema,
                           context.version_table))

    run_env(config, history, connection, body, forced={"dont_mutate": True})
    connection.rollback()
    return found[0]

"""``pg_dump`` and ``pg_restore`` of the embedded build (PostgreSQL 18, as new as any server
dbci supports): a database's schema (its rows too, if asked) with no owners, grants, RDS roles,
publications or tablespaces, so that one load into an empty database gives no error to ignore;
and that load. The version table keeps its row, so the loaded database knows its revision.

Credentials reach the tools through libpq's environment, never their command line.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ci.alembic_env import VersionStamp, read_stamp
from ci.config import Config
from ci.db.embedded import client_program
from ci.db.runners import run_script
from ci.db.scratch import named_database
from ci.errors import BadInput, OutsideFailure
from ci.findings import display_path
from ci.history import load_history
from ci.stages import targets

#: The major version of the tools in the embedded build: servers up to this one can be dumped.
TOOLS_MAJOR = 18
#: Settings a script of pg_dump or pg_restore 18 begins with that servers before 17 do not
#: know; the session settings they make are of no use to a load.
NEWER_SETTINGS = re.compile(r"^SET transaction_timeout = .*;\n", re.MULTILINE)


#: A column's options as pg_dump sets them after its table, one line per column.
COLUMN_OPTIONS = re.compile(r"^(ALTER TABLE ONLY .+ ALTER COLUMN .+ SET \()([^()]*)(\);\n)",
                            re.MULTILINE)
#: The option a patched PostgreSQL 15 (these machines' own) stamps on every column it makes or
#: alters: no other server knows it, so a dump that sets it loads nowhere else.
STAMP = "pg_attver="


def for_any_server(script: str) -> str:
    """A plain-SQL script of the 18 tools, loadable by servers 14 to 18 (whichever it came
    from: without :data:`STAMP` options)."""
    return COLUMN_OPTIONS.sub(_without_stamp, NEWER_SETTINGS.sub("", script))


def _without_stamp(line: re.Match[str]) -> str:
    kept = [o for o in line[2].split(", ") if not o.startswith(STAMP)]
    return f"{line[1]}{', '.join(kept)}{line[3]}" if kept else ""
#: What a dump leaves out, so it loads anywhere as whoever loads it.
PORTABLE = ("--no-owner", "--no-privileges", "--no-publications", "--no-subscriptions",
            "--no-security-labels", "--no-tablespaces")


def libpq_environment(url: str | None, application: str,
                      read_only: bool = False) -> dict[str, str]:
    """libpq's variables for a URL (none for a tool that connects nowhere): the password in
    PGPASSWORD, not on a command line; ``PGOPTIONS`` makes the session read-only if asked."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url is None:
        return clean
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or ""
    values = {"PGHOST": host, "PGPORT": str(parsed.port or 5432), "PGUSER": parsed.username,
              "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database,
              "PGSSLMODE": parsed.query.get("sslmode"), "PGAPPNAME": application,
              "PGCONNECT_TIMEOUT": "10",
              "PGOPTIONS": targets.session_options(url, read_only) or None}
    return {**clean, **{k: str(v) for k, v in values.items() if v}}


#: psql's exit status when the script failed under ON_ERROR_STOP (not the connection).
PSQL_SCRIPT_ERROR = 3


def run_tool(name: str, args: list[str], url: str | None, what: str,
             stdin: str | None = None, read_only: bool = False
             ) -> subprocess.CompletedProcess[str]:
    """Run pg_dump, pg_restore or psql on a database; a failure is one line from its stderr."""
    try:
        done = subprocess.run([str(client_program(name)), *args], capture_output=True,
                              text=True, env=libpq_environment(url, f"dbci {name}", read_only),
                              check=False, input=stdin,
                              stdin=subprocess.DEVNULL if stdin is None else None)
    except OSError as exc:
        raise OutsideFailure(f"{name} could not run: {exc.strerror}") from exc
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        first = said[0].removeprefix(f"{name}: ") if said else "no output"
        if name == "psql" and done.returncode == PSQL_SCRIPT_ERROR:
            raise BadInput(f"{what}: the SQL fails ({first}); fix the file, nothing was kept")
        raise OutsideFailure(f"{what}: {name} failed: {first}")
    return done


@dataclass(frozen=True)
class Dumped:
    """A dump written: where, of which revision, with or without rows."""

    path: Path
    revision: tuple[str, ...]
    data: bool


@contextlib.contextmanager
def _written(out: Path) -> Iterator[Path]:
    """A temporary file beside ``out`` that becomes ``out`` only when the block succeeds."""
    try:
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=".dbci-", suffix=".tmp")
    except OSError as exc:
        raise BadInput(f"cannot write {display_path(out)}: {exc.strerror}") from exc
    os.close(fd)
    try:
        yield Path(name)
        os.replace(name, out)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _tables(connection: sa.Connection, version: VersionStamp) -> list[str]:
    """The user tables other than the version table, as pg_dump patterns."""
    rows = connection.exec_driver_sql(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', 'dbci_track')").all()
    schema = version.schema or "public"
    quote = '"{}"'.format
    return [f"{quote(s.replace(chr(34), chr(34) * 2))}.{quote(t.replace(chr(34), chr(34) * 2))}"
            for s, t in rows if (s, t) != (schema, version.table)]


def dump(config: Config, target: targets.Target, out: Path, data: bool = False) -> Dumped:
    """Dump a database (custom format) to ``out``, atomically: the schema, the version table's
    row, and every row when ``data``."""
    history = load_history(config)
    with targets.connect(target, read_only=True,
                         application_name="dbci db dump") as connection:
        at = read_stamp(config, history, connection)
        major = int((connection.dialect.server_version_info or (0,))[0])
        tables = [] if data else _tables(connection, at)
        connection.rollback()
    if major > TOOLS_MAJOR:
        raise OutsideFailure(f"{target.display} runs PostgreSQL {major}; dbci's pg_dump is "
                             f"{TOOLS_MAJOR}, which cannot dump a newer server")
    with _written(out) as tmp:
        run_tool("pg_dump", ["--format=custom", *PORTABLE, f"--file={tmp}",
                             *(f"--exclude-table-data={t}" for t in tables)],
                 target.url, f"dumping {target.display}", read_only=True)
        # pg_dump can end well with a file the disk cut short: read it back before keeping it
        run_tool("pg_restore", ["--list", str(tmp)], target.url,
                 f"reading back the dump of {target.display} (a full disk?)")
    return Dumped(out, at.heads, data)


def run_sql_script(target: targets.Target, script: str, what: str) -> None:
    """Run a plain-SQL script on a database with psql, all or nothing."""
    run_tool("psql", ["--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                      "--file=-"], target.url, what, stdin=script)


@dataclass(frozen=True)
class Loaded:
    """A dump loaded: into which database, and the revision it says it is at."""

    target: targets.Target
    revision: tuple[str, ...]


def readable(file: Path) -> None:
    """Refuse a file that is not a dump pg_restore can read, before anything is done."""
    if not file.is_file():
        raise BadInput(f"{display_path(file)}: no such file")
    try:
        run_tool("pg_restore", ["--list", str(file)], None, "reading the dump")
    except OutsideFailure as exc:
        raise BadInput(f"{display_path(file)}: not a dump dbci can load ({exc.message})") from exc


def load_schema(config: Config, target: targets.Target, file: Path) -> Loaded:
    """Load a dump into an empty database; refuses one that holds anything."""
    readable(file)
    with targets.connect(target) as connection:
        if run_script(connection, "user_objects")[0][0]:
            raise BadInput(f"{target.display} is not empty; db load-schema loads only into an "
                           "empty database (or one it creates: --create NAME)")
        connection.rollback()
    what = f"loading {display_path(file)} into {target.display}"
    script = run_tool("pg_restore", [*PORTABLE, "--file=-", str(file)], target.url, what).stdout
    run_sql_script(target, for_any_server(script), what)
    history = load_history(config)
    with targets.connect(target) as connection:
        at = read_stamp(config, history, connection)
    return Loaded(target, at.heads)


def dump_target(config: Config, stage: str | None, tunnel_port: int | None, tunnel: str | None,
                log: Callable[[str], None]) -> targets.Target:
    """The database ``db dump`` reads: the stage's, else ``--database-url``'s."""
    if stage:
        return targets.stage(config, stage, tunnel_port, tunnel, log)
    if config.database_url:
        return targets.given(config)
    raise BadInput("which database? pass --stage STAGE or --database-url URL")


def load_schema_into(config: Config, file: Path,
                     create: str | None) -> tuple[Loaded, targets.Target]:
    """``db load-schema``: into ``--database-url``'s empty database, or into a new one named
    ``create`` (on the embedded server or that URL's), dropped again when the load fails."""
    if create and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", create):
        raise BadInput(f"--create {create!r}: a database name of letters, digits and _ "
                       "(at most 63), not starting with a digit")
    readable(file)
    with contextlib.ExitStack() as stack:
        target = targets.Target(targets.Kind.DATABASE, stack.enter_context(
            named_database(config.database_url, create))) if create else targets.given(config)
        return load_schema(config, target, file), target

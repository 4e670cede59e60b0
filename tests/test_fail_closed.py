"""Fail closed: green means checked. One test (or a few) per way dbci was found to pass without
checking, to print a traceback, to leave a half-written tree or to leak a password.

The numbers are those of the issue that listed them: 0 a database that is not scratch, 1
settings that switched squawk off, 2 SystemExit, 3 what `check` checks, 4 unexpected errors,
5 `new`'s message, 6 `renumber` all or nothing, 7 passwords in query strings, 8 settings that
misbehave, 9 leftovers, 10 the smaller ones.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DBCI,
    TEST_APPLICATION,
    OwnServer,
    Run,
    add_revision,
    blocks_until,
    commit_all,
    dbci,
    dbci_process,
    edit_file,
    edit_revision,
    folder_state,
    git,
    run_sql,
    server,
    set_dbci,
    user_objects,
    wait_for,
    workflow_commands,
)
from sqlalchemy.engine import make_url

from ci import squawk_cli as squawk
from ci.atomic_files import replace_files
from ci.db.lent import LENT_LOCK
from ci.db.runners import ADMIN_APPLICATION, create_engine
from ci.db.scratch import SCRATCH_COMMENT
from ci.errors import BadInput

ENV_PY = "database/env.py"


def tables(url: str) -> set[str]:
    """The tables of every schema but the system's, as ``schema.table``."""
    engine = create_engine(url, TEST_APPLICATION)
    try:
        with engine.connect() as connection:
            return set(connection.exec_driver_sql(
                "SELECT schemaname || '.' || tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").scalars())
    finally:
        engine.dispose()


# -- 0: a round trip never runs on a database that is not scratch ----------------------------


OWN_ENGINE_ENV = '''
def run_migrations_online() -> None:
    """As the data portal's env.py: its own engine, from elsewhere (here DATABASE_URL)."""
    engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():'''


@pytest.fixture
def victim(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database on the test server, named by DATABASE_URL: what env.py will reach."""
    name = f"victim_{os.getpid()}"
    admin = create_engine(server()).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(server()).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def own_engine(project: Path) -> None:
    env = project / ENV_PY
    text = env.read_text()
    start = text.index("def run_migrations_online()")
    env.write_text(text[:start] + OWN_ENGINE_ENV.lstrip()
                   + text.split("if context.is_offline_mode():", 1)[1])


@pytest.mark.db
@pytest.mark.parametrize("command", [["roundtrip"], ["drift"], ["diff"], ["check"],
                                     ["lint", "--base", "main"], ["new", "--autogenerate", "x"]],
                         ids=lambda c: " ".join(c))
def test_env_py_that_builds_its_own_engine_is_refused_before_anything_runs(
        git_project: Path, victim: str, command: list[str]) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "add_note", 'op.add_column("CollectionCanonical", sa.Column('
                 '"note", sa.Text), schema="persistence_schema")',
                 'op.drop_column("CollectionCanonical", "note", schema="persistence_schema")')
    own_engine(git_project)
    before = folder_state(git_project / "database")
    run = dbci(*command)
    assert run.code == 2, run.out + run.err
    last = run.err.splitlines()[-1]
    assert last.startswith(f"dbci {command[0]}: {ENV_PY}: env.py runs the migrations on a "
                           "database of its own, not on the scratch database dbci handed it")
    assert 'config.attributes.get("connection")' in run.err  # the lines that fix it
    assert tables(victim) == set()  # no table, no alembic_version
    assert folder_state(git_project / "database") == before  # new wrote no file


@pytest.mark.db
def test_env_py_that_honours_only_sqlalchemy_url_reaches_the_scratch_database(
        project: Path) -> None:
    env = project / ENV_PY
    edit_file(env, 'connectable = config.attributes.get("connection")', "connectable = None")
    run = dbci("roundtrip")
    assert run.code == 0, run.err
    assert "14 passed" in run.out


# -- 1: a settings typo cannot switch squawk off; squawk failing is a failure ------------------


INDEX = ('op.create_index("ix_owner", "CollectionVersion", ["owner"], '
         'schema="persistence_schema")')
DROP_INDEX = ('op.drop_index("ix_owner", table_name="CollectionVersion", '
              'schema="persistence_schema")')


@pytest.mark.db
@pytest.mark.parametrize(("line", "said"), [
    ('squawk_exclude = ["no-such-squawk-rule"]',
     "squawk_exclude or squawk_pg_version: squawk refuses them (invalid value "
     "'no-such-squawk-rule' for '--exclude <rule>': invalid rule name no-such-squawk-rule)"),
    ('squawk_pg_version = "banana"',
     "squawk_pg_version = 'banana': is not a PostgreSQL version such as '15' or '13.0'"),
], ids=["squawk-refuses", "not-a-version"])
def test_a_squawk_setting_it_refuses_is_a_settings_error(git_project: Path, line: str,
                                                         said: str) -> None:
    """Refused where squawk runs (squawk judges its own rule names), with one line."""
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "index_owner", INDEX, DROP_INDEX)
    set_dbci(git_project, line)
    run = dbci("lint", "--base", "main")
    assert run.code == 2 and run.out == ""
    assert run.err == f"dbci lint: {git_project / 'pyproject.toml'}: [tool.dbci] {said}\n"


@pytest.mark.db
def test_squawk_that_fails_is_a_failure_not_a_pass(git_project: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "index_owner", INDEX, DROP_INDEX)
    broken = tmp_path / "squawk"
    broken.write_text("#!/bin/sh\necho 'error: it broke' >&2\nexit 2\n")
    broken.chmod(0o755)
    monkeypatch.setattr(squawk, "binary", lambda: str(broken))
    run = dbci("lint", "--base", "main")
    assert run.code == 3
    assert run.err == "dbci lint: squawk failed (exit 2): error: it broke\n"


# -- 2: SystemExit is a failure, never a silent pass --------------------------------------------


@pytest.mark.db
def test_sys_exit_in_a_revision_fails_it(project: Path) -> None:
    revision = add_revision(project, "exits", "import sys\nsys.exit(0)")
    run = dbci("--json", "roundtrip")
    assert run.code == 1
    assert [(f["rule"], f["revision"]) for f in run.json()["findings"]] == [
        ("upgrade-fails", revision)]
    assert f"upgrade of {revision} failed: SystemExit: 0" in run.json()["findings"][0]["message"]
    github = dbci("--github", "check")
    assert github.code == 1
    assert "::error file=database/versions/" in github.err and not workflow_commands(github.out)


@pytest.mark.db
def test_system_exit_in_env_py_is_an_error_with_a_json_document(project: Path) -> None:
    edit_file(project / ENV_PY, "if context.is_offline_mode():",
              "raise SystemExit(0)\n\n\nif context.is_offline_mode():")
    for command in ("roundtrip", "check"):
        run = dbci("--json", command)
        assert run.code == 2
        assert run.json()["ok"] is False
        assert run.json()["error"].startswith(f"{ENV_PY}: env.py exited (SystemExit: 0)")
    text = dbci("roundtrip")
    assert text.err.splitlines()[-1].startswith(f"dbci roundtrip: {ENV_PY}: env.py exited")


@pytest.mark.db
@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_a_keyboard_interrupt_a_revision_raises_is_its_failure(project: Path,
                                                                direction: str) -> None:
    raises = "raise KeyboardInterrupt"
    revision = add_revision(project, "interrupts", raises if direction == "upgrade" else "pass",
                            raises if direction == "downgrade" else "pass")
    run = dbci("--json", "roundtrip")
    assert run.code == 1, run.out + run.err
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == (f"{direction}-fails", revision)
    assert f"{direction} of {revision} failed: KeyboardInterrupt" in finding["message"]


@pytest.mark.db
def test_a_keyboard_interrupt_env_py_raises_is_its_failure(project: Path) -> None:
    edit_file(project / ENV_PY, "if context.is_offline_mode():",
              "raise KeyboardInterrupt\n\n\nif context.is_offline_mode():")
    run = dbci("roundtrip")
    assert run.code == 2
    assert run.err.splitlines()[-1].startswith(f"dbci roundtrip: {ENV_PY}:")
    assert "KeyboardInterrupt" in run.err and "interrupted" not in run.err


@pytest.mark.db
@pytest.mark.parametrize("after", ["raise", "raise RuntimeError('the session is gone')"],
                         ids=["as-is", "turned-into-another-error"])
def test_a_real_interrupt_is_exit_130_whatever_it_broke(project: Path, after: str) -> None:
    """A Ctrl-C arriving mid-revision interrupts the run, even when what it broke raises
    something else on its way out (SQLAlchemy's PendingRollbackError, once in 13 tries)."""
    revision = add_revision(project, "ctrl_c", "import os, signal\ntry:\n"
                            "    os.kill(os.getpid(), signal.SIGINT)\n"
                            "except KeyboardInterrupt:\n"
                            f"    {after}")
    run = dbci("roundtrip")
    assert run.code == 130, run.out + run.err
    assert run.err.splitlines()[-1] == ("dbci roundtrip: interrupted; nothing it had under way "
                                        "is kept (scratch databases dropped, open transactions "
                                        "rolled back)")
    assert revision not in run.out


# -- 3: check is the full PR check -------------------------------------------------------------


@pytest.mark.db
def test_check_applies_the_base_rules_without_being_asked(git_project: Path) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    edit_revision(git_project, "07", "def downgrade", "# edited\ndef downgrade")
    add_revision(git_project, "index_owner", INDEX, DROP_INDEX)
    commit_all(git_project, "branch")
    run = dbci("--json", "check")
    assert run.code == 1
    assert run.json()["base"] == "main"
    assert {"edited-deployed-revision", "require-concurrent-index-creation"} <= run.rules()
    assert "Base: `main`" in dbci("check").out


@pytest.mark.db
def test_check_in_ci_without_a_base_branch_stops(project: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    git(project, "init", "-q", "-b", "feature")  # a shallow clone of the PR branch alone
    commit_all(project, "feature only")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = dbci("check")
    assert run.code == 2 and run.out == ""
    assert "no base branch to compare with" in run.err and "fetch-depth: 0" in run.err
    monkeypatch.delenv("GITHUB_ACTIONS")
    outside = dbci("check")  # on a laptop: runs, and says what it could not check
    assert outside.code == 0
    assert "Base: none found" in outside.out


# -- 4: anything unexpected is one line, the right exit code, and JSON under --json -----------


def env_import_fails(project: Path) -> str:
    edit_file(project / ENV_PY, "from orm import Base", "import orm_that_is_not_there\n"
              "from orm import Base")
    return rf"{ENV_PY}:\d+: env.py failed: ModuleNotFoundError: No module named " \
           "'orm_that_is_not_there'"


def env_raises(project: Path) -> str:
    edit_file(project / ENV_PY, "def _run(connection: Connection) -> None:\n",
              "def _run(connection: Connection) -> None:\n    raise RuntimeError('no stage')\n")
    return rf"{ENV_PY}:\d+: env.py failed: RuntimeError: no stage"


def orm_raises(project: Path) -> str:
    edit_file(project / "orm" / "models.py", "import sqlalchemy as sa\n",
              "import sqlalchemy as sa\n\nundefined_name\n")
    return rf"{ENV_PY}: env.py failed: NameError: name 'undefined_name' is not defined " \
           r"\(at orm/models.py:\d+\)"


def ini_interpolation(project: Path) -> str:
    edit_file(project / "alembic.ini", "truncate_slug_length = 40",
              "truncate_slug_length = %(nothere)s")
    return r"alembic.ini: \[alembic\] truncate_slug_length: Bad value substitution"


def broken_symlink(project: Path) -> str:
    (project / "database" / "versions" / "16_gone.py").symlink_to(project / "nowhere.py")
    return r"database/versions/16_gone.py: No such file or directory \(a broken symlink\?\)"


def latin1_fixture(project: Path) -> str:
    path = project / "database" / "roundtrip_data" / "05_5a3c600990c9.sql"
    path.write_bytes(path.read_bytes() + "-- caf\xe9\n".encode("latin-1"))
    return r"database/roundtrip_data/05_5a3c600990c9.sql: cannot read the data fixture"


def revision_commits(project: Path) -> str:  # in a way its source does not show
    revision = add_revision(project, "commits", 'op.execute("COM" + "MIT")')
    return rf"database/versions/{revision}_commits.py: the upgrade of {revision} commits"


@pytest.mark.db
@pytest.mark.parametrize("breaks", [env_import_fails, env_raises, orm_raises, ini_interpolation,
                                    broken_symlink, latin1_fixture, revision_commits],
                         ids=lambda f: f.__name__)
def test_a_broken_project_file_is_exit_2_and_one_line(project: Path,
                                                      breaks: Callable[[Path], str]) -> None:
    pattern = breaks(project)
    run = dbci("roundtrip")
    assert run.code == 2, run.out + run.err
    assert re.match(rf"dbci roundtrip: (/\S*/)?{pattern}", run.err.splitlines()[-1]), run.err
    doc = dbci("--json", "roundtrip")
    assert doc.code == 2 and re.match(rf"(/\S*/)?{pattern}", doc.json()["error"])


@pytest.mark.parametrize("args", [["db", "dump", "--out"], ["seed", "build", "--out"],
                                  ["check", "--comment"],
                                  ["migrate", "--stage", "dev", "--sql", "--plan-out"]])
def test_an_output_file_that_is_a_pipe_is_never_replaced(project: Path, tmp_path: Path,
                                                         args: list[str]) -> None:
    """`--out /dev/null` once replaced /dev/null with a file (a rename over a device): an
    output that is not a regular file is refused before any work. A pipe stands in here."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    run = dbci(*args, str(pipe))
    assert run.code == 2 and "is not a regular file" in run.err.splitlines()[-1]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_replace_files_never_renames_over_a_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(BadInput, match="not a regular file; nothing was changed"):
        replace_files({tmp_path / "a.txt": "a", pipe: "b"})
    assert stat.S_ISFIFO(pipe.stat().st_mode) and not (tmp_path / "a.txt").exists()


def test_a_port_that_is_not_a_number(project: Path) -> None:
    run = dbci("--json", "--database-url", "postgresql://u:Sekr1t@db:notaport/app", "roundtrip")
    assert run.code == 2
    assert run.json()["error"].startswith("--database-url is not a database URL (the value is "
                                          "not shown)")
    assert "Sekr1t" not in run.out + run.err and "notaport" not in run.out + run.err


def test_an_unusable_cache_folder_is_exit_3(project: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    env = {"DBCI_CACHE_DIR": str(tmp_path / "a-file" / "cache"), "DATABASE_URL": ""}
    run = dbci_process("roundtrip", cwd=project, env=env)
    assert run.code == 3
    assert run.err.startswith("dbci roundtrip: cannot use the cache folder ")
    assert "set DBCI_CACHE_DIR to a writable folder" in run.err and run.err.count("\n") == 1


@pytest.mark.db
def test_the_server_stopping_in_the_middle_is_exit_3_and_one_line(
        project: Path, own_server: OwnServer, tmp_path: Path) -> None:
    started = tmp_path / "started"
    add_revision(project, "slow", f'{blocks_until(started)}\nop.execute("SELECT 1")')
    process = subprocess.Popen([str(DBCI), "roundtrip"], cwd=project, text=True,
                               env={**os.environ, **own_server.env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(started.exists), "the run never reached the slow revision"
        own_server.stop_now()  # while the revision runs, its transaction open
        Path(f"{started}.go").touch()
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("dbci roundtrip: lost the connection to ")


# -- 5: `new` writes any message safely, and never leaves a file that does not parse -----------


@pytest.mark.parametrize("message", ["fix \\x escapes", 'say """hello"""', "it's a \"quote\"",
                                     "tab\there and a trailing backslash \\"])
def test_new_carries_any_message(project: Path, message: str) -> None:
    run = dbci("new", message)
    assert run.code == 0, run.err
    path = Path(run.out.strip())
    first = ast.parse(path.read_text()).body[0]
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    assert first.value.value.splitlines()[0] == message
    assert dbci("lint").code == 0


def test_new_removes_a_file_its_template_cannot_carry(project: Path) -> None:
    mako = project / "database" / "script.py.mako"
    edit_file(mako, "# revision identifiers, used by Alembic.",
              'MESSAGE = "${message}"\n# revision identifiers, used by Alembic.')
    before = folder_state(project / "database")
    run = dbci("new", 'a "quoted" word')
    assert run.code == 2
    assert "script.py.mako: the revision it renders for message" in run.err
    assert "nothing was written" in run.err
    assert folder_state(project / "database") == before


# -- 6: renumber changes every file or none ---------------------------------------------------


@pytest.fixture
def diverged(git_project: Path) -> Path:
    """Two branches each added revision 15; this one also has 16, with a data fixture."""
    git(git_project, "checkout", "-q", "-b", "feature")
    mine = add_revision(git_project, "feature_one", "pass")
    second = add_revision(git_project, "feature_two", "pass")
    (git_project / "database" / "roundtrip_data" / f"{second}.sql").write_text("SELECT 1;\n")
    commit_all(git_project, "feature")
    git(git_project, "checkout", "-q", "main")
    add_revision(git_project, "main_one", "pass")
    commit_all(git_project, "main")
    git(git_project, "checkout", "-q", "feature")
    git(git_project, "merge", "-q", "main", "-m", "merge")
    assert mine
    return git_project


@pytest.mark.parametrize("fails", ["unlink", "replace"])
def test_renumber_that_fails_half_way_leaves_the_tree_as_it_was(
        diverged: Path, monkeypatch: pytest.MonkeyPatch, fails: str) -> None:
    before = folder_state(diverged / "database")
    calls: list[Any] = []
    real = Path.unlink if fails == "unlink" else os.replace

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(args[0]))
        return real(*args, **kwargs)

    if fails == "unlink":
        monkeypatch.setattr(Path, "unlink", flaky)
    else:
        monkeypatch.setattr(os, "replace", flaky)
    run = dbci("renumber", "--onto", "main")
    monkeypatch.undo()
    assert run.code == 2, run.err
    assert "Permission denied; nothing was changed" in run.err
    assert folder_state(diverged / "database") == before


def test_renumber_moves_a_fixture_with_its_revision(diverged: Path) -> None:
    run = dbci("--json", "renumber", "--onto", "main")
    assert run.code == 0, run.out
    moved = {m["revision_from"]: m["revision_to"] for m in run.json()["renamed"]}
    fixtures = {p.stem for p in (diverged / "database" / "roundtrip_data").glob("*.sql")}
    assert fixtures & set(moved.values()) and not fixtures & set(moved)
    assert dbci("lint").code == 0


# -- 7: a password in the query string is masked everywhere -------------------------------------


def test_a_password_in_the_query_string_never_reaches_output(project: Path) -> None:
    url = "postgresql://alice@db.invalid/app?password=Qs3cret-pw"
    for flags in ([], ["--json"], ["--github"], ["--debug"], ["--json", "--github"]):
        run = dbci(*flags, "--database-url", url, "roundtrip")
        assert run.code == 3
        shown = [line for line in (run.out + run.err).splitlines()
                 if line != "::add-mask::Qs3cret-pw"]  # the one line that tells GitHub to hide it
        assert "Qs3cret-pw" not in "\n".join(shown), flags
        assert ("::add-mask::Qs3cret-pw" in run.out + run.err) == ("--github" in flags)


def test_a_libpq_dsn_password_is_masked() -> None:
    from ci.db import masking

    with masking.scope():
        masking.register_url("host=db user=app password='s p@ce' dbname=x")
        assert masking.mask("connecting: password='s p@ce' and s p@ce") == (
            "connecting: password=*** and ***")


# -- 8: a fixture for a revision that does not exist is reported -------------------------------


@pytest.mark.db
def test_a_fixture_named_after_no_revision(project: Path) -> None:
    orphan = project / "database" / "roundtrip_data" / "99_0123456789ab.sql"
    orphan.write_text("SELECT 1;\n")
    run = dbci("roundtrip")
    assert run.code == 2
    assert "database/roundtrip_data/99_0123456789ab.sql: names no revision" in run.err
    lint = dbci("--json", "lint")
    assert lint.code == 1 and lint.rules() == {"unknown-fixture-revision"}


# -- 9: what killed runs leave behind is cleaned, and only that --------------------------------


@pytest.mark.db
def test_a_scratch_database_a_dead_run_left_on_a_given_server_is_swept(project: Path) -> None:
    import socket

    given = server()
    name = "dbci_99999999_deadbeef"
    superuser_sql = create_engine(given).execution_options(isolation_level="AUTOCOMMIT")
    with superuser_sql.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        comment = SCRATCH_COMMENT.format(host=socket.gethostname(), pid=dead)
        connection.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
    run = dbci("--database-url", given, "roundtrip")
    assert run.code == 0
    with superuser_sql.connect() as connection:
        left = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar()
    superuser_sql.dispose()
    assert left == 0


@pytest.mark.db
def test_a_lent_database_a_killed_run_left_is_cleaned_and_used(project: Path, lent: str) -> None:
    add_revision(project, "commits", "with op.get_context().autocommit_block():\n"
                 '    op.execute("CREATE TABLE committed (id int)")', 'op.drop_table("committed")')
    add_revision(project, "slow", 'op.execute("SELECT pg_sleep(30)")')
    process = subprocess.Popen([str(DBCI), "--database-url", lent, "roundtrip"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sleeping = "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
    reached = wait_for(lambda: process.poll() is not None or bool(run_sql(lent, sleeping)))
    process.send_signal(signal.SIGKILL)
    out, err = process.communicate()
    assert reached and process.returncode == -signal.SIGKILL, out + err  # killed in "slow"
    assert "public.committed" in tables(lent)  # what the killed run had committed
    edit_file(next((project / "database" / "versions").glob("16_*_slow.py")), "pg_sleep(30)",
              "pg_sleep(0)")
    run = dbci("--database-url", lent, "roundtrip")
    assert run.code == 0, run.err
    assert user_objects(lent) == 0


@pytest.mark.db
def test_a_lent_database_with_objects_of_its_own_is_still_refused(project: Path,
                                                                 lent: str) -> None:
    engine = create_engine(lent, TEST_APPLICATION)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE mine (id int)")
    engine.dispose()
    run = dbci("--database-url", lent, "roundtrip")
    assert run.code == 2 and "it is not" in run.err
    assert tables(lent) == {"public.mine"}


def start_shards(project: Path, lent: str) -> list[subprocess.Popen[str]]:
    """Both halves of the reference project's round trip, started at once on ``lent``."""
    return [subprocess.Popen([str(DBCI), "--json", "--database-url", lent, "roundtrip",
                              "--shard", f"{k}/2"], cwd=project, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for k in (1, 2)]


def finished(processes: list[subprocess.Popen[str]]) -> list[Run]:
    """What each process returned and printed, once it ends."""
    return [Run(p.wait(timeout=300), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
            for p in processes]


@pytest.mark.db
def test_two_shards_on_one_lent_database_take_turns(project: Path, lent: str) -> None:
    runs = finished(start_shards(project, lent))
    for run in runs:
        assert run.code == 0, run.err
    assert sum(len(r.json()["revisions"]) for r in runs) == 14
    assert user_objects(lent) == 0


@pytest.mark.db
def test_a_run_waiting_for_its_turn_is_not_taken_for_a_killed_one(project: Path,
                                                                  lent: str) -> None:
    # Both runs wait for the lent database while the test holds it: whichever goes first
    # must leave the other's waiting session alone (it once ended it as an orphan), and the
    # session another run has open to try making a database (here, the test's own).
    engine = create_engine(lent, TEST_APPLICATION)
    trying = create_engine(lent, ADMIN_APPLICATION)
    with engine.connect() as holder, trying.connect() as other:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({LENT_LOCK})")
        processes = start_shards(project, lent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and holder.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
                "AND application_name LIKE 'dbci%%'").scalar() < 2:
            holder.commit()  # pg_stat_activity is read once per transaction
            time.sleep(0.1)
        holder.exec_driver_sql(f"SELECT pg_advisory_unlock({LENT_LOCK})")
        holder.commit()
        runs = finished(processes)
        assert other.exec_driver_sql("SELECT 1").scalar() == 1  # still connected
    engine.dispose()
    trying.dispose()
    assert [run.code for run in runs] == [0, 0], [run.err for run in runs]
    assert sum(len(r.json()["revisions"]) for r in runs) == 14


# -- 10: the smaller ones ------------------------------------------------------------------------


def test_json_with_github_keeps_stdout_one_document(project: Path) -> None:
    run = dbci("--json", "--github", "--database-url", "postgresql://u:Mask3d@db.invalid/x",
               "roundtrip")
    assert run.code == 3
    assert json.loads(run.out)["exit_code"] == 3  # nothing else on stdout
    assert "::add-mask::Mask3d" in run.err and "::error " in run.err


def test_the_irreversible_marker_hint_speaks_of_that_marker(project: Path) -> None:
    edit_revision(project, "07", "def downgrade() -> None:",
                  "# dbci: irreversible\ndef downgrade() -> None:")
    (finding,) = dbci("--json", "lint").json()["findings"]
    assert finding["rule"] == "marker-without-reason"
    assert finding["hint"] == ("add the reason: `# dbci: irreversible -- <why it cannot be "
                               "undone>`")


def test_a_check_that_could_not_run_says_so_in_the_step_summary(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = dbci("--database-url", "postgresql://u:pw@db.invalid/x", "check")
    assert run.code == 3
    text = summary.read_text()
    assert text.startswith("## dbci check: ⚠️ could not run\n") and "cannot reach" in text
    assert ":pw@" not in text

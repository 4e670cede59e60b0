"""Where databases come from: scratch databases dropped, lent databases left empty, unreachable
servers named without their password, and processes sharing one embedded server."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    DBCI,
    Run,
    add_revision,
    blocks_until,
    dbci,
    edit_orm,
    edit_revision,
    scratch_databases,
    user_objects,
    wait_for,
)

from ci.db import scratch
from ci.db.embedded import embedded_url, stop_embedded
from ci.db.runners import create_engine
from ci.db.urls import mask_url

pytestmark = pytest.mark.db


def leave_column(project: Path) -> None:
    edit_revision(project, "07", '    op.drop_column("CollectionVersion", "published_at", '
                  'schema="persistence_schema")\n', "")


def fail_upgrade(project: Path) -> None:
    add_revision(project, "broken", 'op.execute("ALTER TABLE nowhere ADD COLUMN x int")')


def break_fixture(project: Path) -> None:
    (project / "database" / "roundtrip_data" / "05_5a3c600990c9.sql").write_text(
        "INSERT INTO nowhere VALUES (1);\n")


def drop_orm_column(project: Path) -> None:
    edit_orm(project, "    schema_version: Mapped[str | None] = mapped_column(sa.String(16))\n", "")


def unchanged(project: Path) -> None:
    pass


#: (command, how the project is changed first, its exit code)
RUNS = [
    ("roundtrip", unchanged, 0),
    ("roundtrip", leave_column, 1),
    ("roundtrip", fail_upgrade, 1),
    ("roundtrip", break_fixture, 2),
    ("drift", unchanged, 0),
    ("drift", drop_orm_column, 1),
    ("diff", unchanged, 0),
    ("check", fail_upgrade, 1),
]
ALL_RUNS = pytest.mark.parametrize(("command", "change", "code"), RUNS,
                                   ids=[f"{c}-{f.__name__}" for c, f, _ in RUNS])


@ALL_RUNS
def test_scratch_databases_are_dropped_after_each_command(
        project: Path, command: str, change: Callable[[Path], None], code: int) -> None:
    change(project)
    before = scratch_databases()
    assert dbci(command).code == code
    assert scratch_databases() == before == set()


# -- a role that may not create databases lends dbci one empty database ----------------------


@ALL_RUNS
def test_a_lent_database_is_used_and_left_empty(
        project: Path, lent: str, command: str, change: Callable[[Path], None],
        code: int) -> None:
    change(project)
    run = dbci("--database-url", lent, command)
    assert run.code == code, run.err
    assert user_objects(lent) == 0


def test_drift_in_a_lent_database_sees_what_only_the_catalogs_tell(project: Path,
                                                                  lent: str) -> None:
    edit_orm(project, '    CANCELED = "CANCELED"\n\n\nclass UploadStatus', "\n\nclass UploadStatus",
             module="enums")
    run = dbci("--json", "--database-url", lent, "drift")
    assert run.code == 1
    assert [f["object"] for f in run.json()["findings"]] == ["persistence_schema.processingstatus"]
    assert user_objects(lent) == 0


def test_diff_in_a_lent_database_is_the_same_sql(project: Path, lent: str) -> None:
    lent_sql = dbci("--json", "--database-url", lent, "diff").json()["sql"]
    assert lent_sql == dbci("--json", "diff").json()["sql"]
    assert len(lent_sql) > 40 and user_objects(lent) == 0


def test_check_in_a_lent_database_runs_every_check(project: Path, lent: str) -> None:
    run = dbci("--json", "--database-url", lent, "check")
    assert run.code == 0
    assert [(c["check"], c["ok"]) for c in run.json()["checks"]] == [
        ("lint", True), ("roundtrip", True), ("drift", True), ("diff", True), ("seed", True)]
    assert user_objects(lent) == 0


def test_a_lent_database_that_is_not_empty_is_refused(project: Path, lent: str) -> None:
    engine = create_engine(lent)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE keep_me (id int)")
    engine.dispose()
    run = dbci("--database-url", lent, "roundtrip")
    assert run.code == 2 and run.out == ""
    assert len(run.err.splitlines()) == 1
    assert mask_url(lent) in run.err and "not" in run.err and "empty" in run.err
    assert "pw@" not in run.err
    assert user_objects(lent) == 1  # left as it was


# -- unreachable servers --------------------------------------------------------------------

BAD_URL = "postgresql://alice:hunter2@db.invalid:5432/app"


@pytest.mark.parametrize("command", ["roundtrip", "drift", "diff", "check"])
def test_an_unreachable_server_is_one_line_without_the_password(project: Path,
                                                                command: str) -> None:
    run = dbci("--database-url", BAD_URL, command)
    assert run.code == 3
    assert len(run.err.splitlines()) == 1
    assert run.err.startswith(f"dbci {command}: cannot reach ")
    assert "alice:***@db.invalid" in run.err
    assert "hunter2" not in run.out + run.err


def test_database_url_from_the_environment_is_masked_too(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", BAD_URL)
    run = dbci("--json", "roundtrip")
    assert run.code == 3
    assert run.json()["exit_code"] == 3 and "alice:***@db.invalid" in run.json()["error"]
    assert "hunter2" not in run.out + run.err
    github = dbci("--github", "roundtrip")
    mask, *rest = github.err.splitlines()
    assert mask == "::add-mask::hunter2"  # GitHub hides it in every later log line
    assert "hunter2" not in "\n".join(rest) + github.out


# -- processes sharing the embedded server --------------------------------------------------


def test_three_processes_share_a_fresh_embedded_server(project: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "fresh-cache"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DBCI_CACHE_DIR"] = str(cache)
    processes = [subprocess.Popen([str(DBCI), "--json", "roundtrip"], cwd=project, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    try:
        outputs = [p.communicate(timeout=300) for p in processes]
        for process, (out, err) in zip(processes, outputs, strict=True):
            run = Run(process.returncode, out, err)
            assert run.code == 0, run.err
            assert run.json()["ok"] is True and len(run.json()["revisions"]) == 14
        monkeypatch.setenv("DBCI_CACHE_DIR", str(cache))
        embedded_url.cache_clear()
        assert scratch_databases(embedded_url(), prefix="dbci_") == set()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        monkeypatch.setenv("DBCI_CACHE_DIR", str(cache))
        stop_embedded()


# -- an interrupted command drops its scratch database too ------------------------------------


def _signals_as_a_terminal_gives_them() -> None:
    """In the child: SIGINT handled by default, as in a shell's foreground job; a test run
    started in the background would otherwise pass on the SIGINT it ignores."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_an_interrupted_command_drops_its_scratch_database(project: Path, tmp_path: Path,
                                                           signal_name: str) -> None:
    started = tmp_path / "started"
    add_revision(project, "slow_backfill", blocks_until(started))
    process = subprocess.Popen([str(DBCI), "roundtrip"], cwd=project, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_signals_as_a_terminal_gives_them)
    mine = f"dbci_{process.pid}_"
    assert wait_for(started.exists), "the run never reached the slow revision"
    assert scratch_databases(prefix=mine), "the run holds no scratch database"
    process.send_signal(getattr(signal, signal_name))
    out, err = process.communicate(timeout=60)
    assert process.returncode == {"SIGTERM": 143, "SIGINT": 130}[signal_name]  # 128 + signal
    assert err == ("dbci roundtrip: interrupted; nothing it had under way is kept (scratch "
                   "databases dropped, open transactions rolled back)\n")
    assert scratch_databases(prefix=mine) == set()


def test_an_interrupt_just_as_a_scratch_database_is_made_drops_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or a second worker asked to end) lands as soon as CREATE DATABASE returns,
    before dbci holds the database: it is dropped all the same."""
    made = scratch._create_database

    def made_then_interrupted(conn: sa.Connection, name: str) -> None:
        made(conn, name)
        raise KeyboardInterrupt

    monkeypatch.setattr(scratch, "_create_database", made_then_interrupted)
    before = scratch_databases()
    with pytest.raises(KeyboardInterrupt), \
            scratch.scratch_database(os.environ.get("DATABASE_URL")):
        pass
    assert scratch_databases() == before


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="the embedded build lacks pgcrypto; a full server has it")
@pytest.mark.parametrize("command", [["roundtrip"], ["drift"], ["new", "--autogenerate", "x"]])
def test_an_extension_the_embedded_build_lacks_is_one_line(project: Path,
                                                           command: list[str]) -> None:
    path = add_revision(project, "enable_pgcrypto", 'op.execute("CREATE EXTENSION pgcrypto")',
                        'op.execute("DROP EXTENSION pgcrypto")')
    run = dbci(*command)
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert f"{path}_enable_pgcrypto.py: {path} needs the extension pgcrypto" in run.err
    assert "set DATABASE_URL to a full PostgreSQL server" in run.err

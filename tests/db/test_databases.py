"""Where databases come from: scratch databases dropped, lent databases left empty, unreachable
servers named without their password, and processes sharing one embedded server."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    DBCI,
    Run,
    add_revision,
    blocks_until,
    dbci,
    dbci_process,
    edit_orm,
    edit_revision,
    free_memory_folders,
    run_sql,
    scratch_databases,
    server,
    user_objects,
    wait_for,
)
from sqlalchemy.engine import make_url

from ci import launch
from ci.db import embedded, scratch
from ci.db.embedded import embedded_url, stop_embedded
from ci.db.runners import create_engine
from ci.db.urls import mask_url
from ci.scripts import SCRATCH_AHEAD

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


# -- scratch databases made ahead, while the command is imported ------------------------------


def _made_by(pid: int) -> set[str]:
    return scratch_databases(prefix=f"dbci_{pid}_")


def test_databases_made_ahead_are_taken_and_those_left_over_dropped() -> None:
    with scratch.made_ahead(server(), 3):
        with scratch.scratch_database(server()) as one, \
                scratch.scratch_database(server()) as two:
            made = _made_by(os.getpid())
            assert len(made) == 3  # nothing made beyond the three
            assert {make_url(one).database, make_url(two).database} < made
            assert scratch.may_create_databases(server())
        assert len(_made_by(os.getpid())) == 1  # the two taken are dropped as always
    assert _made_by(os.getpid()) == set()


def test_a_database_that_could_not_be_made_ahead_is_lent_when_asked(lent: str) -> None:
    with scratch.made_ahead(lent, 2), scratch.scratch_database(lent) as url:
        assert make_url(url).database == make_url(lent).database
        assert not scratch.may_create_databases(lent)
    assert user_objects(lent) == 0


@pytest.mark.parametrize("command", sorted(SCRATCH_AHEAD))
def test_the_console_script_makes_them_ahead_and_drops_those_it_did_not_need(
        project: Path, tmp_path: Path, command: str) -> None:
    """The reference project is too short for a second worker: one of the databases made
    ahead is taken, the others are there as it runs and dropped on the way out."""
    started = tmp_path / "started"
    add_revision(project, "waits", blocks_until(started), 'op.execute("SELECT 1")')
    process = subprocess.Popen([str(DBCI), "--json", "--database-url", server(), command],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert wait_for(started.exists), "the run never reached the waiting revision"
        assert len(_made_by(process.pid)) == SCRATCH_AHEAD[command]
    finally:
        (tmp_path / "started.go").touch()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    assert Run(process.returncode, out, err).json()["ok"] is True
    assert _made_by(process.pid) == set()


def test_the_console_script_tells_github_the_password_it_makes_ahead_with(
        project: Path, make_role: Callable[..., str]) -> None:
    url = make_role("CREATEDB")
    run = dbci_process("--github", "--database-url", url, "roundtrip", cwd=project)
    assert run.code == 0, run.err
    assert run.err.splitlines()[0] == "::add-mask::pw"
    assert ":pw@" not in run.out + run.err


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_as_dbci_starts_drops_what_it_made_ahead(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str, code: int) -> None:
    """Before ``ci.cli`` is imported, SIGINT and SIGTERM are one line, 130 and 143, and the
    databases made ahead go."""
    def interrupted() -> None:
        assert wait_for(lambda: len(_made_by(os.getpid())) == 2)  # made ahead meanwhile
        os.kill(os.getpid(), getattr(signal, name))

    monkeypatch.setitem(sys.modules, "ci.cli", types.SimpleNamespace(entry=interrupted))
    monkeypatch.setattr(sys, "argv", ["dbci", "--database-url", server(), "roundtrip"])
    with pytest.raises(SystemExit) as exit_:
        launch.entry()
    assert exit_.value.code == code
    assert capsys.readouterr().err == (
        "dbci: interrupted; nothing it had under way is kept (scratch databases dropped, open "
        "transactions rolled back)\n")
    assert _made_by(os.getpid()) == set()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # as it found them
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_a_signal_as_dbci_drops_what_it_made_ahead_waits_for_the_drops(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbci ends at once (a usage error, say) while its databases are still being made, and
    SIGTERM lands in another thread, which takes signals (Python then raises it in the main
    thread, in the middle of the drops): they are all dropped, then it ends 143."""
    made, create = [], scratch._create_database

    def slow(conn: sa.Connection, name: str, memory: Path | None = None) -> None:
        create(conn, name, memory)
        made.append(name)
        time.sleep(0.5)  # still at work as dbci ends

    def ends_at_once() -> None:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

    monkeypatch.setattr(scratch, "_create_database", slow)
    monkeypatch.setitem(sys.modules, "ci.cli", types.SimpleNamespace(entry=ends_at_once))
    monkeypatch.setattr(sys, "argv", ["dbci", "--database-url", server(), "check"])
    with pytest.raises(SystemExit) as exit_:
        launch.entry()
    assert exit_.value.code == 143
    assert len(made) == 3 and _made_by(os.getpid()) == set()


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

    def made_then_interrupted(conn: sa.Connection, name: str, memory: Path | None) -> None:
        made(conn, name, memory)
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


# -- the embedded server's scratch databases live in memory ------------------------------------

on_the_embedded_server = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                                            reason="only the embedded server's are in memory")


def tablespaces(url: str) -> dict[str, str]:
    """dbci's tablespaces on a server: name -> folder."""
    return dict(run_sql(url, "SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace "
                             "WHERE starts_with(spcname, 'dbci_')"))


@on_the_embedded_server
def test_a_scratch_database_of_the_embedded_server_is_in_memory_and_leaves_nothing() -> None:
    embedded_url()  # its user owns the folders
    if embedded.memory_folder("dbci_room_test") is None:
        pytest.skip("no room in memory here: the databases stay on disk")
    (embedded.MEMORY / "dbci_room_test").rmdir()
    with scratch.scratch_database(None) as url:
        name = make_url(url).database
        assert tablespaces(embedded_url()) == {name: str(embedded.MEMORY / name)}
        assert any((embedded.MEMORY / name).iterdir())  # the database's files
    assert tablespaces(embedded_url()) == {}
    assert not (embedded.MEMORY / name).exists()


@on_the_embedded_server
def test_scratch_databases_stay_on_disk_when_asked(project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBCI_SCRATCH_ON_DISK", "1")
    with scratch.scratch_database(None):
        assert tablespaces(embedded_url()) == {}
    monkeypatch.setenv("DBCI_SCRATCH_ON_DISK", "yes")
    run = dbci("roundtrip")
    assert (run.code, run.err) == (2, "dbci roundtrip: DBCI_SCRATCH_ON_DISK='yes': give 1 to "
                                      "keep the embedded server's scratch databases on disk, "
                                      "or 0\n")


@on_the_embedded_server
def test_the_embedded_server_starts_again_after_the_machine_restarted_mid_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart empties memory and kills the server uncleanly: its log then replays into the
    scratch database's folder, which dbci makes again; the next run sweeps what was left."""
    monkeypatch.setenv("DBCI_CACHE_DIR", str(tmp_path / "cache"))
    embedded_url.cache_clear()
    try:
        with _reaping_orphans():  # the killed server is reaped, as init reaps it elsewhere
            crash = subprocess.run([sys.executable, "-c", CRASH_MID_RUN], capture_output=True,
                                   text=True, check=True)
            if not crash.stdout.strip():
                pytest.skip("no room in memory here: the databases stay on disk")
            server, shown = crash.stdout.split()
            assert wait_for(lambda: _reaped(int(server))), "the killed server is still there"
        folder = Path(shown)
        assert folder.parent == embedded.MEMORY and folder.is_dir()
        shutil.rmtree(folder)  # the restart
        embedded_url.cache_clear()
        with scratch.scratch_database(None) as url:  # it starts; the stale database goes
            assert set(tablespaces(embedded_url())) == {make_url(url).database}
        assert tablespaces(embedded_url()) == {} and not folder.exists()
        assert scratch_databases(embedded_url(), prefix="dbci_") == set()
    finally:
        try:
            stop_embedded()
        finally:  # a failed run's memory folders go with the test's server
            free_memory_folders(tmp_path / "cache" / "pg18")
            embedded_url.cache_clear()


@contextlib.contextmanager
def _reaping_orphans() -> Iterator[None]:
    """Make this process the one orphaned descendants are handed to (this sandbox's first
    process never reaps them), so it can reap them."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux's alone
    if prctl is None or prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("cannot reap orphaned processes here")
    try:
        yield
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


PR_SET_CHILD_SUBREAPER = 36


def _reaped(pid: int) -> bool:
    """Reap the ended children; whether ``pid`` is gone."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


#: In a process of its own (dead afterwards, so its leftovers are stale; the server it starts
#: is not its child): make a scratch database with a table, kill the server and itself without
#: dropping it, print its folder (nothing where memory has no room).
CRASH_MID_RUN = """
import os, signal
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from ci.db import embedded, scratch
embedded.embedded_url()
if embedded.memory_folder("dbci_room_test") is None:
    raise SystemExit(0)
(embedded.MEMORY / "dbci_room_test").rmdir()
with scratch.scratch_database(None) as url:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id"))
    engine.dispose()
    pid = int((embedded._server_dir() / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    print(pid, embedded.MEMORY / make_url(url).database, flush=True)
    os._exit(0)
"""

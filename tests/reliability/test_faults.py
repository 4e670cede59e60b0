"""Faults on purpose: dbci killed mid-migration, the server stopped mid-run, the embedded
server's folder deleted or left stale, AWS down or slow, a full disk. Each time: one line, the
exit code docs/how-checks-work.md promises, nothing lost, nothing half-written, and the next
run works."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from conftest import (
    DBCI,
    HEAD,
    SECRET,
    OwnServer,
    add_revision,
    commit_all,
    copy_project,
    dbci,
    dbci_process,
    edit_file,
    folder_state,
    git,
    put_secret,
    rds_layout,
    revision_path,
    run_sql,
    version,
    wait_for,
)
from sqlalchemy.engine import make_url

from ci.stages.lock import MIGRATION_LOCK

pytestmark = pytest.mark.db


@pytest.fixture
def dev(project: Path, aws: str, stage_db: str) -> str:
    """Stage dev at head, its URL in a moto-held secret."""
    put_secret(SECRET, rds_layout(stage_db))
    assert dbci("migrate", "--stage", "dev").code == 0
    return stage_db


def sessions(url: str, running: str) -> list[tuple[object, ...]]:
    """The other sessions of the database whose query holds ``running``."""
    return run_sql(url, "SELECT pid, state FROM pg_stat_activity WHERE datname = "
                        f"current_database() AND position('{running}' in query) > 0 "
                        "AND pid <> pg_backend_pid()")


def migration_lock_held(url: str) -> bool:
    return bool(run_sql(url, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND "
                             f"((classid::bigint << 32) | objid::bigint) = {MIGRATION_LOCK}"))


# -- kill -9 in the middle of a long revision ----------------------------------------------------


def test_kill_9_mid_revision_leaves_the_previous_revision_and_the_next_run_completes(
        dev: str, project: Path) -> None:
    revision = add_revision(project, "slow_backfill", 'op.add_column("CollectionCanonical", '
                            'sa.Column("note", sa.Text), schema="persistence_schema")\n'
                            'op.execute("SELECT pg_sleep(60)")',
                            'op.drop_column("CollectionCanonical", "note", '
                            'schema="persistence_schema")')
    process = subprocess.Popen([str(DBCI), "migrate", "--stage", "dev"], cwd=project,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: sessions(dev, "pg_sleep(60)")), "the revision never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # the server ends the orphaned session within seconds (it checks for its client), so the
    # revision rolls back and the migration lock is released
    killed = time.monotonic()
    assert wait_for(lambda: not sessions(dev, "pg_sleep(60)") and
                    not migration_lock_held(dev), 15), "an orphaned session kept working"
    print(f"orphaned session gone {time.monotonic() - killed:.1f}s after kill -9")
    assert version(dev) == {HEAD}
    assert run_sql(dev, "SELECT count(*) FROM information_schema.columns WHERE "
                        "table_name = 'CollectionCanonical' AND column_name = 'note'") == [(0,)]
    edit_file(revision_path(project, "15"), "pg_sleep(60)", "pg_sleep(0)")
    again = dbci("--json", "migrate", "--stage", "dev")
    assert again.code == 0, again.err
    assert [a["revision"] for a in again.json()["applied"]] == [revision]


# -- the server stopped in the middle -------------------------------------------------------------


def test_the_server_stopping_mid_migration_is_exit_3(project: Path, aws: str,
                                                     own_server: OwnServer) -> None:
    base = own_server.start()
    run_sql(base, "CREATE DATABASE stage_dev")
    url = make_url(base).set(database="stage_dev").render_as_string(hide_password=False)
    put_secret(SECRET, {"database_uri": url})
    slow = add_revision(project, "slow", 'op.execute("SELECT pg_sleep(30)")')
    before = folder_state(project)
    env = {**os.environ, **own_server.env}
    process = subprocess.Popen([str(DBCI), "migrate", "--stage", "dev"], cwd=project, env=env,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: sessions(url, "pg_sleep(30)"))
        own_server.stop_now()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, err
    assert "Traceback" not in err and err.count("\n") == err.count("migrate: upgrade") + 1
    # The lock's session went with the server too: its unlock failing hides nothing.
    assert err.splitlines()[-1].startswith(
        f"dbci migrate: stage dev: lost the connection during revision {slow} ")
    assert folder_state(project) == before


# -- the embedded server's folder, deleted or left stale -----------------------------------------


def test_the_embedded_server_recovers_from_a_deleted_folder_and_a_stale_pid(
        project: Path, own_server: OwnServer) -> None:
    first = dbci_process("roundtrip", cwd=project, env=own_server.env)
    assert first.code == 0, first.err
    pid = int((own_server.cache / "pg18" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)  # the server dies; its postmaster.pid stays behind
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10)
    stale = dbci_process("roundtrip", cwd=project, env=own_server.env)
    assert stale.code == 0, stale.err
    shutil.rmtree(own_server.cache)  # the whole cache folder gone under a running server
    gone = dbci_process("roundtrip", cwd=project, env=own_server.env)
    assert gone.code == 0, gone.err
    assert "14 passed" in gone.out


# -- AWS down or slow ------------------------------------------------------------------------------


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """A TCP endpoint that accepts connections and never answers (a hung AWS)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


@pytest.mark.one_server  # the stage's URL is the secret's, which AWS never answers
@pytest.mark.parametrize("args", [["migrate", "--stage", "dev"], ["tf", "bump"],
                                  ["seed", "upload", "seed.sql"]], ids=lambda a: a[0])
def test_a_slow_aws_times_out_within_its_bounds(project: Path, args: list[str],
                                                monkeypatch: pytest.MonkeyPatch,
                                                head_seed_sql: str) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the stage's URL is the secret's
    Path("seed.sql").write_text(head_seed_sql)
    before = folder_state(project)
    with silent_endpoint() as endpoint:
        began = time.monotonic()
        run = dbci_process(*args, cwd=project, timeout=120,
                           env={"AWS_ENDPOINT_URL": endpoint, "DBCI_AWS_TIMEOUT": "1"})
        took = time.monotonic() - began
    assert run.code == 3, run.err
    assert "Read timeout" in run.err or "cannot reach the endpoint" in run.err
    assert run.err.count("\n") == 1
    assert took < 60, f"{took:.0f}s: the retries are bounded"
    print(f"{args[0]} against a silent AWS endpoint: exit 3 after {took:.1f}s")
    assert folder_state(project) == before


@pytest.mark.one_server  # no database: AWS and the terraform file
def test_aws_down_uploads_nothing_and_changes_nothing(project: Path, aws: str,
                                                      head_seed_sql: str) -> None:
    boto3.client("s3").create_bucket(Bucket="env-rdev-dataportal", CreateBucketConfiguration={
        "LocationConstraint": "us-west-2"})
    Path("seed.sql").write_text(head_seed_sql)
    before = folder_state(project)
    down = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    for args in (["seed", "upload", "seed.sql"], ["tf", "bump"]):
        run = dbci_process(*args, cwd=project, env=down)
        assert run.code == 3 and "cannot reach the endpoint" in run.err
    assert boto3.client("s3").list_objects_v2(Bucket="env-rdev-dataportal").get("KeyCount") == 0
    assert folder_state(project) == before


# -- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A small filesystem of its own (tmpfs), to fill up; skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> None:
    """Take every free byte of the filesystem holding ``folder``."""
    for name, block in ((".filler", 65536), (".filler-small", 1)):
        with contextlib.suppress(OSError), (folder / name).open("wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * block)


def state(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in folder_state(folder).items() if not k.startswith(".filler")}


def test_a_full_disk_changes_nothing(full_disk: Path, aws: str, monkeypatch: pytest.MonkeyPatch,
                                     stage_db: str) -> None:
    diverged = copy_project(full_disk / "diverged")  # two 15s: renumber's job
    git(diverged, "init", "-q", "-b", "main")
    commit_all(diverged, "start")
    git(diverged, "checkout", "-q", "-b", "feature")
    add_revision(diverged, "feature_one", "pass")
    commit_all(diverged, "feature")
    git(diverged, "checkout", "-q", "main")
    add_revision(diverged, "main_one", "pass")
    commit_all(diverged, "main")
    git(diverged, "checkout", "-q", "feature")
    git(diverged, "merge", "-q", "main", "-m", "merge")
    plain = copy_project(full_disk / "plain")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="env-rdev-dataportal", CreateBucketConfiguration={
        "LocationConstraint": "us-west-2"})
    s3.put_object(Bucket="env-rdev-dataportal", Key=f"database/seed_data_{HEAD}.sql", Body=b"x")
    put_secret(SECRET, rds_layout(stage_db))
    fill(full_disk)
    before = state(full_disk)
    for where, args in ((diverged, ["renumber", "--base", "main"]), (plain, ["new", "add links"]),
                        (plain, ["tf", "bump"]),
                        (plain, ["db", "dump", "--stage", "dev", "--out",
                                 str(full_disk / "dev.dump")])):
        monkeypatch.chdir(where)
        run = dbci(*args)
        assert run.code in (2, 3), (args, run.out, run.err)
        assert "No space left on device" in run.err or "(a full disk?)" in run.err, run.err
        assert state(full_disk) == before, args

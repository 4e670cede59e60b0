"""Concurrency on purpose: eight migrations of one stage at once, three checks sharing the
embedded server, and a migration while the application holds long transactions."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    DBCI,
    HEAD,
    IDS,
    SECRET,
    Run,
    add_revision,
    copy_project,
    dbci,
    put_secret,
    rds_layout,
    run_sql,
    set_dbci,
    version,
    wait_for,
)

from ci.db.embedded import embedded_url
from ci.db.runners import create_engine

pytestmark = pytest.mark.db


def test_eight_migrations_at_once_apply_each_revision_once(project: Path, aws: str,
                                                           stage_db: str) -> None:
    put_secret(SECRET, rds_layout(stage_db))
    processes = [subprocess.Popen([str(DBCI), "--json", "migrate", "--stage", "dev"],
                                  cwd=project, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(8)]
    runs = [Run(p.wait(timeout=600), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
            for p in processes]
    for run in runs:
        assert run.code == 0, run.err
    applied = sorted(a["revision"] for run in runs for a in run.json()["applied"])
    assert applied == IDS  # each revision exactly once, whoever applied it
    assert version(stage_db) == {HEAD}
    waited = [run for run in runs if "waiting for the migration lock of stage dev" in run.err]
    assert waited, "the runs that waited say so"


def test_three_checks_at_once_on_one_embedded_server(tmp_path: Path) -> None:
    projects = [copy_project(tmp_path / f"p{i}") for i in range(3)]
    broken = add_revision(projects[1], "forgets_its_column", 'op.add_column("DatasetCanonical",'
                          ' sa.Column("note", sa.Text), schema="persistence_schema")', "pass")
    processes = [subprocess.Popen([str(DBCI), "--json", "check"], cwd=p, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for p in projects]
    runs = [Run(p.wait(timeout=600), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
            for p in processes]
    assert [run.code for run in runs] == [0, 1, 0], [run.err for run in runs]
    assert {(f["rule"], f["revision"]) for f in runs[1].json()["findings"]
            if f["check"] == "roundtrip"} == {("downgrade-leaves-objects", broken)}
    left = run_sql(embedded_url(), "SELECT datname FROM pg_database WHERE datname LIKE 'dbci_%'")
    mine = [name for (name,) in left if any(f"dbci_{p.pid}_" in name for p in processes)]
    assert mine == []


def test_a_migration_never_queues_the_applications_readers_past_its_lock_timeout(
        project: Path, aws: str, stage_db: str) -> None:
    """The application holds a transaction on a table until the migration has given up its
    lock wait three times (and waits a fourth); the migration that alters the table waits at
    most lock_timeout (200 ms) per try, so a reader that arrives behind the migration's lock
    request waits at most that long, never as long as the application holds the table."""
    put_secret(SECRET, rds_layout(stage_db))
    set_dbci(project, "[tool.dbci.stages.dev]", 'lock_timeout = "200ms"', "retries = 20",
             "retry_delay = 0.2")
    assert dbci("migrate", "--stage", "dev").code == 0
    revision = add_revision(project, "add_note", 'op.add_column("DatasetCanonical", sa.Column('
                            '"note", sa.Text), schema="persistence_schema")',
                            'op.drop_column("DatasetCanonical", "note", '
                            'schema="persistence_schema")')
    table = 'persistence_schema."DatasetCanonical"'
    holder = create_engine(stage_db).connect()
    holder.exec_driver_sql(f"SELECT count(*) FROM {table}")  # ACCESS SHARE, held
    waits: list[float] = []
    done = threading.Event()

    def reader() -> None:
        engine = create_engine(stage_db)
        with engine.connect() as connection:
            while not done.is_set():
                began = time.monotonic()
                connection.exec_driver_sql(f"SELECT count(*) FROM {table}")
                connection.rollback()
                waits.append(time.monotonic() - began)
                time.sleep(0.02)
        engine.dispose()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    tries: set[object] = set()  # the migration's transactions seen waiting for the table

    def release_after_three_tries() -> None:
        def waited_four_times() -> bool:
            tries.update(row[0] for row in run_sql(
                stage_db, "SELECT xact_start FROM pg_stat_activity WHERE wait_event_type = "
                          "'Lock' AND application_name = 'dbci migrate dev'"))
            return len(tries) >= 4
        wait_for(waited_four_times, 120)
        holder.rollback()
        holder.close()

    releaser = threading.Thread(target=release_after_three_tries)
    releaser.start()
    try:
        run = dbci("--json", "migrate", "--stage", "dev")
    finally:
        done.set()
        releaser.join(timeout=150)
        for thread in readers:
            thread.join(timeout=30)
    assert len(tries) >= 4, "the premise: the migration waited for the table, four times"
    assert len(waits) > 10, "the premise: the readers ran while the migration waited"
    assert run.code == 0, run.err
    assert [a["revision"] for a in run.json()["applied"]] == [revision]
    assert run.err.count("hit lock_timeout (200ms)") >= 3  # it tried, let go, tried again
    longest = max(waits)
    print(f"longest wait of a reader while the migration waited: {longest * 1000:.0f} ms")
    assert longest < 1.5, f"a reader waited {longest:.2f}s: queued behind the migration"

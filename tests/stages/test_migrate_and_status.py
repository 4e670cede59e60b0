"""Deployed stages: migrate, status, db dump / load-schema, URLs from AWS Secrets Manager.

A stage here is a real database on the test server (the embedded one, or DATABASE_URL's under
`make test-pg`); its URL lives in a secret of a real moto server, as on AWS.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    DBCI,
    HEAD,
    IDS,
    NO_AWS,
    SECRET,
    Run,
    add_committing_revision,
    add_revision,
    dbci,
    put_secret,
    rds_layout,
    revision_path,
    run_sql,
    server,
    set_dbci,
    tables,
    version,
    write_revision,
)
from sqlalchemy.engine import make_url

from ci import snapshot
from ci.db.embedded import embedded_url
from ci.db.runners import create_engine
from ci.stages import dump
from ci.stages.lock import MIGRATION_LOCK

pytestmark = pytest.mark.db



# -- migrate ----------------------------------------------------------------------------------


def test_migrate_a_stage_from_its_secret_to_head(dev: str) -> None:
    run = dbci("--json", "migrate", "--stage", "dev")
    assert run.code == 0, run.err
    doc = run.json()
    assert (doc["ok"], doc["stage"], doc["from"], doc["to"]) == (True, "dev", [], [HEAD])
    assert [a["revision"] for a in doc["applied"]] == IDS
    assert all(a["direction"] == "upgrade" and a["seconds"] >= 0 for a in doc["applied"])
    assert version(dev) == {HEAD}
    assert f"migrate: upgrade {IDS[0]} (" in run.err  # each revision logged as it goes
    again = dbci("migrate", "--stage", "dev")
    assert (again.code, again.out) == (0, f"migrate: stage dev already at {HEAD}\n")


def test_migrate_sql_prints_the_plan_and_changes_nothing(dev: str, project: Path) -> None:
    concurrent = add_revision(
        project, "concurrent_index", "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_name", "CollectionVersion", ["name"], '
        'schema="persistence_schema", postgresql_concurrently=True)',
        'with op.get_context().autocommit_block():\n'
        '    op.drop_index("ix_name", "CollectionVersion", schema="persistence_schema", '
        'postgresql_concurrently=True)')
    run = dbci("migrate", "--stage", "dev", "--sql")
    assert run.code == 0, run.err
    assert run.out.startswith(f"-- dbci migrate --sql: stage dev from base to {concurrent}\n")
    assert f"-- upgrade {IDS[0]}" in run.out and "CREATE SCHEMA" in run.out.upper()
    assert f"-- upgrade {concurrent}\nCREATE INDEX CONCURRENTLY ix_name ON " \
        'persistence_schema."CollectionVersion" (name);  -- outside a transaction\n' in run.out
    assert tables(dev) == set() and version(dev) == set()
    dbci("migrate", "--stage", "dev", "--revision", IDS[9])
    rest = dbci("--json", "migrate", "--stage", "dev", "--sql")
    assert rest.json()["from"] == [IDS[9]] and rest.json()["to"] == [concurrent]
    assert f"-- upgrade {IDS[10]}" in "\n".join(rest.json()["sql"])
    assert f"-- upgrade {IDS[9]}" not in "\n".join(rest.json()["sql"])
    assert version(dev) == {IDS[9]}


@pytest.fixture
def other_db(dev: str) -> Iterator[str]:
    """A second empty database on the test server: what a shell's DATABASE_URL points at."""
    name = f"other_{os.getpid()}_{secrets.token_hex(3)}"
    run_sql(server(), f'CREATE DATABASE "{name}"')
    yield make_url(dev).set(database=name).render_as_string(hide_password=False)
    run_sql(server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_exported_database_url_never_becomes_the_stage(dev: str, other_db: str,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("DATABASE_URL", other_db)  # left over in the user's shell
    notice = "dbci: the exported DATABASE_URL is ignored for stage dev: a stage's database " \
             "comes from --database-url on the command line or from its secret"
    for args in (["migrate", "--stage", "dev"], ["status", "--stage", "dev"],
                 ["db", "dump", "--stage", "dev", "--out", str(tmp_path / "dev.dump")]):
        run = dbci(*args)
        assert run.code == 0, run.err
        assert notice in run.err.splitlines(), run.err
        assert "stage dev" in run.out
    assert version(dev) == {HEAD} and tables(other_db) == set()
    given = dbci("--database-url", other_db, "migrate", "--stage", "dev", "--revision", IDS[0])
    assert given.code == 0 and notice not in given.err  # the command line names it: it counts
    assert version(other_db) == {IDS[0]}


@pytest.mark.parametrize("last", [True, False], ids=["last", "followed"])
def test_a_revision_that_commits_itself_is_migrated_for_good(dev: str, project: Path,
                                                             last: bool) -> None:
    """``op.get_bind().commit()`` ends Alembic's transaction; the rest of the revision and its
    version row land in one Alembic never commits. Plain Alembic then reports success and the
    session's end rolls them back: dbci commits them, and checks from another session."""
    committing = add_committing_revision(project)
    after = None if last else add_revision(project, "after", 'op.execute("SELECT 1")',
                                           'op.execute("SELECT 1")')
    run = dbci("migrate", "--stage", "dev")
    assert run.code == 0, run.err
    assert version(dev) == {after or committing}
    assert run_sql(dev, "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                        "'DatasetArtifact' AND column_name = 'note'") == [(1,)]


def test_four_concurrent_migrations_apply_each_revision_once(dev: str, project: Path) -> None:
    processes = [subprocess.Popen([str(DBCI), "--json", "migrate", "--stage", "dev"], cwd=project,
                                  text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(4)]
    runs = [Run(p.wait(timeout=300), p.stdout.read(), p.stderr.read())  # type: ignore[union-attr]
            for p in processes]
    for run in runs:
        assert run.code == 0, run.err
    applied = [a["revision"] for run in runs for a in run.json()["applied"]]
    assert sorted(applied) == IDS  # each exactly once, whichever process did it
    assert version(dev) == {HEAD}
    assert any("waiting for the migration lock of stage dev" in run.err for run in runs)


def test_a_relative_revision_and_an_explicit_downgrade(dev: str) -> None:
    dbci("migrate", "--stage", "dev")
    refused = dbci("migrate", "--stage", "dev", "--revision", "-1")
    assert refused.code == 2 and "--allow-downgrade" in refused.err
    assert version(dev) == {HEAD}
    down = dbci("--json", "migrate", "--stage", "dev", "--revision", "-1", "--allow-downgrade")
    assert down.code == 0, down.err
    assert [(a["revision"], a["direction"]) for a in down.json()["applied"]] == [
        (HEAD, "downgrade")]
    assert version(dev) == {IDS[-2]}


def test_a_revision_that_fails_leaves_the_stage_at_the_one_before(dev: str,
                                                                  project: Path) -> None:
    broken = add_revision(project, "broken", 'op.execute("ALTER TABLE nowhere ADD COLUMN x int")',
                          'op.execute("SELECT 1")')
    run = dbci("--json", "migrate", "--stage", "dev")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"], finding["stage"]) == (
        "stage-migration-fails", broken, "dev")
    assert f"the stage stays at {HEAD}" in finding["message"]
    assert version(dev) == {HEAD} and run.json()["to"] == [HEAD]
    path = revision_path(project, "15")
    path.write_text(path.read_text().replace("ALTER TABLE nowhere ADD COLUMN x int", "SELECT 2"))
    again = dbci("--json", "migrate", "--stage", "dev")  # carries on from where it stopped
    assert again.code == 0 and [a["revision"] for a in again.json()["applied"]] == [broken]


class Blocker:
    """A session of the application holding ACCESS EXCLUSIVE on a table, like a long
    transaction would hold weaker locks that still block an ALTER."""

    def __init__(self, url: str, table: str) -> None:
        self.engine = create_engine(url)
        self.connection = self.engine.connect()
        self.connection.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        self.pid = self.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()
        self.engine.dispose()

    def release_after_a_wait_gives_up(self) -> None:
        """In a thread: release the lock once a session has waited for it and given up (its
        lock_timeout), whatever the machine's speed."""

        def blocked() -> bool:
            with self.engine.connect() as look:  # a transaction each: pg_stat_activity is fresh
                return bool(look.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE %(pid)s = ANY (pg_blocking_pids(pid))", {"pid": self.pid}).scalar())

        def watch() -> None:
            for waiting in (True, False):  # someone waits; then no one does: it gave up
                deadline = time.monotonic() + 30
                while blocked() != waiting and time.monotonic() < deadline:
                    time.sleep(0.02)
            self.release()

        threading.Thread(target=watch, daemon=True).start()


def at_head_then_add_note(project: Path) -> str:
    """Migrate dev to head, then add a revision that alters a table; its id."""
    dbci("migrate", "--stage", "dev")
    return add_revision(project, "add_note", 'op.add_column("CollectionCanonical", '
                        'sa.Column("note", sa.Text), schema="persistence_schema")',
                        'op.drop_column("CollectionCanonical", "note", '
                        'schema="persistence_schema")')


QUICK = ("[tool.dbci.stages.dev]", 'lock_timeout = "200ms"', "retries = 2", "retry_delay = 0.1")


def test_a_table_lock_held_too_long_is_retried_then_named(dev: str, project: Path) -> None:
    set_dbci(project, *QUICK)
    revision = at_head_then_add_note(project)
    blocker = Blocker(dev, 'persistence_schema."CollectionCanonical"')
    try:
        run = dbci("migrate", "--stage", "dev")
    finally:
        blocker.release()
    assert run.code == 3
    assert run.err.count(f"migrate: {revision} hit lock_timeout (200ms), blocked by pid "
                         f"{blocker.pid}") == 2  # each retry logged
    last = run.err.splitlines()[-1]
    assert last.startswith(f"dbci migrate: stage dev: revision {revision} hit lock_timeout "
                           f"(200ms) 3 times; blocked by pid {blocker.pid}")
    assert version(dev) == {HEAD}


def test_a_table_lock_released_in_time_lets_the_retry_succeed(dev: str, project: Path) -> None:
    set_dbci(project, "[tool.dbci.stages.dev]", 'lock_timeout = "200ms"', "retries = 5",
             "retry_delay = 0.5")
    revision = at_head_then_add_note(project)
    Blocker(dev, 'persistence_schema."CollectionCanonical"').release_after_a_wait_gives_up()
    run = dbci("--json", "migrate", "--stage", "dev")
    assert run.code == 0, run.err
    assert [a["revision"] for a in run.json()["applied"]] == [revision]
    assert "hit lock_timeout" in run.err and version(dev) == {revision}


def test_a_migration_lock_held_past_the_wait_names_its_holder(dev: str, project: Path) -> None:
    set_dbci(project, "[tool.dbci.stages.dev]", "lock_wait = 1")
    holder = create_engine(dev).connect()
    holder.exec_driver_sql("SET application_name = 'dbci migrate dev'")
    holder.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
    pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        run = dbci("migrate", "--stage", "dev")
    finally:
        holder.close()
    assert run.code == 3
    assert f"another migration has held the lock for more than 1s: pid {pid} (dbci migrate dev" \
        in run.err
    assert tables(dev) == set()


# -- stage URLs: the secret's shapes, the tunnel, and what goes wrong --------------------------


def test_database_uri_and_rdevs_remote_dev_uri(project: Path, aws: str, stage_db: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    put_secret(SECRET, {"database_uri": stage_db})
    assert dbci("migrate", "--stage", "dev", "--revision", IDS[0]).code == 0
    base = make_url(stage_db).set(database=None).render_as_string(hide_password=False)
    put_secret("corpora/backend/rdev/database", {"remote_dev_uri": base})
    missing = dbci("migrate", "--stage", "rdev")
    assert missing.code == 2 and "REMOTE_DEV_PREFIX" in missing.err
    monkeypatch.setenv("REMOTE_DEV_PREFIX", "/" + make_url(stage_db).database)
    assert dbci("migrate", "--stage", "rdev").code == 0
    assert version(stage_db) == {HEAD}


class Forwarder:
    """A port forward, as `make db/tunnel` opens one: 127.0.0.1:PORT to the database."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        host = parsed.host or parsed.query.get("host")
        assert isinstance(host, str)
        port = parsed.port or 5432
        self.target: Any = (host, port) if not host.startswith("/") else \
            f"{host}/.s.PGSQL.{port}"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            family = socket.AF_UNIX if isinstance(self.target, str) else socket.AF_INET
            upstream = socket.socket(family)
            upstream.connect(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_a_tunnel_port_reaches_a_stage_whose_host_is_private(project: Path, aws: str,
                                                            stage_db: str) -> None:
    put_secret(SECRET, rds_layout(stage_db, host="db.dev.internal.invalid", port=5432))
    unreachable = dbci("migrate", "--stage", "dev")
    assert unreachable.code == 3 and "cannot reach stage dev (db.dev.internal.invalid" in \
        unreachable.err
    tunnel = Forwarder(stage_db)
    try:
        run = dbci("migrate", "--stage", "dev", "--tunnel-port", str(tunnel.port))
    finally:
        tunnel.close()
    assert run.code == 0, run.err
    assert version(stage_db) == {HEAD}


@pytest.mark.parametrize(("setup", "args", "code", "says"), [
    (None, ["--stage", "qa"], 2, "unknown stage 'qa'; known: dev, staging, prod, test, rdev"),
    (None, ["--stage", "dev"], 2, "AWS Secrets Manager: reading secret "
                                  "'corpora/backend/dev/database': ResourceNotFoundException"),
    ("not json", ["--stage", "dev"], 2, "secret 'corpora/backend/dev/database' is not a JSON "
                                        "object"),
    ({"user": "app", "host": "h"}, ["--stage", "dev"], 2,
     "holds none of the shapes dbci reads: database_uri; the RDS layout username, password, "
     "host, port, dbname (it lacks username, password, port, dbname, or one is not text); or "
     "remote_dev_uri. Its keys: host, user"),
    ({"database_uri": "postgresql://app:Sup3r-s3cret@127.0.0.1:9/x"}, ["--stage", "dev"], 3,
     "cannot reach stage dev (127.0.0.1:9/x)"),
], ids=["unknown-stage", "no-secret", "not-json", "no-shape", "unreachable-database"])
def test_stage_urls_that_go_wrong(project: Path, aws: str, stage_db: str, setup: Any,
                                  args: list[str], code: int, says: str) -> None:
    if setup is not None:
        put_secret(SECRET, setup)
    for command in ("migrate", "status"):
        run = dbci(command, *args)
        assert run.code == code, run.err
        assert says in run.err and run.err.count("\n") == 1
        assert "Sup3r-s3cret" not in run.out + run.err


def test_aws_unreachable_is_exit_3(project: Path, stage_db: str) -> None:
    run = dbci("migrate", "--stage", "dev")  # AWS_ENDPOINT_URL is a closed port here
    assert run.code == 3
    assert run.err.startswith("dbci migrate: AWS Secrets Manager: reading secret "
                              "'corpora/backend/dev/database': cannot reach the endpoint")
    assert NO_AWS in run.err


def test_a_stage_at_a_revision_this_code_does_not_know(dev: str, project: Path) -> None:
    dbci("migrate", "--stage", "dev")
    run_sql(dev, "UPDATE alembic_version SET version_num = '15_ffffffffffff'")
    run = dbci("migrate", "--stage", "dev")
    assert run.code == 2
    assert "the database is at 15_ffffffffffff, which this code does not know: the deployed " \
           "code is ahead of this branch?" in run.err
    status = dbci("--json", "status", "--stage", "dev")
    assert status.code == 1 and status.rules() == {"stage-unknown-revision"}


def test_a_target_that_does_not_exist(dev: str) -> None:
    run = dbci("migrate", "--stage", "dev", "--revision", "99_ffffffffffff")
    assert run.code == 2 and "--revision '99_ffffffffffff': no such revision" in run.err
    assert tables(dev) == set()


def test_the_secret_password_never_reaches_output(project: Path, aws: str,
                                                  stage_db: str) -> None:
    put_secret(SECRET, {"database_uri": "postgresql://app:Xy9-hidden@127.0.0.1:9/x"})
    for flags in ([], ["--json"], ["--github"], ["--debug"]):
        run = dbci(*flags, "migrate", "--stage", "dev")
        shown = [line for line in (run.out + run.err).splitlines()
                 if line != "::add-mask::Xy9-hidden"]
        assert "Xy9-hidden" not in "\n".join(shown), flags
    github = dbci("--github", "migrate", "--stage", "dev")
    assert github.err.startswith("::add-mask::Xy9-hidden\n") and "::" not in github.out


# -- status: deployed drift ---------------------------------------------------------------------


def test_status_finds_what_was_changed_by_hand(dev: str) -> None:
    dbci("migrate", "--stage", "dev", "--revision", IDS[12])
    clean = dbci("--json", "status", "--stage", "dev")
    assert clean.code == 0, clean.out
    assert (clean.json()["revision"], clean.json()["pending"]) == ([IDS[12]], [IDS[13]])
    run_sql(dev, 'ALTER TABLE persistence_schema."DatasetCanonical" ADD COLUMN hotfix text')
    added = dbci("--json", "status", "--stage", "dev")
    assert added.code == 1
    assert [(f["rule"], f["object"], f["stage"]) for f in added.json()["findings"]] == [
        ("stage-extra-object", "persistence_schema.DatasetCanonical.hotfix", "dev")]
    run_sql(dev, 'ALTER TABLE persistence_schema."DatasetCanonical" DROP COLUMN hotfix; '
             'DROP INDEX persistence_schema."ix_DatasetVersion_metadata"')
    dropped = dbci("status", "--stage", "dev")
    assert dropped.code == 1
    assert "[status/stage-missing-object] the migrations at" in dropped.out
    assert "persistence_schema.ix_DatasetVersion_metadata; stage dev lacks it" in dropped.out
    assert "migra, stage -> migrations:" in dropped.out


def test_a_columns_statistics_tuned_by_hand_is_not_drift(dev: str) -> None:
    """Statistics targets, storage and column options are tuned on a live database by hand;
    the schema the migrations build is what status compares."""
    dbci("migrate", "--stage", "dev")
    run_sql(dev, 'ALTER TABLE persistence_schema."DatasetCanonical" ALTER COLUMN id '
                 "SET STATISTICS 1000, ALTER COLUMN id SET (n_distinct = -1)")
    run = dbci("--json", "status", "--stage", "dev")
    assert (run.code, run.json()["findings"]) == (0, [])


def test_status_reads_the_stage_only(dev: str) -> None:
    empty = dbci("--json", "status", "--stage", "dev")
    assert empty.code == 0 and empty.json()["revision"] == [] and len(empty.json()["pending"]) == 14
    assert tables(dev) == set()  # not even an alembic_version table
    dbci("migrate", "--stage", "dev")
    reader = f"dbci_reader_{os.getpid()}"
    database = make_url(dev).database
    run_sql(dev, f'CREATE ROLE "{reader}" LOGIN; '
                 f'GRANT CONNECT ON DATABASE "{database}" TO "{reader}"; '
                 f'GRANT USAGE ON SCHEMA public, persistence_schema TO "{reader}"; '
                 f'GRANT SELECT ON ALL TABLES IN SCHEMA public, persistence_schema TO "{reader}"')
    try:
        put_secret(SECRET, {"database_uri": make_url(dev).set(username=reader).render_as_string(
            hide_password=False)})
        run = dbci("status", "--stage", "dev")  # a role that may only read is enough
        assert run.code == 0, run.out + run.err
    finally:
        run_sql(dev, f'DROP OWNED BY "{reader}"; DROP ROLE "{reader}"')


def test_status_never_builds_on_the_stages_server(dev: str) -> None:
    run = dbci("status", "--stage", "dev", "--scratch-url", dev)
    assert run.code == 2 and "dbci never creates databases there" in run.err


# -- db dump and db load-schema -----------------------------------------------------------------


def test_dump_then_load_gives_the_same_schema_and_revision(dev: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    dbci("migrate", "--stage", "dev")
    out = tmp_path / "dev.dump"
    dumped = dbci("db", "dump", "--stage", "dev", "--out", str(out))
    assert dumped.code == 0, dumped.err
    assert out.is_file() and dumped.err == ""
    name = f"loaded_{os.getpid()}_{secrets.token_hex(3)}"
    loaded = dbci("--json", "--database-url", server(), "db", "load-schema", str(out),
                  "--create", name)
    assert loaded.code == 0, loaded.err
    assert loaded.err == "" and loaded.json()["revision"] == [HEAD]
    url = make_url(server()).set(database=name).render_as_string(hide_password=False)
    try:
        assert version(url) == {HEAD}
        engines = [create_engine(u) for u in (dev, url)]
        snaps = []
        for engine in engines:
            with engine.connect() as connection:
                snaps.append(snapshot.take(connection))
            engine.dispose()
        assert snapshot.compare(*snaps) == []
        again = dbci("--database-url", url, "db", "load-schema", str(out))
        assert again.code == 2 and "is not empty" in again.err
    finally:
        run_sql(server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_dump_loads_on_the_embedded_server_whichever_made_it(dev: str, tmp_path: Path) -> None:
    """The PostgreSQL 15 on these machines stamps every column with an option no other server
    knows (pg_attver): its dumps load elsewhere without it, and real options stay."""
    dbci("migrate", "--stage", "dev")
    run_sql(dev, 'ALTER TABLE persistence_schema."DatasetCanonical" ALTER COLUMN id '
                 "SET (n_distinct = -1)")
    out = tmp_path / "dev.dump"
    assert dbci("db", "dump", "--stage", "dev", "--out", str(out)).code == 0
    name = f"loaded_{os.getpid()}_{secrets.token_hex(3)}"
    loaded = dbci("--database-url", embedded_url(), "db", "load-schema", str(out),
                  "--create", name)
    assert loaded.code == 0, loaded.err
    url = make_url(embedded_url()).set(database=name).render_as_string(hide_password=False)
    try:
        assert run_sql(url, "SELECT attoptions FROM pg_attribute WHERE attoptions IS NOT NULL "
                            "AND attrelid = 'persistence_schema.\"DatasetCanonical\"'::regclass"
                       ) == [(["n_distinct=-1"],)]
    finally:
        run_sql(embedded_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_plain_dumps_column_stamps_are_left_out_and_other_options_kept() -> None:
    script = ("SET transaction_timeout = 0;\nCREATE TABLE public.t (\n    a integer\n);\n"
              "ALTER TABLE ONLY public.t ALTER COLUMN a SET (pg_attver=42);\n"
              'ALTER TABLE ONLY public."T 2" ALTER COLUMN "b c" '
              "SET (pg_attver=7, n_distinct=-1);\n")
    assert dump.for_any_server(script) == (
        "CREATE TABLE public.t (\n    a integer\n);\n"
        'ALTER TABLE ONLY public."T 2" ALTER COLUMN "b c" SET (n_distinct=-1);\n')


def test_dump_needs_a_database_and_a_file_that_is_a_dump(project: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    run = dbci("db", "dump", "--out", str(tmp_path / "x.dump"))
    assert run.code == 2 and "pass --stage STAGE or --database-url URL" in run.err
    bogus = tmp_path / "bogus.dump"
    bogus.write_text("not a dump\n")
    load = dbci("--database-url", server(), "db", "load-schema", str(bogus), "--create",
                f"never_{os.getpid()}")
    assert load.code == 2 and "not a dump dbci can load" in load.err
    run_sql(server(), f'DROP DATABASE IF EXISTS "never_{os.getpid()}"')


def test_an_env_py_that_builds_its_own_engine_gets_the_stages_session(
        alembic_project: Path, aws: str, stage_db: str) -> None:
    """``alembic init``'s env.py ignores the connection dbci hands it and builds an engine from
    ``sqlalchemy.url``: that URL carries the session dbci's own connection has (timeouts,
    application_name), so the stage's lock timeout and its retries hold all the same."""
    put_secret(SECRET, rds_layout(stage_db))
    write_revision(alembic_project / "migrations" / "versions", "03_cccccccccccc_seen.py",
                   "03_cccccccccccc", "02_bbbbbbbbbbbb",
                   upgrade='op.execute("CREATE TABLE seen AS SELECT '
                           "current_setting('lock_timeout') AS lock_timeout, "
                           "current_setting('statement_timeout') AS statement_timeout, "
                           "current_setting('application_name') AS application_name\")",
                   downgrade='op.drop_table("seen")', message="seen")
    (alembic_project / "pyproject.toml").write_text(
        '[tool.dbci]\n[tool.dbci.stages.dev]\nlock_timeout = "2 s"\n')
    run = dbci("--config", str(alembic_project / "alembic.ini"), "migrate", "--stage", "dev")
    assert run.code == 0, run.err
    assert run_sql(stage_db, "SELECT * FROM seen") == [("2s", "15min", "dbci migrate dev")]

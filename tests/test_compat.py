"""``ci/compat.py`` against the installed libraries: each function does what dbci relies on.

Each test exercises one function on a real Alembic project written here, a real
MigrationContext on a real PostgreSQL database, or the installed package itself. A failure names
the function, the releases it was checked on and the installed ones: a new release changed a
private API dbci uses, and ``ci/compat.py`` is the one place to mend it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap
from alembic.util import CommandError
from conftest import write_revision
from packaging.version import Version

from ci import compat
from ci.alembic_env import capture_statements
from ci.db.embedded import _package
from ci.db.runners import create_engine
from ci.db.scratch import scratch_database


def broken(function: Callable[..., Any], what: str) -> str:
    """The failure message: which function, what it no longer does, the releases it was checked
    on and the installed ones."""
    checked = compat.CHECKED_ON[function.__name__]
    releases = "; ".join(f"{name} checked on {checked[name]}, installed {version(name)}"
                         for name in checked)
    return (f"ci.compat.{function.__name__} no longer works as dbci relies on: {what} "
            f"({releases}); mend it in ci/compat.py")


def test_every_function_says_what_it_was_checked_on_and_is_tested_here() -> None:
    functions = [name for name, value in vars(compat).items()
                 if callable(value) and getattr(value, "__module__", "") == compat.__name__
                 and not name.startswith("_") and name != "checked_on"]
    source = Path(__file__).read_text()
    for name in functions:
        assert compat.CHECKED_ON.get(name), f"ci.compat.{name}: no @checked_on(...)"
        assert re.search(rf"compat\.{name}\b", source), \
            f"ci.compat.{name}: no test in {Path(__file__).name}"
        for distribution in compat.CHECKED_ON[name]:
            assert version(distribution), distribution


# -- a tiny Alembic project: r1 <- r2 <- r3, and an env.py that configures offline -----------


@pytest.fixture
def script_dir(tmp_path: Path) -> ScriptDirectory:
    root = tmp_path / "migrations"
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text("from alembic import context\n\n"
                                 'context.configure(dialect_name="postgresql", tag="env.py")\n')
    for number, down in ((1, None), (2, "r1"), (3, "r2")):
        write_revision(versions, f"r{number}_step.py", f"r{number}", down)
    (versions / "README.txt").write_text("not a revision\n")
    (versions / "__pycache__").mkdir()
    (versions / "__pycache__" / "stale.py").write_text("revision = 'stale'\n")
    return ScriptDirectory(str(root))


def test_load_script_loads_a_revision_and_passes_what_breaks_one_through(
        script_dir: ScriptDirectory) -> None:
    versions = Path(script_dir.dir) / "versions"
    script = compat.load_script(script_dir, versions / "r2_step.py")
    assert isinstance(script, Script), broken(compat.load_script, f"gave {script!r}")
    assert (script.revision, script.down_revision, Path(script.path)) == (
        "r2", "r1", versions / "r2_step.py"), broken(compat.load_script, "other attributes")
    assert callable(script.module.upgrade), broken(compat.load_script, "no module.upgrade")
    assert compat.load_script(script_dir, versions / "README.txt") is None, \
        broken(compat.load_script, "a file that is no revision is not None")
    # what ci.history turns into one line each, by these exception types
    (versions / "no_id.py").write_text("down_revision = None\n")
    (versions / "no_down.py").write_text("revision = 'x'\n")
    (versions / "broken.py").write_text("revision = (\n")
    for name, expected, says in (("no_id.py", CommandError, ""),
                                 ("no_down.py", AttributeError, "down_revision"),
                                 ("broken.py", SyntaxError, "")):
        raised: Exception | None = None
        try:
            compat.load_script(script_dir, versions / name)
        except Exception as exc:
            raised = exc
        assert isinstance(raised, expected) and says in str(raised), broken(
            compat.load_script, f"{name} raised {raised!r}, not a {expected.__name__} "
            f"naming {says!r}")


def test_revision_paths_are_the_files_of_each_version_location_there_is(
        script_dir: ScriptDirectory, tmp_path: Path) -> None:
    versions = Path(script_dir.dir) / "versions"
    found = list(compat.revision_paths(script_dir))
    assert found == [versions / n for n in ("README.txt", "r1_step.py", "r2_step.py",
                                            "r3_step.py")], broken(compat.revision_paths,
                                                                   f"found {found}")
    other = tmp_path / "other"
    other.mkdir()
    (other / "r9_other.py").write_text("")
    located = ScriptDirectory(script_dir.dir, version_locations=[
        str(versions), str(tmp_path / "missing"), str(other)])
    found = list(compat.revision_paths(located))
    assert found[-1] == other / "r9_other.py" and len(found) == 5, \
        broken(compat.revision_paths, f"with version_locations, found {found}")


def test_share_revision_map_makes_alembic_answer_from_the_loaded_revisions(
        script_dir: ScriptDirectory) -> None:
    loaded = [s for p in compat.revision_paths(script_dir)
              if (s := compat.load_script(script_dir, p)) is not None]
    graph = RevisionMap(lambda: loaded)
    compat.share_revision_map(script_dir, graph)
    for path in compat.revision_paths(script_dir):
        path.unlink()  # Alembic reading the files again would find nothing now
    assert script_dir.get_revision("r2") is loaded[1], \
        broken(compat.share_revision_map, "get_revision does not answer from the shared map")
    assert [s.revision for s in script_dir.walk_revisions()] == ["r3", "r2", "r1"], \
        broken(compat.share_revision_map, "walk_revisions does not answer from the shared map")


def pairs(steps: list[Any]) -> list[tuple[str, bool, str, tuple[str, ...], tuple[str, ...]]]:
    """What dbci reads of Alembic's steps: the revision, the direction, and (``info``) the
    revision applied and the heads each step takes away and brings."""
    return [(s.revision.revision, s.is_upgrade, s.info.up_revision_id, s.info.down_revision_ids,
             s.info.up_revision_ids) for s in steps]


def test_steps_are_the_steps_alembic_upgrade_and_downgrade_run(
        script_dir: ScriptDirectory) -> None:
    up = pairs(compat.steps(script_dir, "upgrade", "heads", ()))
    assert up == [("r1", True, "r1", (), ("r1",)), ("r2", True, "r2", ("r1",), ("r2",)),
                  ("r3", True, "r3", ("r2",), ("r3",))], broken(compat.steps, f"upgrade: {up}")
    down = pairs(compat.steps(script_dir, "downgrade", "r1", ("r3",)))
    assert down == [("r3", False, "r3", ("r2",), ("r3",)),
                    ("r2", False, "r2", ("r1",), ("r2",))], broken(compat.steps,
                                                                   f"downgrade: {down}")


def test_undo_step_is_the_step_alembic_downgrade_runs_for_one_revision(
        script_dir: ScriptDirectory) -> None:
    step = compat.undo_step(script_dir, script_dir.get_revision("r2"))
    planned = compat.steps(script_dir, "downgrade", "r1", ("r2",))
    assert pairs([step]) == pairs(planned), \
        broken(compat.undo_step, f"{pairs([step])}, not {pairs(planned)}")


def test_wrap_configure_reaches_the_configure_env_py_calls(script_dir: ScriptDirectory) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_dir.dir)
    environment = EnvironmentContext(cfg, script_dir)
    seen: list[dict[str, Any]] = []

    def adjust(options: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(options))
        return {**options, "transaction_per_migration": True}

    compat.wrap_configure(environment, adjust)
    with environment:
        script_dir.run_env()
    assert seen == [{"dialect_name": "postgresql", "tag": "env.py"}], \
        broken(compat.wrap_configure, f"env.py's options never came through ({seen})")
    assert environment.get_context().opts.get("transaction_per_migration") is True, \
        broken(compat.wrap_configure, "the adjusted options did not configure the context")


# -- a real MigrationContext on a real PostgreSQL database ---------------------------------------


#: Alembic brought the method :func:`compat.each_schema_reflected_at_once` mends in 1.20; before,
#: there is nothing to mend and it leaves Alembic alone.
MENDED_FROM = Version("1.20.0")


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    """An engine on a scratch database this module shares (each test names its own tables)."""
    with scratch_database(os.environ.get("DATABASE_URL")) as url:
        made = create_engine(url)
        try:
            yield made
        finally:
            made.dispose()


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection not in a transaction yet (Alembic would take one for an outside caller's)."""
    with engine.connect() as connection:
        yield connection


def committed(engine: sa.Engine, table: str) -> bool:
    """Whether another session sees ``table``: it was committed."""
    with engine.connect() as other:
        return other.scalar(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}) is True


@pytest.mark.db
def test_begin_per_revision_commits_a_revision_only_under_transaction_per_migration(
        engine: sa.Engine) -> None:
    for per_migration, table in ((True, "per_revision"), (False, "per_run")):
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"transaction_per_migration": per_migration})
            with compat.begin_per_revision(context):
                conn.exec_driver_sql(f"CREATE TABLE {table} ()")
            assert committed(engine, table) is per_migration, broken(
                compat.begin_per_revision, f"with transaction_per_migration={per_migration}, "
                f"the block {'did not commit' if per_migration else 'committed'}")


@pytest.mark.db
def test_a_restored_type_memo_makes_alembic_create_the_type_again(conn: sa.Connection) -> None:
    context = MigrationContext.configure(conn)
    op = Operations(context)
    mood = sa.Enum("happy", "sad", name="memo_mood")
    before = compat.type_memo(context)
    with conn.begin():
        op.create_table("memo_a", sa.Column("m", mood))
        made = set().union(*compat.type_memo(context).values())
        assert (None, "memo_mood") in made, broken(compat.type_memo, f"the memo holds {made}")
        conn.exec_driver_sql("DROP TABLE memo_a; DROP TYPE memo_mood")  # as a rollback would
        compat.restore_type_memo(context, before)
        op.create_table("memo_b", sa.Column("m", mood))  # fails where the type is not made again
        assert conn.scalar(sa.text("SELECT to_regtype('memo_mood') IS NOT NULL")), \
            broken(compat.restore_type_memo, "Alembic did not create the type again")


@pytest.mark.db
@pytest.mark.parametrize(("end", "carry_on", "kept"), [
    ("commit", compat.adopt_transaction, True),  # op.get_bind().commit() in a revision
    ("rollback", compat.restart_transaction, False),  # the round trip after a failed downgrade
])
def test_after_its_transaction_ended_alembic_commits_the_next_one(
        engine: sa.Engine, conn: sa.Connection, end: str,
        carry_on: Callable[[MigrationContext, sa.Connection], None], kept: bool) -> None:
    context = MigrationContext.configure(conn)
    with context.begin_transaction():
        conn.exec_driver_sql(f"CREATE TABLE ended_by_{end} ()")
        getattr(conn, end)()
        carry_on(context, conn)
        conn.exec_driver_sql(f"CREATE TABLE after_{end} ()")
    assert committed(engine, f"after_{end}"), \
        broken(carry_on, f"after a {end}, Alembic's block did not commit the new transaction")
    assert committed(engine, f"ended_by_{end}") is kept, broken(carry_on, f"a {end} did not end")


@pytest.mark.db
def test_each_schema_reflected_at_once_finds_the_same_with_fewer_queries(
        conn: sa.Connection) -> None:
    metadata = sa.MetaData()
    with conn.begin():
        for schema in ("reflect_a", "reflect_b"):
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            for n in range(4):
                conn.exec_driver_sql(f"CREATE TABLE {schema}.t{n} (id int PRIMARY KEY, x int)")
                sa.Table(f"t{n}", metadata, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("x", sa.Integer), sa.Column("y", sa.Text), schema=schema)

    def these_schemas(name: str | None, kind: str, parents: Any) -> bool:
        return kind != "schema" or (name or "").startswith("reflect_")

    context = MigrationContext.configure(conn, opts={"include_schemas": True,
                                                     "include_name": these_schemas})

    def compare() -> tuple[list[str], int]:
        with capture_statements(conn) as sent:
            found = sorted(map(repr, compare_metadata(context, metadata)))
        return found, len(sent)

    plain, plain_queries = compare()
    helper = getattr(sys.modules.get("alembic.autogenerate.compare.util"), "_InspectorConv", None)
    original = getattr(helper, "_pre_cache", None)
    applies = Version(version("alembic")) >= MENDED_FROM
    with compat.each_schema_reflected_at_once():
        mends = original is not None and helper._pre_cache is not original
        mended, mended_queries = compare()
    assert mends is applies, broken(compat.each_schema_reflected_at_once,
                                    "the method it mends is not there" if applies else
                                    f"it patched an Alembic before {MENDED_FROM}")
    assert getattr(helper, "_pre_cache", None) is original, \
        broken(compat.each_schema_reflected_at_once, "the method was not put back")
    assert len(plain) == 8 and mended == plain, \
        broken(compat.each_schema_reflected_at_once, f"found {mended}, not {plain}")
    assert mended_queries < plain_queries or not applies, broken(
        compat.each_schema_reflected_at_once,
        f"{mended_queries} queries with it, {plain_queries} without: it saves nothing now")


class Counting:
    """A cursor as schemainspect uses one, on a raw connection, counting the queries it runs."""

    def __init__(self, conn: sa.Connection) -> None:
        from psycopg2.extras import NamedTupleCursor

        self.connection = conn.connection.dbapi_connection
        self.cursor = self.connection.cursor(cursor_factory=NamedTupleCursor)
        self.queries: list[str] = []

    def execute(self, query: str) -> None:
        self.queries.append(query)
        self.cursor.execute(query)

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()


#: Before and after: columns, indexes, a sequence, a grant and a function change.
BEFORE = """CREATE TYPE mood AS ENUM ('a', 'b');
    CREATE TABLE t (id int PRIMARY KEY, m mood, x int DEFAULT 1);
    CREATE INDEX t_x ON t (x); CREATE UNIQUE INDEX t_cover ON t (id, m) INCLUDE (x);
    CREATE INDEX t_expr ON t ((x + 1), id DESC) WHERE x > 0;
    CREATE SEQUENCE s; GRANT SELECT ON t TO PUBLIC;
    CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"""
AFTER = """ALTER TABLE t ADD COLUMN y text, ALTER COLUMN x TYPE bigint;
    DROP INDEX t_x; DROP SEQUENCE s; REVOKE SELECT ON t FROM PUBLIC;
    CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2'"""
#: A view over the changed column: migra drops it and creates it again around the change.
VIEW = "CREATE VIEW v AS SELECT id, x FROM t"
#: A trigger and a row-level policy on ``table``.
TRIGGERS = """CREATE FUNCTION {table}_touched() RETURNS trigger LANGUAGE plpgsql
    AS 'BEGIN RETURN NEW; END';
    CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_touched();
    CREATE POLICY {table}_mine ON {table} USING (id > 0)"""


def sql(source: Any, target: Any) -> str:
    """migra's SQL from ``source`` to ``target``, as dbci asks for it (no privileges)."""
    from migra import Migration

    migration = Migration(source, target)
    migration.set_safety(False)
    migration.add_all_changes()
    return str(migration.sql)


@pytest.mark.db
@pytest.mark.parametrize("view", ["", VIEW], ids=["tables", "a view"])
def test_inspect_schema_gives_migra_what_get_inspector_gives_with_fewer_queries(
        conn: sa.Connection, view: str) -> None:
    """migra's SQL (as dbci asks for it: no privileges), the dependencies and the indexes
    are the same as with schemainspect's own inspection; two queries fewer without a view, one
    with, and the indexes read through a materialized ``pre``."""
    from schemainspect import get_inspector

    def inspections() -> tuple[Any, Any, list[str], list[str]]:
        full, lean = Counting(conn), Counting(conn)
        both = get_inspector(full), compat.inspect_schema(lean)
        return *both, full.queries, lean.queries

    schema = f"dbci_inspect_{len(view)}"
    with conn.begin():
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}; SET LOCAL search_path = {schema}")
        conn.exec_driver_sql(f"{BEFORE}; {view}")
        full_before, lean_before, full_queries, lean_queries = inspections()
        conn.exec_driver_sql(f"{'DROP VIEW v;' if view else ''} {AFTER}; {view}")
        full_after, lean_after, _, _ = inspections()
        conn.rollback()
    expected = sql(full_before, full_after)
    assert "drop index" in expected and ("drop view" in expected) == bool(view)
    assert sql(lean_before, lean_after) == expected, broken(
        compat.inspect_schema, "migra writes other SQL from its inspection")
    assert lean_after.deps == full_after.deps, broken(compat.inspect_schema,
                                                      "it reads other dependencies")
    for full, lean in ((full_before, lean_before), (full_after, lean_after)):
        assert list(lean.indexes.items()) == list(full.indexes.items()) \
            and len(full.indexes) >= 3, broken(compat.inspect_schema, "it reads other indexes")
    assert len(lean_queries) == len(full_queries) - (1 if view else 2), broken(
        compat.inspect_schema, f"{len(lean_queries)} queries, {len(full_queries)} without it")
    assert sum("pre as materialized (" in q for q in lean_queries) == 1, broken(
        compat.inspect_schema, "schemainspect's indexes query reads otherwise now")


@pytest.mark.db
def test_inspect_schema_of_some_tables_reads_those_and_gives_migra_the_same_sql(
        conn: sa.Connection) -> None:
    """With ``some_tables``, the queries of each table read only the tables the session names
    (``t``) and those with a column of a type it names (``typed``, by ``mood``), every view
    and composite type still, and of the sequences those it names (``s``, ``counter``; not
    ``loose``); of the triggers, policies, indexes and constraints, those of the tables it
    names (not of ``other``); migra's SQL between two such inspections is the SQL between
    whole ones, here with the columns of an enum that gained a label cast over, a view made
    again, and a trigger and a policy dropped."""
    schema = "dbci_inspect_some"
    named = (json.dumps([[schema, "t"], [schema, "s"], [schema, "counter"]]),
             json.dumps([[schema, "mood"]]))
    with conn.begin():
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}; SET LOCAL search_path = {schema}")
        conn.exec_driver_sql(f"{BEFORE}; {VIEW}; CREATE TABLE other (id int PRIMARY KEY, "
                             "note text CHECK (note <> ''), ref int REFERENCES t (id)); "
                             "CREATE INDEX other_note ON other (note); "
                             "CREATE TABLE typed (id int PRIMARY KEY, m mood); "
                             "CREATE SEQUENCE counter; CREATE SEQUENCE loose; "
                             "CREATE TYPE pair AS (a int, b text); "
                             f"{TRIGGERS.format(table='t')}; {TRIGGERS.format(table='other')}")
        conn.exec_driver_sql("SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
                             (compat.ONLY_TABLES, named[0], compat.ONLY_TYPES, named[1]))

        def inspections() -> tuple[Any, Any]:
            return (compat.inspect_schema(Counting(conn)),
                    compat.inspect_schema(Counting(conn), some_tables=True))

        whole_before, some_before = inspections()
        conn.exec_driver_sql(f"DROP VIEW v; {AFTER}; {VIEW}; ALTER TYPE mood ADD VALUE 'c'; "
                             "DROP TRIGGER t_touch ON t; DROP POLICY t_mine ON t")
        whole_after, some_after = inspections()
        conn.rollback()
    expected = sql(whole_before, whole_after)
    assert "drop view" in expected and "mood__old_version_to_be_dropped" in expected \
        and "drop trigger" in expected and "drop policy" in expected
    assert sql(some_before, some_after) == expected, broken(
        compat.inspect_schema, "migra writes other SQL from an inspection of some tables")
    for some, whole in ((some_before, whole_before), (some_after, whole_after)):
        assert {name.split(".")[1] for name in some.relations} == {'"t"', '"typed"', '"v"'}, \
            broken(compat.inspect_schema, "an inspection of some tables reads other tables")
        assert not any("other" in name for name in (
            *some.indexes, *some.constraints, *some.triggers, *some.rlspolicies))
        assert list(some.composite_types) == list(whole.composite_types) != [], broken(
            compat.inspect_schema, "an inspection of some tables reads composite types otherwise")
        assert [t.table_name for t in some.triggers.values()] == ["t"] * (some is some_before)
        assert [p.table_name for p in some.rlspolicies.values()] == ["t"] * (some is some_before)
        assert list(some.indexes.items()) == [
            (k, v) for k, v in whole.indexes.items() if v.table_name == "t"], broken(
            compat.inspect_schema, "an inspection of some tables reads their indexes otherwise")
        assert list(some.sequences) == [n for n in whole.sequences if "loose" not in n] != list(
            whole.sequences), broken(compat.inspect_schema, "it reads other sequences")


@pytest.mark.db
def test_replayed_gives_migra_what_the_inspection_it_replays_gave(conn: sa.Connection) -> None:
    """An inspection made of the rows another saw (each query's, those answered from what was
    kept too) asks no server, and migra writes the same SQL from it."""
    seen: list[dict[str, list[Any]]] = [{}, {}]
    with conn.begin():
        conn.exec_driver_sql("CREATE SCHEMA dbci_replayed; SET LOCAL search_path = dbci_replayed")
        conn.exec_driver_sql(f"{BEFORE}; {VIEW}")
        before = compat.inspect_schema(Counting(conn), answers={}, seen=seen[0])
        conn.exec_driver_sql(f"DROP VIEW v; {AFTER}; {VIEW}")
        after = compat.inspect_schema(Counting(conn), seen=seen[1])
        version = conn.connection.dbapi_connection.server_version
        conn.rollback()
    assert set(seen[0]) == set(seen[1]) == set(compat.QUERIES), broken(
        compat.inspect_schema, "it asks other queries than compat.QUERIES names")
    assert sql(*(compat.replayed(rows, version) for rows in seen)) == sql(before, after), broken(
        compat.replayed, "migra writes other SQL from an inspection replayed")


def test_load_inspector_imports_schemainspect_whole_and_leaves_inspect_as_it_was() -> None:
    """In a fresh interpreter (this one may have imported schemainspect already)."""
    script = """if True:
        import inspect, pathlib
        stack, getmodule = inspect.stack, inspect.getmodule
        from ci import compat
        compat.load_inspector()
        from schemainspect.pg import obj
        sql = pathlib.Path(obj.__file__).parent / "sql"
        assert obj.ALL_RELATIONS_QUERY == (sql / "relations.sql").read_text()
        assert obj.RLSPOLICIES_QUERY == (sql / "rlspolicies.sql").read_text()
        assert (inspect.stack, inspect.getmodule) == (stack, getmodule)
        """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, broken(compat.load_inspector, done.stderr.strip())


def test_embedded_programs_holds_the_client_programs_dbci_runs() -> None:
    folder = compat.embedded_programs(_package())
    for name in ("pg_dump", "pg_restore", "psql"):
        done = subprocess.run([str(folder / name), "--version"], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0 and "PostgreSQL" in done.stdout, \
            broken(compat.embedded_programs, f"{folder / name}: {done.stderr.strip()}")

"""``dbci roundtrip``: the reference project, copies broken one way each, generated histories."""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import (
    REPO,
    Run,
    add_revision,
    dbci,
    edit_revision,
    revision_path,
    scratch_databases,
    write_revision,
)

from bench.generate import generate
from ci.config import Config
from ci.db import scratch
from ci.errors import EXIT_OUTSIDE, OutsideFailure
from ci.roundtrip import workers
from ci.roundtrip.fork import available
from ci.roundtrip.ranges import select
from ci.rules.roundtrip import UPGRADE_FAILS
from ci.stages import targets

pytestmark = pytest.mark.db

#: The reference project's revision ids, base first.
IDS = ["_".join(p.name.split("_")[:2])
       for p in sorted((REPO / "database" / "versions").glob("[0-9][0-9]_*.py"))]


def rev(number: str) -> str:
    """The reference revision id numbered ``number`` ("07" -> "07_2e805208407e")."""
    return IDS[int(number) - 1]


def roundtrip(*args: str) -> Run:
    """``dbci --json roundtrip ARGS``."""
    return dbci("--json", "roundtrip", *args)


def statuses(run: Run) -> dict[str, str]:
    """Revision -> status from a ``--json`` run, in run order."""
    return {r["revision"]: r["status"] for r in run.json()["revisions"]}


def found(run: Run) -> set[tuple[str, str, str | None]]:
    """(rule, revision, object) of every finding of a ``--json`` run."""
    return {(f["rule"], f["revision"], f.get("object")) for f in run.json()["findings"]}


def test_the_reference_project_round_trips(project: Path) -> None:
    run = roundtrip()
    assert run.code == 0, run.out
    doc = run.json()
    assert doc["ok"] is True and doc["findings"] == [] and doc["reached_head"] is True
    assert statuses(run) == dict.fromkeys(IDS, "passed")
    assert {r["path"] for r in doc["revisions"]} == {"fast"}
    text = dbci("roundtrip")
    assert text.code == 0
    assert text.out.startswith("roundtrip: 14 revisions: 14 passed in ")


# -- one downgrade broken each way: (break the project, rule, revision number, object) ----------


def leave_column(project: Path) -> None:
    edit_revision(project, "07", '    op.drop_column("CollectionVersion", "published_at", '
                  'schema="persistence_schema")\n', "")


def leave_index(project: Path) -> None:  # on the column "metadata", which stays
    edit_revision(project, "08", "def downgrade() -> None:\n",
                  "def downgrade() -> None:\n    return\n")


def leave_enum_type(project: Path) -> None:
    edit_revision(project, "06",
                  "    collection_visibility.drop(op.get_bind(), checkfirst=False)\n", "")


def leave_constraint(project: Path) -> None:
    add_revision(project, "check_artifact_uri",
                 'op.create_check_constraint(op.f("ck_DatasetArtifact_uri_s3"), "DatasetArtifact", '
                 "\"uri <> 'local'\", schema=\"persistence_schema\")")


def drop_earlier_index(project: Path) -> None:
    edit_revision(project, "07", '    op.drop_column("CollectionVersion", "published_at", ',
                  '    op.drop_index("ix_CollectionVersion_collection_id", '
                  'table_name="CollectionVersion", schema="persistence_schema")\n'
                  '    op.drop_column("CollectionVersion", "published_at", ')


def drop_earlier_column(project: Path) -> None:
    edit_revision(project, "12", '    op.drop_column("CollectionVersion", "name", '
                  'schema="persistence_schema")\n',
                  '    op.drop_column("CollectionVersion", "name", schema="persistence_schema")\n'
                  '    op.drop_column("CollectionVersion", "curator_name", '
                  'schema="persistence_schema")\n')


def relax_not_null(project: Path) -> None:
    edit_revision(project, "12", '    op.drop_column("CollectionVersion", "name", '
                  'schema="persistence_schema")\n',
                  '    op.drop_column("CollectionVersion", "name", schema="persistence_schema")\n'
                  '    op.alter_column("CollectionVersion", "owner", nullable=True, '
                  'schema="persistence_schema")\n')


def narrow_column(project: Path) -> None:
    edit_revision(project, "09", "type_=sa.String(length=256)", "type_=sa.String(length=512)")


def tune_column(setting: str) -> Callable[[Path], None]:
    """Revision 09's upgrade also tunes a column it does not otherwise touch; its downgrade
    leaves that be."""
    def apply(project: Path) -> None:
        anchor = ("    # varchar -> text is binary coercible: no table rewrite, the unique index "
                  "is kept.\n")
        edit_revision(project, "09", anchor, "    op.execute('ALTER TABLE persistence_schema."
                      f"\"CollectionVersion\" ALTER COLUMN curator_name SET {setting}')\n"
                      f"{anchor}")
    return apply


def rewrite_rows(project: Path) -> None:
    edit_revision(project, "14", " WHERE processing_status = 'CANCELED'", "")


def delete_rows(project: Path) -> None:
    edit_revision(project, "11", "def downgrade() -> None:\n",
                  "def downgrade() -> None:\n    op.execute('DELETE FROM persistence_schema."
                  "\"CollectionVersion\" WHERE published_at IS NULL')\n")


LEAVES, DROPS = "downgrade-leaves-objects", "downgrade-drops-objects"
CHANGES, ROWS = "downgrade-changes-objects", "downgrade-changes-rows"
PS = "persistence_schema"


@dataclass(frozen=True)
class Broken:
    """A project broken one way, and the one finding that must name it."""

    apply: Callable[[Path], None]
    rule: str
    number: str
    object: str


BROKEN = {
    "leaves a column": Broken(leave_column, LEAVES, "07", f"{PS}.CollectionVersion.published_at"),
    "leaves an index": Broken(leave_index, LEAVES, "08", f"{PS}.ix_DatasetVersion_metadata"),
    "leaves an enum type": Broken(leave_enum_type, LEAVES, "06", f"{PS}.collectionvisibility"),
    "leaves a constraint": Broken(leave_constraint, LEAVES, "15",
                                  f"{PS}.DatasetArtifact.ck_DatasetArtifact_uri_s3"),
    "drops an earlier index": Broken(drop_earlier_index, DROPS, "07",
                                     f"{PS}.ix_CollectionVersion_collection_id"),
    "drops an earlier column": Broken(drop_earlier_column, DROPS, "12",
                                      f"{PS}.CollectionVersion.curator_name"),
    "drops a NOT NULL": Broken(relax_not_null, CHANGES, "12", f"{PS}.CollectionVersion.owner"),
    "changes a column's type": Broken(narrow_column, CHANGES, "09", f"{PS}.DatasetArtifact.uri"),
    **{f"leaves a column's {name}": Broken(tune_column(setting), CHANGES, "09",
                                           f"{PS}.CollectionVersion.curator_name")
       for name, setting in (("statistics target", "STATISTICS 500"),
                             ("storage", "STORAGE EXTERNAL"),
                             ("compression", "COMPRESSION pglz"),
                             ("options", "(n_distinct = -1)"))},
    "rewrites rows": Broken(rewrite_rows, ROWS, "14", f"{PS}.DatasetVersion"),
    "deletes rows": Broken(delete_rows, ROWS, "11", f"{PS}.CollectionVersion"),
}


def revision_id(project: Path, number: str) -> str:
    return "_".join(revision_path(project, number).name.split("_")[:2])


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_downgrade_is_named_and_the_rest_pass(project: Path, case: Broken) -> None:
    case.apply(project)
    broken = revision_id(project, case.number)
    run = roundtrip()
    assert run.code == 1
    assert found(run) == {(case.rule, broken, case.object)}
    (finding,) = run.json()["findings"]
    assert finding["check"] == "roundtrip"
    assert finding["file"] == f"database/versions/{revision_path(project, case.number).name}"
    assert finding["line"] and finding["message"]
    assert {r: s for r, s in statuses(run).items() if s != "passed"} == {broken: "failed"}
    text = dbci("roundtrip")
    assert text.code == 1
    assert f"{finding['file']}:{finding['line']}: [roundtrip/{case.rule}] {finding['message']}\n" \
        in text.out


def test_after_the_fix_the_round_trip_passes_again(project: Path) -> None:
    original = revision_path(project, "07").read_text()
    leave_column(project)
    assert roundtrip().code == 1
    revision_path(project, "07").write_text(original)
    run = roundtrip()
    assert run.code == 0 and statuses(run) == dict.fromkeys(IDS, "passed")


def test_the_text_report_shows_what_the_downgrade_left(project: Path) -> None:
    leave_column(project)
    run = dbci("roundtrip")
    assert run.code == 1
    headline, fix, doc, detail, migra, sql, summary = run.out.splitlines()
    assert summary.startswith(f"roundtrip: 14 revisions: 13 passed, 1 failed ({rev('07')}) in ")
    assert headline.startswith(f"{revision_path(project, '07').relative_to(project)}:")
    assert headline.endswith(f": [roundtrip/{LEAVES}] downgrade of {rev('07')} leaves column "
                             f"{PS}.CollectionVersion.published_at behind")
    assert fix == "    fix: drop the object in downgrade()"
    assert doc == f"    doc: https://github.com/dbci-dev/dbci/blob/main/docs/rules.md#{LEAVES}"
    assert detail == "    after upgrade+downgrade: published_at timestamp with time zone"
    assert migra == "    migra, what the downgrade should also do:"
    assert sql == f'    alter table "{PS}"."CollectionVersion" drop column "published_at";'


def test_migra_shows_a_view_dropped_and_made_again_around_what_the_downgrade_left(
        project: Path) -> None:
    """The explanation reads views' dependencies (schemainspect's query for them runs only
    where there is a view): the downgrade forgets to narrow a column a view selects."""
    add_revision(project, "viewed", 'op.execute("CREATE TABLE viewed (id int PRIMARY KEY, '
                 'x int); CREATE VIEW viewed_x AS SELECT id, x FROM viewed")',
                 'op.execute("DROP VIEW viewed_x; DROP TABLE viewed")')
    widened = add_revision(project, "widen", 'op.execute("DROP VIEW viewed_x; ALTER TABLE '
                           'viewed ALTER COLUMN x TYPE bigint; CREATE VIEW viewed_x AS SELECT '
                           'id, x FROM viewed")')
    run = roundtrip()
    assert run.code == 1
    findings = run.json()["findings"]
    assert {(f["revision"], f["object"]) for f in findings} == {
        (widened, "public.viewed.x"), (widened, "public.viewed_x.x")}
    sql = findings[0]["detail"].split("migra, what the downgrade should also do:\n")[1]
    assert sql.index('drop view if exists "public"."viewed_x"') < sql.index(
        'alter table "public"."viewed" alter column "x" set data type integer') < sql.index(
        'create or replace view "public"."viewed_x"'), sql


#: Revisions whose last one's downgrade forgets something (the ones before it pass): how
#: migra explains each depends on other objects than what the revision touched.
EXPLAINED = {
    "an enum label another table's column uses": [
        ("op.execute(\"ALTER TYPE persistence_schema.uploadstatus ADD VALUE 'QUEUED'\")",
         "pass")],
    "an enum that drop_table leaves": [
        ('op.create_table("flags", sa.Column("id", sa.Integer, primary_key=True), '
         'sa.Column("kind", sa.Enum("a", "b", name="flagkind")))', 'op.drop_table("flags")')],
    "a foreign key to a table the revision did not touch": [
        ('op.execute("CREATE TABLE parent_t (id int PRIMARY KEY); '
         'CREATE TABLE child_t (id int PRIMARY KEY)")',
         'op.execute("DROP TABLE child_t, parent_t")'),
        ('op.execute("ALTER TABLE child_t ADD COLUMN parent_id int REFERENCES parent_t")',
         "pass")],
    "a serial column and its sequence": [
        ('op.execute("CREATE TABLE counted (id int PRIMARY KEY)")',
         'op.execute("DROP TABLE counted")'),
        ('op.execute("ALTER TABLE counted ADD COLUMN n serial")', "pass")],
    "a column left on a table a view the revision did not touch reads": [
        ('op.execute("CREATE TABLE read_t (id int PRIMARY KEY); '
         'CREATE VIEW read_v AS SELECT * FROM read_t")',
         'op.execute("DROP VIEW read_v; DROP TABLE read_t")'),
        ('op.add_column("read_t", sa.Column("extra", sa.Text))', "pass")],
    "a column left on a partitioned table, and so on its partition": [
        ('op.execute("CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k); '
         'CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10)")',
         'op.execute("DROP TABLE parted")'),
        ('op.add_column("parted", sa.Column("extra", sa.Text))', "pass")],
    "a view over a column the downgrade leaves wide": [
        ('op.execute("CREATE TABLE viewed (id int PRIMARY KEY, x int); '
         'CREATE VIEW viewed_x AS SELECT id, x FROM viewed")',
         'op.execute("DROP VIEW viewed_x; DROP TABLE viewed")'),
        ('op.execute("DROP VIEW viewed_x; ALTER TABLE viewed ALTER COLUMN x TYPE bigint; '
         'CREATE VIEW viewed_x AS SELECT id, x FROM viewed")', "pass")],
}


@pytest.mark.parametrize("case", EXPLAINED)
def test_migra_explains_a_finding_as_it_would_between_the_whole_schemas(
        project: Path, case: str) -> None:
    """The explanation reads only the tables the two steps touched (and those with a column of
    a type they touched); its SQL is migra's between the whole schemas, read on two databases
    built apart: at the revision's parent, and after its upgrade and downgrade."""
    *setup, (upgrade, downgrade) = EXPLAINED[case]
    first = None
    for number, (up, down) in enumerate(setup):
        first = first or add_revision(project, f"setup_{number}", up, down)
    revision = add_revision(project, "forgets", upgrade, downgrade)
    run = roundtrip("--from", first or revision)
    assert run.code == 1, run.out
    assert explained(run) == {revision: whole_schemas_sql(project, revision)}


def test_migra_explains_each_finding_as_between_the_whole_schemas_after_others(
        project: Path) -> None:
    """What an explanation read of the functions and types, the next one reads again where
    they changed since (a revision between the two findings), or where its own steps touched
    them (a function its downgrade, or its upgrade, leaves replaced)."""
    replace = ('op.execute("CREATE OR REPLACE FUNCTION fa() RETURNS int LANGUAGE sql '
               'AS \'SELECT {}\'")')
    first = add_revision(project, "leaves_a", 'op.execute("CREATE TABLE la (id int)")', "pass")
    add_revision(project, "makes", 'op.execute("CREATE TYPE mood AS ENUM (\'ok\'); '
                 'CREATE FUNCTION fa() RETURNS int LANGUAGE sql AS \'SELECT 1\'")',
                 'op.execute("DROP FUNCTION fa(); DROP TYPE mood")')
    findings = [first,
                add_revision(project, "leaves_b", 'op.execute("CREATE TABLE lb (m mood)")', "pass"),
                add_revision(project, "down_replaces", "pass", replace.format(3)),
                add_revision(project, "up_replaces", replace.format(2), "pass")]
    run = roundtrip("--from", first)
    assert run.code == 1, run.out
    assert explained(run) == {rev: whole_schemas_sql(project, rev) for rev in findings}


def explained(run: Run) -> dict[str, str]:
    """Revision -> the SQL migra gave for its finding."""
    return {f["revision"]: f["detail"].split("migra, what the downgrade should also do:\n")[1]
            for f in run.json()["findings"] if "migra" in f.get("detail", "")}


def whole_schemas_sql(project: Path, revision: str) -> str:
    """migra's SQL between whole schemas read on two databases built apart: at the revision's
    parent, and after its upgrade and downgrade."""
    from bench.migrations import Alembic
    from ci.db.runners import create_engine
    from ci.schemadiff import inspect, migra_sql

    seen = {}
    for state in ("before", "left"):
        with scratch.scratch_database(os.environ.get("DATABASE_URL")) as url:
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    alembic = Alembic(str(project / "alembic.ini"), conn)
                    parent = alembic.script.get_revision(revision).down_revision
                    alembic.upgrade(revision if state == "left" else str(parent))
                    if state == "left":
                        alembic.undo(revision)
                    seen[state] = inspect(conn)
            finally:
                engine.dispose()
    return "\n".join(migra_sql(seen["left"], seen["before"]))


def test_an_upgrade_that_raises_stops_the_run(project: Path) -> None:
    edit_revision(project, "10", '_rename("dataset_id", "canonical_dataset_id")',
                  '_rename("no_such_column", "canonical_dataset_id")')
    run = roundtrip()
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("upgrade-fails", rev("10"))
    assert "no_such_column" in finding["message"]
    assert list(statuses(run).items()) == (
        [(r, "passed") for r in IDS[:9]] + [(rev("10"), "failed")]
        + [(r, "not run") for r in IDS[10:]])
    assert run.json()["reached_head"] is False


def test_a_downgrade_that_raises_fails_and_the_run_carries_on(project: Path) -> None:
    edit_revision(project, "11", 'op.f("uq_CollectionVersion_collection_id_draft"),\n'
                  "        table_name=", 'op.f("uq_CollectionVersion_draft"),\n        table_name=')
    run = roundtrip()
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("downgrade-fails", rev("11"))
    assert "uq_CollectionVersion_draft" in finding["message"]
    assert statuses(run) == {**dict.fromkeys(IDS, "passed"), rev("11"): "failed"}


def test_irreversible_revisions_are_skipped_with_a_note(project: Path) -> None:
    edit_revision(project, "12", "def downgrade() -> None:\n",
                  "# dbci: irreversible -- names typed in by curators cannot be told apart\n"
                  "def downgrade() -> None:\n    return\n")
    edit_revision(project, "09", "def downgrade() -> None:\n",
                  "def downgrade() -> None:\n    raise NotImplementedError('uris may be long')\n")
    run = roundtrip()
    assert run.code == 0, run.out
    skipped = {r["revision"]: r["note"] for r in run.json()["revisions"]
               if r["status"] == "skipped"}
    assert set(skipped) == {rev("09"), rev("12")} and all(skipped.values())
    assert statuses(run) == {**dict.fromkeys(IDS, "passed"), **dict.fromkeys(skipped, "skipped")}
    text = dbci("roundtrip").out
    assert "12 passed, 2 skipped (09_381a4539002a, 12_7cd45af4a41d)" in text
    assert f"roundtrip: {rev('12')} skipped (" in text


def test_a_not_implemented_error_raised_at_run_time_is_a_skip(project: Path) -> None:
    revision = add_revision(project, "add_note", 'op.add_column("DatasetCanonical", '
                            'sa.Column("note", sa.Text), schema="persistence_schema")',
                            "no_way_back = NotImplementedError\nraise no_way_back('data is gone')")
    run = roundtrip("--from", revision)
    assert run.code == 0, run.out
    (outcome,) = run.json()["revisions"]
    assert outcome["status"] == "skipped" and "NotImplementedError" in outcome["note"]


def test_a_skipped_revision_still_loads_its_rows(project: Path) -> None:
    table = 'persistence_schema."Note"'
    skipped = add_revision(project, "create_note", f'op.execute(\'CREATE TABLE {table} (t text)\')',
                           "no_way_back = NotImplementedError\nraise no_way_back('kept')")
    (project / "database" / "roundtrip_data" / f"{skipped}.sql").write_text(
        f"INSERT INTO {table} VALUES ('keep me');\n")
    loses = add_revision(project, "clear_notes", "pass", f'op.execute(\'DELETE FROM {table}\')')
    run = roundtrip("--from", skipped)
    assert statuses(run) == {skipped: "skipped", loses: "failed"}
    assert found(run) == {(ROWS, loses, f"{PS}.Note")}


def test_an_allowed_rule_is_not_reported(project: Path) -> None:
    rewrite_rows(project)
    edit_revision(project, "14", "def downgrade() -> None:\n",
                  "def downgrade() -> None:\n    # dbci: allow downgrade-changes-rows -- "
                  "every dataset is reprocessed after a rollback\n")
    run = roundtrip()
    assert run.code == 0, run.out
    assert statuses(run) == dict.fromkeys(IDS, "passed")


def test_a_concurrent_index_takes_the_autocommit_path(project: Path) -> None:
    index = ('"ix_DatasetCanonical_published_at", "DatasetCanonical", ["published_at"], '
             'schema="persistence_schema", postgresql_concurrently=True')
    concurrent = add_revision(
        project, "index_published_at",
        f"with op.get_context().autocommit_block():\n    op.create_index({index})",
        "with op.get_context().autocommit_block():\n    op.drop_index("
        '"ix_DatasetCanonical_published_at", table_name="DatasetCanonical", '
        'schema="persistence_schema", postgresql_concurrently=True)')
    after = add_revision(project, "add_note", 'op.add_column("DatasetCanonical", '
                         'sa.Column("note", sa.Text), schema="persistence_schema")')
    run = roundtrip()
    assert run.code == 1
    assert found(run) == {(LEAVES, after, f"{PS}.DatasetCanonical.note")}
    paths = {r["revision"]: (r["status"], r["path"]) for r in run.json()["revisions"]}
    assert paths[concurrent] == ("passed", "autocommit")
    assert paths[after] == ("failed", "fast")
    text = dbci("roundtrip").out
    assert "autocommit: 1 revision committed, downgraded and upgraded again" in text


def test_rows_deleted_by_a_function_a_select_calls_are_found(project: Path) -> None:
    """A downgrade deletes rows of a table its DDL never touches, through ``SELECT wipe()``:
    rows are watched by what the server says the step wrote, not by how its SQL starts."""
    wipe = add_revision(project, "wipe", 'op.add_column("DatasetArtifact", sa.Column("note", '
                        'sa.Text), schema="persistence_schema")',
                        "op.execute('CREATE FUNCTION pg_temp.wipe() RETURNS void LANGUAGE sql "
                        "AS $$ DELETE FROM persistence_schema.\"CollectionVersion\" WHERE "
                        "published_at IS NULL $$')\nop.execute('SELECT pg_temp.wipe()')\n"
                        'op.drop_column("DatasetArtifact", "note", schema="persistence_schema")')
    run = roundtrip()
    assert run.code == 1
    assert found(run) == {(ROWS, wipe, f"{PS}.CollectionVersion")}


#: A revision's own cursor of the driver's: SQLAlchemy never sees what it sends.
RAW = "cursor = op.get_bind().connection.cursor()\ncursor.execute({!r})\n"


def test_statements_sent_through_the_drivers_own_cursor_are_watched(project: Path) -> None:
    """A revision that sends its SQL through a cursor of the driver's it took itself: a right
    downgrade that drops the column that way passes, and one that deletes rows of a table its
    DDL never touches that way is found."""
    column = add_revision(project, "note_raw", 'op.add_column("DatasetArtifact", sa.Column('
                          '"note", sa.Text), schema="persistence_schema")',
                          RAW.format('ALTER TABLE persistence_schema."DatasetArtifact" '
                                     "DROP COLUMN note"))
    rows = add_revision(project, "delete_raw", 'op.execute("SELECT 1")',
                        RAW.format('DELETE FROM persistence_schema."CollectionVersion" '
                                   "WHERE published_at IS NULL"))
    run = roundtrip()
    assert run.code == 1, run.out
    assert found(run) == {(ROWS, rows, f"{PS}.CollectionVersion")}
    assert statuses(run)[column] == "passed"


def test_a_role_without_event_triggers_finds_the_same_problems(
        project: Path, make_role: Callable[..., str]) -> None:
    for case in reversed(BROKEN.values()):  # drop_earlier_index before leave_column
        case.apply(project)
    fast = roundtrip()
    expected = {(c.rule, revision_id(project, c.number), c.object) for c in BROKEN.values()}
    assert found(fast) == expected
    url = make_role("CREATEDB")
    slow = dbci("--json", "--database-url", url, "roundtrip")
    assert slow.code == 1
    assert found(slow) == expected
    assert statuses(slow) == statuses(fast)
    assert {r["path"] for r in slow.json()["revisions"]} == {"whole snapshots"}
    text = dbci("--database-url", url, "roundtrip").out
    assert "took the slower whole-snapshot path: " in text


@pytest.mark.parametrize("seed", [2, 5])
def test_the_fast_path_and_whole_snapshots_agree_on_a_generated_history(
        tmp_path: Path, make_role: Callable[..., str], seed: int) -> None:
    """The event triggers name what each step touched, and only that is read; reading
    everything after every step must find exactly the same: the same broken revision, the
    same findings, every other revision passed. The history renames tables and columns that
    foreign keys point at, and types columns use."""
    project = generate(tmp_path / "history", 60, seed, break_at=41, rename_referenced=True)
    ini = str(project.ini)
    fast = dbci("--json", "--config", ini, "roundtrip")
    slow = dbci("--json", "--config", ini, "--database-url", make_role("CREATEDB"), "roundtrip")
    assert (fast.code, slow.code) == (1, 1), f"{fast.out}{fast.err}\n---\n{slow.out}{slow.err}"
    assert {r["path"] for r in fast.json()["revisions"]} == {"fast"}
    assert {r["path"] for r in slow.json()["revisions"]} == {"whole snapshots"}
    assert fast.json()["findings"] == slow.json()["findings"]
    assert {f["revision"] for f in fast.json()["findings"]} == {project.broken}
    assert statuses(fast) == statuses(slow) == {
        **dict.fromkeys(project.revisions, "passed"), project.broken: "failed"}


# -- ranges and shards ------------------------------------------------------------------------


def test_from_and_to_check_only_that_range(project: Path) -> None:
    run = roundtrip("--from", rev("05"), "--to", rev("07"))
    assert run.code == 0
    assert statuses(run) == dict.fromkeys(IDS[4:7], "passed")


def test_a_broken_revision_outside_the_range_is_not_checked(project: Path) -> None:
    leave_column(project)
    assert roundtrip("--from", rev("08")).code == 0
    assert roundtrip("--to", rev("06")).code == 0
    assert roundtrip("--from", rev("07"), "--to", rev("07")).code == 1


@pytest.mark.parametrize(("args", "named"), [
    (("--from", "99_000000000000"), "99_000000000000"),
    (("--to", "nope"), "nope"),
    (("--from", IDS[7], "--to", IDS[3]), IDS[7]),
])
def test_a_bad_range_is_bad_input(project: Path, args: tuple[str, ...], named: str) -> None:
    run = dbci("roundtrip", *args)
    assert run.code == 2 and run.out == ""
    assert named in run.err and len(run.err.splitlines()) == 1


@pytest.mark.parametrize("shard", ["0/3", "4/3", "2", "a/b"])
def test_a_bad_shard_is_a_usage_error(project: Path, shard: str) -> None:
    run = dbci("roundtrip", "--shard", shard)
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("usage: dbci roundtrip")
    assert "--shard" in run.err.splitlines()[-1]


def test_shards_cover_every_revision_of_a_range_once(project: Path) -> None:
    seen: list[str] = []
    for k in (1, 2, 3):
        run = roundtrip("--from", rev("03"), "--to", rev("13"), "--shard", f"{k}/3")
        assert run.code == 0
        part = list(statuses(run))
        assert part and set(statuses(run).values()) == {"passed"}
        assert part == IDS[IDS.index(part[0]):IDS.index(part[0]) + len(part)]  # one slice
        seen += part
    assert seen == IDS[2:13]


@pytest.mark.parametrize("size", [1, 2, 5, 14])
def test_shard_slices_partition_the_range(size: int) -> None:
    chain: list[Any] = [SimpleNamespace(id=f"{n:02d}") for n in range(20)]
    for n in range(1, 9):
        slices = [select(chain, "03", f"{3 + size - 1:02d}", (k, n)) for k in range(1, n + 1)]
        assert [x for _, checked in slices for x in checked] == chain[3:3 + size]
        assert all(before == chain[:chain.index(c[0])] for before, c in slices if c)
        lengths = [len(c) for _, c in slices]
        assert max(lengths) - min(lengths) <= 1


# -- histories dbci has never seen: generated, with one downgrade that forgets its last step ---


def generated_history(root: Path, seed: int, count: int = 8) -> tuple[list[str], str]:
    """``count`` random schema changes after the project's two revisions; one downgrade forgets
    its last step. Returns every revision id and the broken one."""
    rnd = random.Random(seed)
    tables, ids, down = ["things"], ["01_aaaaaaaaaaaa", "02_bbbbbbbbbbbb"], "02_bbbbbbbbbbbb"
    broken = rnd.randrange(count)
    for index in range(count):
        n, table = index + 3, rnd.choice(tables)
        kind = rnd.choice(["table", "column", "index", "enum", "check"])
        up, undo = {
            "table": ([f"CREATE TABLE t{n} (id int PRIMARY KEY, v text)"], [f"DROP TABLE t{n}"]),
            "column": ([f"ALTER TABLE {table} ADD COLUMN c{n} text DEFAULT 'x'"],
                       [f"ALTER TABLE {table} DROP COLUMN c{n}"]),
            "index": ([f"ALTER TABLE {table} ADD COLUMN c{n} int", f"CREATE INDEX i{n} ON "
                       f"{table} (c{n})"], [f"DROP INDEX i{n}", f"ALTER TABLE {table} DROP "
                                            f"COLUMN c{n}"]),
            "enum": ([f"CREATE TYPE e{n} AS ENUM ('a', 'b')", f"ALTER TABLE {table} ADD COLUMN "
                      f"c{n} e{n}"], [f"ALTER TABLE {table} DROP COLUMN c{n}", f"DROP TYPE e{n}"]),
            "check": ([f"ALTER TABLE {table} ADD CONSTRAINT k{n} CHECK (id > 0)"],
                      [f"ALTER TABLE {table} DROP CONSTRAINT k{n}"]),
        }[kind]
        if kind == "table":
            tables.append(f"t{n}")
        if index == broken:
            undo = undo[:-1] or ["pass"]
        revision = f"{n:02d}_{rnd.getrandbits(48):012x}"
        write_revision(root / "migrations" / "versions", f"{revision}_{kind}_{n}.py", revision,
                       down, upgrade="\n".join(f"op.execute({s!r})" for s in up),
                       downgrade="\n".join(s if s == "pass" else f"op.execute({s!r})"
                                           for s in undo))
        ids.append(revision)
        down = revision
    return ids, ids[broken + 2]


@pytest.mark.parametrize("seed", [1, 3, 6, 8, 9])  # broken: table, column, check, enum, index
def test_a_generated_history_names_only_its_broken_revision(
        alembic_project: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(alembic_project)
    ids, broken = generated_history(alembic_project, seed)
    run = roundtrip()
    assert run.code == 1
    assert {f["revision"] for f in run.json()["findings"]} == {broken}
    assert {f["rule"] for f in run.json()["findings"]} == {LEAVES}
    assert statuses(run) == {**dict.fromkeys(ids, "passed"), broken: "failed"}


@pytest.mark.parametrize(("rename", "back"), [
    ('op.rename_table("CollectionCanonical", "Collection", schema="persistence_schema")',
     'op.rename_table("Collection", "CollectionCanonical", schema="persistence_schema")'),
    ('op.execute("ALTER TYPE persistence_schema.collectionvisibility RENAME TO visibility")',
     'op.execute("ALTER TYPE persistence_schema.visibility RENAME TO collectionvisibility")'),
], ids=["a table foreign keys point at", "an enum type columns use"])
def test_renaming_what_others_name_is_followed_to_them(project: Path, rename: str,
                                                       back: str) -> None:
    """A rename changes how other tables read (their foreign keys, their column types); the
    round trip re-reads them, so a later revision touching one of them is not a false alarm."""
    add_revision(project, "rename_a_shared_object", rename, back)
    add_revision(project, "touch_collection_version",
                 'op.add_column("CollectionVersion", sa.Column("note", sa.Text()), '
                 'schema="persistence_schema")',
                 'op.drop_column("CollectionVersion", "note", schema="persistence_schema")')
    run = roundtrip()
    assert run.code == 0, run.out
    assert [r["status"] for r in run.json()["revisions"]] == ["passed"] * 16


def test_rows_are_followed_through_a_table_rename(project: Path) -> None:
    """The fixture's link rows are renamed with their table (and written to on the way), grow
    a column, then get an index while another table's rows change: no revision is blamed for
    rows it did not touch, although each downgrade renamed the table back in its savepoint."""
    schema = 'schema="persistence_schema"'
    touch = """op.execute('UPDATE persistence_schema."{}" SET artifact_id = artifact_id')"""
    add_revision(project, "rename_links",
                 f'op.rename_table("DatasetVersionToArtifact", "Link", {schema})\n'
                 + touch.format("Link"),
                 touch.format("Link") + "\n"
                 f'op.rename_table("Link", "DatasetVersionToArtifact", {schema})')
    add_revision(project, "add_link_note",
                 f'op.add_column("Link", sa.Column("note", sa.Text()), {schema})',
                 f'op.drop_column("Link", "note", {schema})')
    owners = r"""op.execute("UPDATE persistence_schema.\"CollectionVersion\" SET owner = {}")"""
    add_revision(project, "index_link_note",
                 f'op.create_index("ix_note", "Link", ["note"], {schema})\n'
                 + owners.format("owner || '!'"),
                 owners.format("rtrim(owner, '!')") + "\n"
                 f'op.drop_index("ix_note", table_name="Link", {schema})')
    run = roundtrip()
    assert run.code == 0, run.out
    assert [r["status"] for r in run.json()["revisions"]] == ["passed"] * 17


def test_rows_written_after_a_commit_are_read_again(
        alembic_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server counts a table's writes per transaction, from zero again once its statistics
    are flushed after a commit (at most once a second; forced here). After the round trip
    commits, an update counting as many rows as the last digest saw is still a change: a later
    revision that reshapes the table is not blamed for it."""
    monkeypatch.chdir(alembic_project)
    monkeypatch.setattr("ci.roundtrip.engine.COMMIT_EVERY", 1)
    versions = alembic_project / "migrations" / "versions"
    write_revision(versions, "03_cccccccccccc_seed.py", "03_cccccccccccc", "02_bbbbbbbbbbbb",
                   upgrade="op.execute(\"INSERT INTO things VALUES (1, 'a'), (2, 'b'), "
                           "(3, 'c')\")\nop.execute('SELECT pg_stat_force_next_flush()')",
                   downgrade='op.execute("DELETE FROM things")')
    write_revision(versions, "04_dddddddddddd_shift.py", "04_dddddddddddd", "03_cccccccccccc",
                   upgrade='op.execute("UPDATE things SET id = id + 10")',
                   downgrade='op.execute("UPDATE things SET id = id - 10")')
    write_revision(versions, "05_eeeeeeeeeeee_note.py", "05_eeeeeeeeeeee", "04_dddddddddddd",
                   upgrade='op.add_column("things", sa.Column("note", sa.Text))',
                   downgrade='op.drop_column("things", "note")')
    run = roundtrip()
    assert run.code == 0, run.out
    assert set(statuses(run).values()) == {"passed"}


# -- two workers: a forked child checks the first part on a database of its own -------------

two_cpus = pytest.mark.skipif(not available(), reason="a second worker needs Linux, 2 CPUs")


@pytest.fixture
def small_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split histories of a dozen revisions, as dbci splits long ones."""
    monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)


def one_worker(root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.dbci]\nroundtrip_workers = 1\n")


@two_cpus
@pytest.mark.parametrize("seed", [1, 7, 6])  # broken: in the first part, its last, the second
def test_two_workers_find_what_one_finds(alembic_project: Path, seed: int, small_split: None,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(alembic_project)
    generated_history(alembic_project, seed, count=12)
    before = set(scratch_databases(prefix="dbci_"))
    two = roundtrip()
    assert set(scratch_databases(prefix="dbci_")) == before  # the child's is dropped too
    one_worker(alembic_project)
    one = roundtrip()
    assert (two.code, found(two), statuses(two)) == (one.code, found(one), statuses(one))
    assert list(statuses(two)) == list(statuses(one))  # in the history's order


@two_cpus
def test_an_upgrade_failing_in_the_first_part_stops_both_workers(
        alembic_project: Path, small_split: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(alembic_project)
    ids, _ = generated_history(alembic_project, 1, count=12)
    failing = ids[3]
    path = next((alembic_project / "migrations" / "versions").glob(f"{failing}_*.py"))
    header = "def upgrade() -> None:\n"
    path.write_text(path.read_text().replace(header, header + "    op.execute('SELECT 1/0')\n"))
    run = roundtrip()
    assert run.code == 1
    assert {(f["rule"], f["revision"]) for f in run.json()["findings"]} == {
        (UPGRADE_FAILS.id, failing)}
    assert list(statuses(run).values()) == ["passed"] * 3 + ["failed"] + ["not run"] * 10
    assert run.json()["reached_head"] is False


@two_cpus
@pytest.mark.parametrize("refused", [0, 1], ids=["the-second-workers", "the-first-processes"])
def test_a_scratch_database_that_cannot_be_made_drops_the_other_and_starts_no_worker(
        alembic_project: Path, small_split: None, forks: list[int], refused: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both scratch databases are made at once, before the second worker starts; should either
    fail, the other is dropped and no worker starts: one line, exit 3, nothing left."""
    monkeypatch.chdir(alembic_project)
    generated_history(alembic_project, 1, count=12)
    real, asked = targets.scratch, []

    @contextlib.contextmanager
    def cannot() -> Iterator[targets.Target]:
        raise OutsideFailure("cannot create a scratch database on the test's server: no")
        yield  # pragma: no cover

    def scratch(config: Config, lend: bool) -> contextlib.AbstractContextManager[targets.Target]:
        asked.append(lend)
        return cannot() if len(asked) == refused + 1 else real(config, lend)

    monkeypatch.setattr(targets, "scratch", scratch)
    before = set(scratch_databases(prefix="dbci_"))
    run = roundtrip()
    assert run.code == EXIT_OUTSIDE
    assert run.err.strip().splitlines()[-1].endswith("the test's server: no")
    assert set(scratch_databases(prefix="dbci_")) == before
    assert forks == [] and asked == [False, False]  # neither may be lent the other's


def test_an_interrupt_while_the_scratch_databases_are_made_drops_them(
        alembic_project: Path) -> None:
    """Ctrl-C while the threads make the databases: they are made, then dropped, and the
    interrupt goes on; no thread is left."""
    config = Config.load(str(alembic_project / "alembic.ini"))
    before, threads = set(scratch_databases(prefix="dbci_")), threading.active_count()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), workers._at_once(
            [targets.scratch(config), targets.scratch(config)], meanwhile=interrupted):
        pytest.fail("the block ran")
    assert set(scratch_databases(prefix="dbci_")) == before
    assert threading.active_count() == threads


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many revisions each second worker the round trips started was given."""
    started: list[int] = []
    real = workers.in_fork

    def in_fork(work: Any) -> Any:
        started.append(len(work.args[3]))  # _first_part's ``checked``
        return real(work)

    monkeypatch.setattr(workers, "in_fork", in_fork)
    return started


@two_cpus
def test_a_role_that_may_create_databases_gets_two_workers_on_its_own_server(
        alembic_project: Path, small_split: None, make_role: Callable[..., str],
        forks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """On a server given by URL where the role has CREATEDB (as the catalog says, so both
    workers make their databases at once), the round trip splits as on the embedded server."""
    monkeypatch.chdir(alembic_project)
    generated_history(alembic_project, 7, count=12)
    url = make_role("CREATEDB")
    two = dbci("--json", "--database-url", url, "roundtrip")
    assert len(forks) == 1 and forks[0] > 0
    one_worker(alembic_project)
    one = dbci("--json", "--database-url", url, "roundtrip")
    assert (two.code, found(two), statuses(two)) == (one.code, found(one), statuses(one))


@two_cpus
def test_a_lent_database_gets_one_worker(alembic_project: Path, small_split: None, lent: str,
                                         forks: list[int],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A role that may not create databases is lent one: there is no second to be had."""
    monkeypatch.chdir(alembic_project)
    generated_history(alembic_project, 1, count=12)
    run = dbci("--json", "--database-url", lent, "roundtrip")
    assert run.json()["reached_head"] and "not run" not in statuses(run).values()
    assert forks == []


@pytest.mark.parametrize("how", ["in-the-second-worker", "made-beside-another"])
def test_a_second_worker_is_never_lent_a_database(lent: str, how: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Lent the database its parent holds (or the one made beside it holds), it would wait for
    it forever: it fails instead."""
    if how == "in-the-second-worker":
        monkeypatch.setattr(scratch, "_LENDING", False)
    with pytest.raises(OutsideFailure, match="cannot create a scratch database"), \
            scratch.scratch_database(lent, lend=how == "in-the-second-worker"):
        pass


def test_an_env_py_whose_own_database_is_unreachable_is_named(alembic_project: Path) -> None:
    """env.py that connects somewhere of its own, which is down: env.py's failure (exit 2,
    naming it), not dbci's scratch server lost (exit 3)."""
    env_py = alembic_project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "config.get_section(config.config_ini_section, {})",
        '{"sqlalchemy.url": "postgresql+psycopg2://app@127.0.0.1:1/app"}'))
    run = dbci("--config", str(alembic_project / "alembic.ini"), "roundtrip")
    assert run.code == 2 and run.err.count("\n") == 1, run.err
    assert "env.py: env.py failed: OperationalError" in run.err, run.err

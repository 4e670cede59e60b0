"""Real histories, as other teams wrote them: branches and merges, cookbook and pytest-alembic
env.py files, one transaction per migration, revisions that commit, Alembic's own file names,
renamed tables on PostgreSQL 18, and the hints each finding gives.

The projects live in ``tests/fixtures/<case>/``, each a small Alembic project of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    Run,
    add_revision,
    commit_all,
    dbci,
    edit_file,
    edit_revision,
    empty_history,
    fixture_project,
    git,
    revision_path,
    set_dbci,
    write_revision,
)

from ci.roundtrip.fork import available


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """``case(name)``: a copy of a fixture project, as the working directory."""

    def copy(name: str) -> Path:
        path = fixture_project(name, tmp_path)
        monkeypatch.chdir(path)
        return path

    yield copy


def statuses(run: Run) -> dict[str, str]:
    return {r["revision"]: r["status"] for r in run.json()["revisions"]}


# -- branches and merges ----------------------------------------------------------------------

MERGES = ["aaaaaaaaaaa1", "bbbbbbbbbbb2", "ccccccccccc3", "ddddddddddd4", "eeeeeeeeeee5",
          "fffffffffff6", "777777777777", "888888888888"]


@pytest.mark.db
def test_a_history_with_two_merges_is_round_tripped_whole(case: object) -> None:
    case("merges")  # type: ignore[operator]
    run = dbci("--json", "roundtrip")
    assert run.code == 1
    assert set(statuses(run)) == set(MERGES)
    assert statuses(run)["fffffffffff6"] == "failed"
    assert [(f["rule"], f["revision"], f["object"]) for f in run.json()["findings"]] == [
        ("downgrade-leaves-objects", "fffffffffff6", "public.orders.total")]
    order = list(statuses(run))
    for merge, parents in (("ddddddddddd4", ("bbbbbbbbbbb2", "ccccccccccc3")),
                           ("777777777777", ("eeeeeeeeeee5", "fffffffffff6"))):
        assert all(order.index(p) < order.index(merge) for p in parents)


@pytest.mark.db
def test_from_to_and_shards_work_on_a_merged_history(case: object) -> None:
    case("merges")  # type: ignore[operator]
    up_to_merge = dbci("--json", "roundtrip", "--to", "ddddddddddd4")
    assert up_to_merge.code == 0
    assert set(statuses(up_to_merge)) == {"aaaaaaaaaaa1", "bbbbbbbbbbb2", "ccccccccccc3",
                                          "ddddddddddd4"}
    shards = [dbci("--json", "roundtrip", "--shard", f"{k}/3") for k in (1, 2, 3)]
    seen = [rev for shard in shards for rev in statuses(shard)]
    assert sorted(seen) == sorted(MERGES)
    assert [s.code for s in shards].count(1) == 1  # only the shard holding fffffffffff6 fails


@pytest.mark.db
def test_an_empty_history_round_trips_with_a_note(project: Path) -> None:
    empty_history(project)
    run = dbci("roundtrip")
    assert (run.code, run.out) == (0, "roundtrip: no revisions to check\n")


# -- PostgreSQL 18's NOT NULL names: the same verdict on every major ----------------------------


@pytest.mark.db
def test_a_renamed_table_dropped_and_made_again_passes_on_this_server(case: object) -> None:
    """The same verdict on each major: `.ci/run` runs this on the embedded 18, and again on the
    machine's PostgreSQL 15 (make test-pg) where it has one."""
    case("renamed_table")  # type: ignore[operator]
    run = dbci("--json", "roundtrip")
    assert run.code == 0, run.out
    assert set(statuses(run).values()) == {"passed"}


@pytest.mark.db
def test_a_primary_key_name_a_downgrade_gets_wrong_is_still_found(case: object) -> None:
    project = case("renamed_table")  # type: ignore[operator]
    edit_file(project / "migrations" / "versions" / "ccccccccccc3_drop_collection.py",
              'name="dataset_pkey"', 'name="collection_pkey"')
    run = dbci("--json", "roundtrip")
    assert run.code == 1
    assert {f["object"] for f in run.json()["findings"]} >= {"public.collection.dataset_pkey"}


# -- env.py written for the cookbook or pytest-alembic, one transaction per migration ----------


@pytest.mark.db
def test_a_cookbook_env_py_runs_unchanged(case: object) -> None:
    case("cookbook_env")  # type: ignore[operator]
    assert dbci("roundtrip").code == 0
    drift = dbci("drift")
    assert drift.code == 0 and "agree" in drift.out


@pytest.mark.db
def test_one_transaction_per_migration_with_a_concurrent_index(case: object) -> None:
    project = case("per_migration")  # type: ignore[operator]
    run = dbci("--json", "roundtrip")
    assert run.code == 0, run.out
    assert set(statuses(run).values()) == {"passed"}
    edit_file(project / "migrations" / "versions" / "bbbbbbbbbbb2_add_kind_with_index.py",
              '    op.drop_index("ix_events_created_at", table_name="events",\n'
              '                      postgresql_concurrently=True)', "    pass")
    broken = dbci("--json", "roundtrip")
    assert broken.code == 1
    assert [(f["revision"], f["object"]) for f in broken.json()["findings"]] == [
        ("bbbbbbbbbbb2", "public.ix_events_created_at")]


CONCURRENT = ('op.execute("COMMIT")\nop.execute("CREATE INDEX CONCURRENTLY ix_note ON '
              'persistence_schema.\\"CollectionCanonical\\" (id)")')


@pytest.mark.db
@pytest.mark.parametrize("split", [False, True], ids=["one worker", "upgraded unchecked"])
def test_a_revision_that_commits_before_a_concurrent_index(
        project: Path, split: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if split:  # the second worker checks it; this process upgrades through it, checks the next
        if not available():
            pytest.skip("a second worker needs Linux, 2 CPUs")
        monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)
        monkeypatch.setattr("ci.roundtrip.workers.FIRST_SHARE", 0.95)  # 15 of 16
    revision = add_revision(project, "index_concurrently", CONCURRENT,
                            'op.execute("DROP INDEX persistence_schema.ix_note")')
    add_revision(project, "after_it", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    run = dbci("--json", "roundtrip")
    assert run.code == 0, run.out
    assert statuses(run)[revision] == "passed"
    edit_file(revision_path(project, "15"), 'op.execute("DROP INDEX persistence_schema.ix_note")',
              "pass")
    broken = dbci("--json", "roundtrip")
    assert [(f["revision"], f["object"]) for f in broken.json()["findings"]] == [
        (revision, "persistence_schema.ix_note")]


@pytest.mark.db
def test_an_assert_in_the_machinery_is_dbcis_failure_not_the_revisions(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_revision(project, "concurrent", "with op.get_context().autocommit_block():\n    pass")

    @contextlib.contextmanager
    def broken_block(self: object) -> Iterator[None]:
        assert self is None, "machinery"  # stands for an invariant of Alembic's or dbci's
        yield

    from alembic.runtime.migration import MigrationContext

    monkeypatch.setattr(MigrationContext, "autocommit_block", broken_block)
    run = dbci("roundtrip")
    assert run.code == 3
    assert "internal error (AssertionError: machinery); this is a bug in dbci" in run.err
    assert "upgrade-fails" not in run.out


# -- file names Alembic writes; numbers in file names; Alembic's file_template ------------------


def test_alembic_written_names_and_its_file_template_are_accepted(case: object) -> None:
    case("alembic_names")  # type: ignore[operator]
    run = dbci("--json", "lint")
    assert {f["rule"] for f in run.json()["findings"]} == {"branch-point", "merge-revision"}


def test_first_revision_exempts_old_branches_and_merges(case: object) -> None:
    project = case("alembic_names")  # type: ignore[operator]
    (project / "pyproject.toml").write_text('[tool.dbci]\nfirst_revision = "eeeeeeeeeee5"\n')
    assert dbci("lint").code == 0


def test_first_revision_keeps_the_rules_that_break_alembic(project: Path) -> None:
    set_dbci(project, 'first_revision = "10_c3c048b4469e"')
    write_revision(project / "database" / "versions", "15_0123456789ab_second_head.py",
                   "15_0123456789ab", "05_5a3c600990c9")
    rules = dbci("--json", "lint").rules()
    assert "multiple-heads" in rules  # the history must still build
    assert "branch-point" not in rules  # 05 is before first_revision: its branches are history


@pytest.fixture
def numbered_files(alembic_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bare hex ids, numbers in the file names only."""
    monkeypatch.chdir(alembic_project)
    (alembic_project / "pyproject.toml").write_text(
        '[tool.dbci]\nrevision_format = "{id}"\nfile_format = "{number}_{id}_{slug}.py"\n'
        "number_width = 3\n")
    versions = alembic_project / "migrations" / "versions"
    for path in versions.glob("*.py"):
        path.unlink()
    write_revision(versions, "050_aaaaaaaaaaaa_a.py", "aaaaaaaaaaaa", None)
    return versions


def test_numbers_in_file_names_are_checked_with_bare_hex_ids(numbered_files: Path) -> None:
    # 050, then 051 twice along the line, then 0060 written four digits wide
    write_revision(numbered_files, "051_bbbbbbbbbbbb_b.py", "bbbbbbbbbbbb", "aaaaaaaaaaaa")
    write_revision(numbered_files, "051_cccccccccccc_c.py", "cccccccccccc", "bbbbbbbbbbbb")
    write_revision(numbered_files, "0060_dddddddddddd_d.py", "dddddddddddd", "cccccccccccc")
    found = dbci("--json", "lint").json()["findings"]
    findings = {(f["rule"], Path(f["file"]).name) for f in found}
    assert ("duplicate-number", "051_bbbbbbbbbbbb_b.py") in findings
    assert ("duplicate-number", "051_cccccccccccc_c.py") in findings
    assert ("revision-number", "0060_dddddddddddd_d.py") in findings


def test_a_history_in_alembics_own_style_is_told_once_how_to_adopt(alembic_project: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    monkeypatch.chdir(alembic_project)
    versions = alembic_project / "migrations" / "versions"
    for path in versions.glob("*.py"):
        path.unlink()
    for number, (rev, down) in enumerate([("a1a1a1a1a1a1", None), ("b2b2b2b2b2b2", "a1a1a1a1a1a1"),
                                          ("c3c3c3c3c3c3", "b2b2b2b2b2b2")]):
        write_revision(versions, f"{rev}_step_{number}.py", rev, down)
    (finding,) = dbci("--json", "lint").json()["findings"]
    assert finding["rule"] == "adopt-naming-scheme"
    assert 'revision_format = "{id}"' in finding["hint"]
    assert 'exempt_through = "c3c3c3c3c3c3"' in finding["hint"]


# -- hints that fit --------------------------------------------------------------------------


@pytest.mark.db
def test_a_dropped_index_the_downgrade_does_not_recreate_says_recreate(project: Path) -> None:
    revision = add_revision(project, "drop_gin", 'op.drop_index("ix_DatasetVersion_metadata", '
                            'table_name="DatasetVersion", schema="persistence_schema")', "pass")
    (finding,) = dbci("--json", "roundtrip").json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("downgrade-drops-objects", revision)
    assert finding["hint"].startswith("recreate in downgrade() the index "
                                      "persistence_schema.ix_DatasetVersion_metadata")


@pytest.mark.db
def test_a_downgrade_that_drops_too_much_says_so(project: Path) -> None:
    add_revision(project, "add_note", 'op.add_column("CollectionCanonical", sa.Column("note", '
                 'sa.Text), schema="persistence_schema")',
                 'op.drop_column("CollectionCanonical", "note", schema="persistence_schema")\n'
                 'op.drop_index("ix_CollectionVersion_collection_id", '
                 'table_name="CollectionVersion", schema="persistence_schema")')
    (finding,) = dbci("--json", "roundtrip").json()["findings"]
    assert (finding["rule"], finding["object"]) == (
        "downgrade-drops-objects", "persistence_schema.ix_CollectionVersion_collection_id")
    assert finding["hint"] == "drop only what upgrade() created"


@pytest.mark.db
def test_postgresqls_hint_is_kept_in_the_message(project: Path) -> None:
    add_revision(project, "retype", 'op.alter_column("CollectionVersion", "schema_version", '
                 'type_=sa.Text, schema="persistence_schema")',
                 'op.alter_column("CollectionVersion", "schema_version", type_=sa.Integer, '
                 'schema="persistence_schema")')
    (finding,) = dbci("--json", "roundtrip").json()["findings"]
    assert finding["rule"] == "downgrade-fails"
    assert "(HINT: You might need to specify \"USING schema_version::integer\".)" in (
        finding["message"])


def test_a_file_that_disagrees_with_its_id_is_renamed_not_re_ided(project: Path) -> None:
    path = revision_path(project, "05")
    path.rename(path.with_name("05_0000000000aa_add_dataset_artifacts.py"))
    (finding,) = [f for f in dbci("--json", "lint").json()["findings"]
                  if f["rule"] == "revision-id"]
    assert finding["hint"].startswith("rename the file to 05_5a3c600990c9_add_dataset_artifacts"
                                      ".py (keep revision")


def test_a_first_revision_without_revises_is_fine_and_none_is_not_quoted(project: Path) -> None:
    first = revision_path(project, "01")
    edit_file(first, "Revises: \n", "")
    assert dbci("lint").code == 0
    edit_file(first, "Revision ID:", "Revises: 00_aaaaaaaaaaaa\nRevision ID:")
    (finding,) = dbci("--json", "lint").json()["findings"]
    assert finding["message"] == "docstring says '00_aaaaaaaaaaaa'; down_revision is None"


@pytest.mark.db
def test_summaries_count_in_good_english(project: Path) -> None:
    run = dbci("roundtrip", "--to", "01_2d1455f47d8e")
    assert run.out.startswith("roundtrip: 1 revision: 1 passed in ")


def test_missing_downgrade_says_what_it_saw(project: Path) -> None:
    add_revision(project, "reads_only", 'op.get_bind().execute(sa.text("SELECT 1"))', "pass")
    (finding,) = dbci("--json", "lint").json()["findings"]
    assert finding["rule"] == "missing-downgrade"
    assert finding["message"].endswith("downgrade() does nothing, while upgrade() calls "
                                       "op.get_bind().execute, op.get_bind, sa.text")


@pytest.mark.db
def test_missing_downgrade_trusts_what_the_upgrade_ran_against_the_base(git_project: Path) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "reads_only", 'op.get_bind().execute(sa.text("SELECT 1"))', "pass")
    add_revision(git_project, "writes", 'op.execute("UPDATE persistence_schema.'
                 '\\"CollectionVersion\\" SET name = name")', "pass")
    commit_all(git_project, "two")
    findings = dbci("--json", "lint", "--base", "main").json()["findings"]
    assert [(f["rule"], Path(f["file"]).name.split("_", 2)[2]) for f in findings] == [
        ("missing-downgrade", "writes.py")]


def test_a_marker_added_to_a_deployed_revision_is_not_an_edit(git_project: Path) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    edit_revision(git_project, "07", "def downgrade() -> None:",
                  "# dbci: allow downgrade-changes-rows -- rows of 2019 are gone anyway\n"
                  "def downgrade() -> None:")
    assert dbci("lint", "--base", "main").code == 0
    edit_revision(git_project, "07", "# dbci: allow", "# changed\n# dbci: allow")
    assert "edited-deployed-revision" in dbci("--json", "lint", "--base", "main").rules()

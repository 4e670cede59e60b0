"""``dbci check``: every check in one run, one markdown report, also in $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import (
    HEAD,
    add_revision,
    commit_all,
    dbci,
    edit_orm,
    edit_revision,
    git,
    revision_path,
    set_dbci,
    workflow_commands,
    write_revision,
)

from ci.about import absolute
from ci.roundtrip.fork import available

pytestmark = pytest.mark.db

CHECKS = ["lint", "roundtrip", "drift", "diff", "seed"]


def rows(markdown: str) -> dict[str, str]:
    """check -> its result cell, from the report's table."""
    cells = [line.split(" | ") for line in markdown.splitlines() if line.startswith("| ")]
    return {c[0].removeprefix("| "): c[1] for c in cells[1:]}


def test_the_reference_project_passes_every_check(project: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = dbci("check")
    assert (run.code, run.err) == (0, "")
    assert run.out.startswith("## dbci check: ✅ all checks pass\n")
    assert rows(run.out) == dict.fromkeys(CHECKS, "✅ pass")
    assert "14 revisions: 14 passed" in run.out
    assert "over an empty database" in run.out and "```sql" in run.out
    assert summary.read_text() == "earlier step\n" + run.out


def test_json_lists_the_checks(project: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = dbci("--json", "check")
    assert run.code == 0
    doc = run.json()
    assert doc["ok"] is True and doc["findings"] == []
    assert [(c["check"], c["ok"]) for c in doc["checks"]] == [(c, True) for c in CHECKS]
    assert doc["base"] is None and doc["sql"]
    assert summary.read_text().startswith("## dbci check: ✅ all checks pass\n")


def test_a_broken_downgrade_fails_the_report_and_names_the_revision(project: Path) -> None:
    edit_revision(project, "07", '    op.drop_column("CollectionVersion", "published_at", '
                  'schema="persistence_schema")\n', "")
    path = revision_path(project, "07").relative_to(project)
    run = dbci("--github", "check")
    assert run.code == 1
    assert run.out.startswith("## dbci check: ❌ 1 problem\n")
    assert rows(run.out) == {"lint": "✅ pass", "roundtrip": "❌ fail", "drift": "✅ pass",
                             "diff": "✅ pass", "seed": "✅ pass"}
    assert "1 failed (07_2e805208407e)" in run.out
    doc = absolute("docs/rules.md#downgrade-leaves-objects")
    assert f"- **roundtrip/[downgrade-leaves-objects]({doc})** `{path}:" in run.out
    assert "persistence_schema.CollectionVersion.published_at" in run.out
    assert f"::error file={path},line=" in run.err and not workflow_commands(run.out)
    doc = dbci("--json", "check").json()
    assert doc["ok"] is False
    assert [(f["check"], f["revision"]) for f in doc["findings"]] == [
        ("roundtrip", "07_2e805208407e")]


def test_drift_fails_the_report(project: Path) -> None:
    edit_orm(project, "    schema_version: Mapped[str | None] = mapped_column(sa.String(16))\n", "")
    run = dbci("check")
    assert run.code == 1
    assert rows(run.out)["drift"] == "❌ fail"
    assert "persistence_schema.CollectionVersion.schema_version" in run.out


def test_a_failed_upgrade_skips_drift_and_diff(project: Path) -> None:
    add_revision(project, "broken", 'op.execute("ALTER TABLE nowhere ADD COLUMN x int")',
                 'op.execute("SELECT 1")')
    run = dbci("--json", "check")
    assert run.code == 1
    checks = {c["check"]: (c["ok"], c["summary"]) for c in run.json()["checks"]}
    assert checks["roundtrip"][0] is False
    assert checks["drift"] == checks["diff"] == (None, "not run: the upgrade to head failed")
    assert {f["rule"] for f in run.json()["findings"]} == {"upgrade-fails"}


def test_two_heads_fail_lint_and_every_revision_is_still_round_tripped(project: Path) -> None:
    folder = project / "database" / "versions"
    write_revision(folder, "15_0123456789ab_second_head.py", "15_0123456789ab",
                   "13_77685f96deb5", message="second head")
    run = dbci("check")
    assert run.code == 1
    assert rows(run.out) == {"lint": "❌ fail", "roundtrip": "✅ pass", "drift": "✅ pass",
                             "diff": "✅ pass", "seed": "✅ pass"}
    assert "15 revisions: 15 passed" in run.out and "multiple-heads" in run.out


def test_a_broken_history_runs_lint_only(project: Path) -> None:
    folder = project / "database" / "versions"
    write_revision(folder, "15_0123456789ab_lost_parent.py", "15_0123456789ab",
                   "13_ffffffffffff", message="lost parent")
    run = dbci("check")
    assert run.code == 1
    assert rows(run.out) == {"lint": "❌ fail", "roundtrip": "⏭️ skipped",
                             "drift": "⏭️ skipped", "diff": "⏭️ skipped", "seed": "⏭️ skipped"}
    assert "the history is broken" in run.out and "unknown-down-revision" in run.out


def test_a_branch_report_diffs_over_its_base_and_graphs_its_revisions(git_project: Path) -> None:
    git(git_project, "checkout", "-q", "-b", "feature")
    revision = add_revision(git_project, "create_dataset_link", 'op.create_table("DatasetLink", '
                            'sa.Column("id", sa.Integer, primary_key=True), '
                            'schema="persistence_schema")',
                            'op.drop_table("DatasetLink", schema="persistence_schema")')
    commit_all(git_project, "add DatasetLink")
    # The ORM does not declare the table: drift fails; everything else passes.
    run = dbci("check")
    assert run.code == 1
    assert rows(run.out) == {"lint": "✅ pass", "roundtrip": "✅ pass", "impact": "✅ pass",
                             "release": "✅ pass", "drift": "❌ fail", "diff": "✅ pass",
                             "seed": "✅ pass"}
    assert "over `main`" in run.out
    assert 'create table "persistence_schema"."DatasetLink"' in run.out
    assert "```mermaid" in run.out
    assert f'base["{HEAD} (main head)"]' in run.out
    assert f'base --> r0["{revision}<br/>create dataset link"]' in run.out


# -- --base: each revision runs once, and the results are those of the separate commands

COUNT = ('import os\nwith open(os.environ["DBCI_TEST_RUNS"], "a") as runs:\n'
         '    runs.write("{name}\\n")\n')
INDEXED = ('op.create_index("ix_owner", "CollectionVersion", ["owner"], '
           'schema="persistence_schema")')
UNINDEXED = 'op.drop_index("ix_owner", table_name="CollectionVersion", schema="persistence_schema")'


def counted_branch(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A base revision and a new one that count each run of their upgrade; the new one creates
    an index without CONCURRENTLY (squawk's finding)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("DBCI_TEST_RUNS", str(runs))
    add_revision(project, "counted_base", COUNT.format(name="base") + 'op.execute("SELECT 1")',
                 'op.execute("SELECT 1")')
    commit_all(project, "a counted revision")
    git(project, "checkout", "-q", "-b", "feature")
    add_revision(project, "index_owner", COUNT.format(name="new") + INDEXED, UNINDEXED)
    commit_all(project, "index owner")
    return runs


def without(doc: dict, *keys: str) -> dict:
    return {k: v for k, v in doc.items() if k not in keys}


def test_check_runs_each_revision_once_with_the_separate_commands_results(
        git_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = counted_branch(git_project, tmp_path, monkeypatch)
    doc = dbci("--json", "check", "--base", "main").json()
    assert runs.read_text().split() == ["base", "new"]  # the round trip's upgrades, once each
    runs.unlink()
    lint, diff = dbci("--json", "lint", "--base", "main"), dbci("--json", "diff", "--base", "main")
    assert sorted(runs.read_text().split()) == ["base", "base", "base", "new", "new"]
    assert [f for f in doc["findings"] if f["check"] == "lint"] == lint.json()["findings"]
    assert "require-concurrent-index-creation" in {f["rule"] for f in doc["findings"]}
    assert doc["sql"] == diff.json()["sql"] and any("ix_owner" in s for s in doc["sql"])


def test_an_edited_base_revision_builds_the_base_head_on_its_own(
        git_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = counted_branch(git_project, tmp_path, monkeypatch)
    edit_revision(git_project, "15", 'op.execute("SELECT 1")', 'op.execute("SELECT 2")')
    doc = dbci("--json", "check", "--base", "main").json()
    assert sorted(runs.read_text().split()) == ["base", "base", "new"]  # and the base, as it was
    assert doc["sql"] == dbci("--json", "diff", "--base", "main").json()["sql"]


def test_a_data_fixture_that_changes_the_schema_builds_the_base_head_on_its_own(
        git_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = counted_branch(git_project, tmp_path, monkeypatch)
    fixture = git_project / "database" / "roundtrip_data" / "05_5a3c600990c9.sql"
    fixture.write_text(fixture.read_text() + "\nCREATE TABLE public.fixture_only (id int);\n")
    doc = dbci("--json", "check", "--base", "main").json()
    assert sorted(runs.read_text().split()) == ["base", "base", "new"]
    # the round trip's head holds what the fixture made; the base head, built alone, does not
    assert any('create table "public"."fixture_only"' in s for s in doc["sql"])


def test_a_base_revision_importing_changed_project_code_builds_the_base_head_on_its_own(
        git_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (git_project / "shapes.py").write_text('COLUMN = "shape_a"\n')
    add_revision(git_project, "shaped", 'from shapes import COLUMN\n'
                 'op.add_column("CollectionVersion", sa.Column(COLUMN, sa.Integer), '
                 'schema="persistence_schema")',
                 'from shapes import COLUMN\nop.drop_column("CollectionVersion", COLUMN, '
                 'schema="persistence_schema")')
    commit_all(git_project, "a revision importing project code")
    git(git_project, "checkout", "-q", "-b", "feature")
    (git_project / "shapes.py").write_text('COLUMN = "shape_b"\n')
    commit_all(git_project, "project code changes")
    monkeypatch.syspath_prepend(str(git_project))
    doc = dbci("--json", "check", "--base", "main").json()
    assert doc["sql"] == dbci("--json", "diff", "--base", "main").json()["sql"]
    assert any("shape_b" in s for s in doc["sql"]) and any("shape_a" in s for s in doc["sql"])


@pytest.mark.skipif(not available(), reason="a second worker needs Linux, 2 CPUs")
def test_two_workers_report_what_one_reports(git_project: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The second worker checks every revision here; this process, upgrading through them
    unchecked, still captures the new revision's SQL for squawk and the base head's schema for
    the diff."""
    counted_branch(git_project, tmp_path, monkeypatch)
    monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)
    monkeypatch.setattr("ci.checks.pr_check.CHECK_SHARE", 1.0)
    two = dbci("--json", "check", "--base", "main").json()
    set_dbci(git_project, "roundtrip_workers = 1")
    one = dbci("--json", "check", "--base", "main").json()
    for doc in (one, two):
        for step in doc["checks"]:
            step["summary"] = re.sub(r" in [\d.]+s$", "", step["summary"])  # the time it took
    assert without(two, "seconds") == without(one, "seconds")
    assert any("ix_owner" in s for s in two["sql"])
    assert "require-concurrent-index-creation" in {f["rule"] for f in two["findings"]}


@pytest.mark.skipif(not available(), reason="a second worker needs Linux, 2 CPUs")
def test_drift_the_second_worker_saw_is_reported_as_one_worker_reports_it(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second worker builds the ORM's schema; where it differs from the migrations, drift
    builds it again for migra and Alembic, and reports what one worker reports."""
    edit_orm(project, "    schema_version: Mapped[str | None] = mapped_column(sa.String(16))\n", "")
    monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)
    two = dbci("--json", "check").json()
    set_dbci(project, "roundtrip_workers = 1")
    one = dbci("--json", "check").json()
    drifted = [f for f in two["findings"] if f["check"] == "drift"]
    assert drifted == [f for f in one["findings"] if f["check"] == "drift"]
    assert any(f.get("object") == "persistence_schema.CollectionVersion.schema_version"
               for f in drifted)
    assert drifted[0].get("detail", "").startswith("migra")


AUTOCOMMIT_INDEX = ('with op.get_context().autocommit_block():\n'
                    '    op.execute("CREATE INDEX CONCURRENTLY ix_note ON '
                    'persistence_schema.\\"CollectionCanonical\\" (id)")')


@pytest.mark.skipif(not available(), reason="a second worker needs Linux, 2 CPUs")
@pytest.mark.parametrize(("upgrade", "downgrade"), [
    ('op.execute("SELECT 1/0")', "pass"),  # fails in the second worker's part
    (AUTOCOMMIT_INDEX, 'op.execute("SELECT 1")'),  # cannot run again over what it left
], ids=["failing upgrade", "upgrade that cannot run again"])
def test_a_run_stopped_in_the_second_workers_part_reports_as_one_worker(
        git_project: Path, monkeypatch: pytest.MonkeyPatch, upgrade: str,
        downgrade: str) -> None:
    """The merged round trip decides: the failed upgrade's lint finding is kept, and drift and
    diff do not run on a head the round trip says it never reached."""
    add_revision(git_project, "base_x", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    commit_all(git_project, "base")
    git(git_project, "checkout", "-q", "-b", "feature")
    add_revision(git_project, "new_x", upgrade, downgrade)
    add_revision(git_project, "new_y", INDEXED, UNINDEXED)
    commit_all(git_project, "new")
    monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)
    monkeypatch.setattr("ci.checks.pr_check.CHECK_SHARE", 0.95)  # new_x is the worker's, new_y ours
    two = dbci("--json", "check", "--base", "main")
    set_dbci(git_project, "roundtrip_workers = 1")
    one = dbci("--json", "check", "--base", "main")
    docs = []
    for run in (one, two):
        doc = run.json()
        for step in doc["checks"]:
            step["summary"] = re.sub(r" in [\d.]+s$", "", step["summary"])
        docs.append((run.code, without(doc, "seconds")))
    assert docs[0] == docs[1]
    assert {s["check"]: s["ok"] for s in docs[1][1]["checks"]}["drift"] is None

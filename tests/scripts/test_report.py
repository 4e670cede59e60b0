"""``dbci report``: the ``check --json`` reports of every PostgreSQL version and shard, joined
into one report, one comment, one annotation per finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import dbci, run_sql, server, workflow_commands, write_revision

VERSIONS = ("14", "15", "16", "17", "18")
CHECKS = ("lint", "roundtrip", "drift", "diff", "seed")
#: The revisions each of two shards round-trips.
SHARDS = {1: ["01_aaaaaaaaaaaa", "02_bbbbbbbbbbbb"], 2: ["03_cccccccccccc"]}

LEAVES = {"check": "roundtrip", "rule": "downgrade-leaves-objects",
          "message": "the downgrade leaves persistence_schema.CollectionVersion.note behind",
          "revision": "03_cccccccccccc", "line": 12,
          "file": "database/versions/03_cccccccccccc_add_note.py"}
LOCKS = {"check": "lint", "rule": "adding-not-nullable-field",
         "message": "adding a NOT NULL column rewrites the table under an exclusive lock",
         "revision": "03_cccccccccccc", "line": 14,
         "file": "database/versions/03_cccccccccccc_add_note.py"}


def document(postgres: str | None, shard: int, *findings: dict[str, Any],
             of: int = 2) -> dict[str, Any]:
    """A report as ``dbci --json check --shard SHARD/OF`` on that server writes it."""
    failed = {f["check"] for f in findings}
    return {"ok": not findings, "findings": list(findings),
            "checks": [{"check": c, "ok": c not in failed, "summary": f"{c} summary"}
                       for c in CHECKS],
            "base": "origin/main", "sql": ["alter table x add column note text;"],
            "base_head": None, "added": [],
            "revisions": [{"revision": r, "status": "passed", "path": "fast", "note": ""}
                          for r in SHARDS.get(shard, [])],
            "seconds": 1.0, "shard": f"{shard}/{of}",
            **({"postgres": postgres} if postgres is not None else {})}


def write(reports: dict[str, dict[str, Any]]) -> list[str]:
    """Each document as ``reports/NAME/report.json``, as the workflow downloads them; the
    paths, as the shell's glob lists them."""
    for name, doc in reports.items():
        path = Path("reports") / name / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    return sorted(str(p) for p in Path("reports").glob("*/report.json"))


def every_version(*findings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Both shards of each version, ``findings`` in the second shard's report."""
    return {f"dbci-pg{v}-shard{k}": document(v, k, *(findings if k == 2 else ()))
            for v in VERSIONS for k in SHARDS}


def test_versions_that_agree_make_one_report_one_comment_one_annotation(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    files = write(every_version(LEAVES))
    run = dbci("--github", "report", "--comment", "comment.md", *files)
    assert run.code == 1, run.err
    assert run.out.startswith("## dbci check: ❌ 1 problem\n")
    assert "PostgreSQL 14, 15, 16, 17, 18 agree." in run.out and "Only on" not in run.out
    assert "3 revisions: 3 passed" in run.out and "(2 shards)" in run.out
    comment = Path("comment.md").read_text()
    for text in (run.out, comment, summary.read_text()):
        assert text.count("## dbci check") == 1
        assert text.count("**roundtrip/downgrade-leaves-objects**") == 1
    assert workflow_commands(run.err) == [
        "::error file=database/versions/03_cccccccccccc_add_note.py,line=12,"
        "title=dbci roundtrip%3A downgrade-leaves-objects::" + LEAVES["message"]]


def test_clean_versions_exit_0(project: Path) -> None:
    run = dbci("--json", "report", *write(every_version()))
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["ok"] is True and doc["findings"] == [] and "postgres" not in doc
    assert doc["versions"] == {v: {"ok": True, "agrees": True, "findings": [], "missing": [],
                                   "checks": []} for v in VERSIONS}
    assert len(doc["revisions"]) == 3 and doc["sql"] and doc["base"] == "origin/main"


def test_a_version_that_differs_gets_a_section(project: Path) -> None:
    reports = every_version(LEAVES)
    reports["dbci-pg14-shard2"] = document("14", 2, LEAVES, LOCKS)  # one more on 14
    reports["dbci-pg18-shard2"] = document("18", 2)  # and one fewer on 18
    files = write(reports)
    run = dbci("--github", "report", *files)
    assert run.code == 1, run.err
    assert run.out.startswith("## dbci check: ❌ 2 problems\n")
    assert ("PostgreSQL 15, 16, 17 agree on what follows; PostgreSQL 14, 18 differ (see below)."
            in run.out)
    fourteen = run.out.split("### Only on PostgreSQL 14\n", 1)[1].split("###", 1)[0]
    assert "**lint/adding-not-nullable-field**" in fourteen and "roundtrip/" not in fourteen
    assert "- lint: ❌ fail (✅ pass on PostgreSQL 15, 16, 17)" in fourteen
    eighteen = run.out.split("### Only on PostgreSQL 18\n", 1)[1]
    assert "- not found here: **roundtrip/downgrade-leaves-objects**" in eighteen
    assert "- roundtrip: ✅ pass (❌ fail on PostgreSQL 15, 16, 17)" in eighteen
    assert len(workflow_commands(run.err)) == 2  # each distinct finding once

    doc = dbci("--json", "report", *files).json()
    assert doc["ok"] is False
    assert [f["rule"] for f in doc["findings"]] == [LEAVES["rule"], LOCKS["rule"]]
    assert doc["versions"]["15"] == {"ok": False, "agrees": True, "findings": [],
                                     "missing": [], "checks": []}
    assert doc["versions"]["14"] == {"ok": False, "agrees": False, "findings": [LOCKS],
                                     "missing": [], "checks": [{"check": "lint", "ok": False}]}
    assert doc["versions"]["18"] == {"ok": True, "agrees": False, "findings": [],
                                     "missing": [LEAVES],
                                     "checks": [{"check": "roundtrip", "ok": True}]}


def test_reports_that_record_no_version_join_as_before(project: Path) -> None:
    run = dbci("report", *write({f"shard{k}": document(None, k) for k in SHARDS}))
    assert run.code == 0, run.err
    assert "On an unrecorded PostgreSQL version." in run.out


def test_a_shard_given_twice_is_refused(project: Path) -> None:
    files = write(every_version())
    run = dbci("report", *files, files[0])
    assert run.code == 2 and run.out == ""
    assert run.err == ("dbci report: PostgreSQL 14: shard 1/2 is given 2 times (reports/dbci-pg14-"
                       "shard1/report.json, reports/dbci-pg14-shard1/report.json); pass each "
                       "shard's report once\n")


def test_the_same_shard_in_two_files_is_refused(project: Path) -> None:
    reports = every_version()
    reports["dbci-pg16-shard3"] = document("16", 2)  # a second "2/2" on 16
    run = dbci("report", *write(reports))
    assert run.code == 2
    assert "PostgreSQL 16: shard 2/2 is given 2 times (reports/dbci-pg16-shard2/report.json, " \
           "reports/dbci-pg16-shard3/report.json)" in run.err


def test_mixed_shard_counts_are_refused(project: Path) -> None:
    reports = every_version()
    reports["dbci-pg17-shard2"] = document("17", 2, of=3)
    run = dbci("report", *write(reports))
    assert run.code == 2
    assert ("PostgreSQL 17: the reports split the history into different numbers of shards (of "
            "2: reports/dbci-pg17-shard1/report.json; of 3: reports/dbci-pg17-shard2/report.json)"
            in run.err)


def test_a_missing_shard_is_refused(project: Path) -> None:
    reports = every_version()
    del reports["dbci-pg16-shard2"]
    run = dbci("--json", "report", *write(reports))
    assert run.code == 2
    assert run.json()["error"].startswith(
        "PostgreSQL 16: the reports cover shards [1] of 2; missing [2]: their revisions were not "
        "checked")


# -- check --json records the server it ran on


def major() -> str:
    """The test server's major version, as ``SHOW server_version_num`` gives it."""
    return str(int(run_sql(server(), "SHOW server_version_num")[0][0]) // 10000)


@pytest.mark.db
def test_check_records_the_server_it_ran_on(project: Path) -> None:
    run = dbci("--json", "check")
    assert run.code == 0, run.err
    assert run.json()["postgres"] == major()


@pytest.mark.db
def test_a_check_of_a_broken_history_records_the_given_server(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_revision(project / "database" / "versions", "15_0123456789ab_lost_parent.py",
                   "15_0123456789ab", "13_ffffffffffff", message="lost parent")
    monkeypatch.setenv("DATABASE_URL", server())
    run = dbci("--json", "check")
    assert run.code == 1
    assert run.json()["postgres"] == major()

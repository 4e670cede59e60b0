"""Plan-bound deploys: `migrate --sql --plan-out` writes what an approver reads, `migrate --plan`
runs exactly that or changes nothing; stage reads are read-only sessions; a deploy's job summary
says where it went or where it stopped and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    HEAD,
    IDS,
    add_revision,
    dbci,
    revision_path,
    tables,
    version,
    workflow_commands,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ci.stages import targets
from ci.stages.plan import sha256

pytestmark = pytest.mark.db


def make_plan(tmp_path: Path, *flags: str) -> tuple[Path, dict]:
    path = tmp_path / "plan.json"
    run = dbci("migrate", "--stage", "dev", "--sql", "--plan-out", str(path), *flags)
    assert run.code == 0, run.err
    return path, json.loads(path.read_text())


def test_the_plan_names_explicit_revisions_the_files_and_the_sql(dev: str, tmp_path: Path,
                                                                  project: Path) -> None:
    dbci("migrate", "--stage", "dev", "--revision", IDS[9])
    path, doc = make_plan(tmp_path)
    assert (doc["stage"], doc["from"], doc["to"]) == ("dev", [IDS[9]], [HEAD])  # never "heads"
    assert [(s["revision"], s["direction"]) for s in doc["steps"]] == [
        (rev, "upgrade") for rev in IDS[10:]]
    for step in doc["steps"]:
        assert step["sha256"] == sha256((project / step["file"]).read_bytes())
    assert doc["env_sha256"] == sha256((project / "database" / "env.py").read_bytes())
    assert doc["sql_sha256"] == sha256(doc["sql"].encode())
    assert f"-- upgrade {IDS[10]}" in doc["sql"] and f"-- upgrade {IDS[9]}" not in doc["sql"]
    assert version(dev) == {IDS[9]}  # planning changed nothing


def test_applying_a_plan_runs_exactly_its_steps(dev: str, tmp_path: Path) -> None:
    dbci("migrate", "--stage", "dev", "--revision", IDS[9])
    path, doc = make_plan(tmp_path)
    run = dbci("--json", "migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 0, run.err
    assert [a["revision"] for a in run.json()["applied"]] == [s["revision"] for s in doc["steps"]]
    assert version(dev) == {HEAD}


def test_a_plan_for_a_downgrade_runs_the_downgrade_it_names(dev: str, tmp_path: Path) -> None:
    dbci("migrate", "--stage", "dev")
    path, doc = make_plan(tmp_path, "--revision", "-1", "--allow-downgrade")
    assert (doc["from"], doc["to"]) == ([HEAD], [IDS[-2]])
    run = dbci("--json", "migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 0, run.err
    assert version(dev) == {IDS[-2]}


def test_a_stage_that_moved_since_the_plan_is_refused(dev: str, tmp_path: Path) -> None:
    path, _ = make_plan(tmp_path)
    dbci("migrate", "--stage", "dev", "--revision", IDS[3])  # someone else migrated meanwhile
    run = dbci("--json", "migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "stage-plan-stale"
    assert f"the stage is at {IDS[3]}, the plan starts at base" in finding["message"]
    assert version(dev) == {IDS[3]}


def test_a_revision_file_changed_since_the_plan_is_refused(dev: str, tmp_path: Path,
                                                           project: Path) -> None:
    path, _ = make_plan(tmp_path)
    changed = revision_path(project, "05")
    changed.write_text(changed.read_text() + "\n# edited after the review\n")
    run = dbci("migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 1 and "[migrate/stage-plan-stale]" in run.out
    assert changed.relative_to(project).as_posix() in run.out
    assert tables(dev) == set() and version(dev) == set()  # not even connected to write


def test_a_revision_added_since_the_plan_does_not_run(dev: str, tmp_path: Path,
                                                      project: Path) -> None:
    path, _ = make_plan(tmp_path)
    added = add_revision(project, "later", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    run = dbci("--json", "migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 0, run.err
    assert version(dev) == {HEAD} and added not in [a["revision"] for a in
                                                    run.json()["applied"]]


def test_a_plan_for_another_stage_is_refused(dev: str, tmp_path: Path) -> None:
    path, doc = make_plan(tmp_path)
    path.write_text(json.dumps({**doc, "stage": "prod"}))
    run = dbci("migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 1 and "it was made for stage prod" in run.out
    assert version(dev) == set()


@pytest.mark.parametrize("damage", [
    lambda doc: "not json at all",
    lambda doc: json.dumps({k: v for k, v in doc.items() if k != "to"}),
    lambda doc: json.dumps({**doc, "sql": doc["sql"] + "DROP TABLE users;\n"}),
    lambda doc: json.dumps({**doc, "dbci_plan": 2}),
    lambda doc: json.dumps({**doc, "steps": [{**doc["steps"][0], "sha256": "x"}]}),
], ids=["not-json", "no-to", "sql-edited", "other-format", "bad-sha"])
def test_a_malformed_plan_is_bad_input(dev: str, tmp_path: Path, damage) -> None:
    path, doc = make_plan(tmp_path)
    path.write_text(damage(doc))
    run = dbci("migrate", "--stage", "dev", "--plan", str(path))
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1, run.err
    assert "plan.json" in run.err and "Traceback" not in run.err
    assert version(dev) == set()


def test_plan_flags_that_do_not_go_together(dev: str, tmp_path: Path) -> None:
    for args in (["--plan-out", str(tmp_path / "p.json")],
                 ["--plan", str(tmp_path / "p.json"), "--revision", "-1"],
                 ["--sql", "--plan-out", str(tmp_path)]):
        run = dbci("migrate", "--stage", "dev", *args)
        assert run.code == 2, (args, run.err)
    assert not (tmp_path / "p.json").exists()


def test_a_read_only_session_refuses_writes(dev: str, project: Path) -> None:
    target = targets.Target(targets.Kind.STAGE, dev, stage="dev")
    with targets.connect(target, read_only=True) as connection:
        assert connection.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            connection.exec_driver_sql("CREATE TABLE written (id int)")
    assert tables(dev) == set()


def test_the_plan_and_status_read_the_stage_in_read_only_sessions(dev: str) -> None:
    seen = []

    @sa.event.listens_for(sa.Engine, "engine_connect")
    def watch(connection: sa.Connection) -> None:
        if connection.engine.url.database == make_url(dev).database:
            seen.append(connection.exec_driver_sql(
                "SHOW default_transaction_read_only").scalar())

    try:
        assert dbci("migrate", "--stage", "dev", "--sql").code == 0
        assert dbci("status", "--stage", "dev").code == 0
    finally:
        sa.event.remove(sa.Engine, "engine_connect", watch)
    assert seen and set(seen) == {"on"}


def test_status_fails_on_pending_only_when_asked(dev: str) -> None:
    dbci("migrate", "--stage", "dev", "--revision", IDS[-2])
    assert dbci("status", "--stage", "dev").code == 0
    pending = dbci("status", "--stage", "dev", "--fail-on-pending")
    assert pending.code == 1 and "1 revision pending" in pending.out
    doc = dbci("--json", "status", "--stage", "dev", "--fail-on-pending").json()
    assert doc["ok"] is False and doc["pending"] == [HEAD]
    assert [(f["rule"], f["stage"]) for f in doc["findings"]] == [
        ("stage-revisions-pending", "dev")]
    dbci("migrate", "--stage", "dev")
    assert dbci("status", "--stage", "dev", "--fail-on-pending").code == 0


def test_a_failed_deploy_says_in_the_summary_where_it_stopped(dev: str, project: Path,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    broken = add_revision(project, "broken",
                          'op.execute("ALTER TABLE nowhere ADD COLUMN x int")', "pass")
    run = dbci("--github", "migrate", "--stage", "dev")
    assert run.code == 1
    text = summary.read_text()
    assert text.startswith("## dbci migrate: ❌ stage dev\n")
    assert f"stage dev stopped at {HEAD}" in text
    assert f"revision {broken} failed on stage dev:" in text and "nowhere" in text
    assert "::error" in run.err and not workflow_commands(run.out)  # on stderr only


def test_a_deploy_that_could_not_run_says_so_in_the_summary(project: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = dbci("migrate", "--stage", "dev", "--database-url",
               "postgresql://app:pw@127.0.0.1:9/app")
    assert run.code == 3
    assert summary.read_text().startswith("## dbci migrate: ⚠️ could not run\n\n")
    assert "stage dev" in summary.read_text()


"""The workflows' own steps, run in order by a stand-in runner (no Actions runner and no Docker
here): pr-checks' check job on a real PR branch against a real PostgreSQL in place of the
service container, and migrate.yml against a moto-held secret and a real database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HEAD, add_revision, commit_all, git, run_sql, server
from emulate import run_job
from sqlalchemy.engine import make_url

from ci.database import create_engine

pytestmark = pytest.mark.db


@pytest.fixture
def pull_request(git_project: Path, tmp_path: Path) -> Path:
    """The reference project as GitHub's checkout has it: an origin holding main, and the PR's
    branch checked out."""
    origin = tmp_path / "origin.git"
    git(git_project, "clone", "-q", "--bare", str(git_project), str(origin))
    git(git_project, "remote", "add", "origin", str(origin))
    git(git_project, "fetch", "-q", "origin")
    git(git_project, "checkout", "-q", "-b", "feature")
    return git_project


def runner_files(tmp_path: Path) -> dict[str, str]:
    """The files a runner gives each job, and the variables naming them."""
    (tmp_path / "runner").mkdir(exist_ok=True)
    names = {"GITHUB_STEP_SUMMARY": "summary.md", "GITHUB_OUTPUT": "output.txt"}
    for name in names.values():
        (tmp_path / "runner" / name).write_text("")
    return {var: str(tmp_path / "runner" / name) for var, name in names.items()} | {
        "RUNNER_TEMP": str(tmp_path / "runner"), "CI": "true", "GITHUB_ACTIONS": "true"}


def check_job(project: Path, tmp_path: Path) -> tuple[list, dict[str, str]]:
    env = runner_files(tmp_path) | {"GITHUB_BASE_REF": "main", "GITHUB_EVENT_NAME":
                                    "pull_request", "GITHUB_WORKSPACE": str(project)}
    context = {"github": {"base_ref": "main", "event_name": "pull_request"},
               "matrix": {"postgres": "18", "shard": 1}, "vars": {},
               "runner": {"temp": env["RUNNER_TEMP"]}}
    # the service container: the test server stands in for postgres:18 on localhost:5432
    runs = run_job("pr-checks.yml", "check", context, env | {"DATABASE_URL": server()}, project)
    return runs, env


def test_the_pr_check_of_a_branch_whose_revision_leaves_a_column(pull_request: Path,
                                                                 tmp_path: Path) -> None:
    revision = add_revision(pull_request, "add_note", 'op.add_column("CollectionCanonical", '
                            'sa.Column("note", sa.Text), schema="persistence_schema")', "pass")
    commit_all(pull_request, "a revision that forgets its downgrade")
    runs, env = check_job(pull_request, tmp_path)
    check = runs[-1]
    assert (check.name, check.code) == ("dbci check", 1), check.output
    path = f"database/versions/{revision}_add_note.py"
    assert f"::error file={path},line=" in check.output
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## dbci check: ❌")
    assert revision in summary and "persistence_schema.CollectionCanonical.note" in summary
    output = Path(env["GITHUB_OUTPUT"]).read_text()
    report = Path(output.split("report=", 1)[1].strip())
    doc = json.loads(report.read_text())
    assert doc["ok"] is False and doc["shard"] == "1/1" and doc["base"] == "origin/main"


def test_the_pr_check_of_a_clean_branch(pull_request: Path, tmp_path: Path) -> None:
    add_revision(pull_request, "add_note", 'op.add_column("CollectionCanonical", '
                 'sa.Column("note", sa.Text), schema="persistence_schema")',
                 'op.drop_column("CollectionCanonical", "note", schema="persistence_schema")')
    commit_all(pull_request, "a revision with its downgrade")
    (pull_request / "orm" / "models.py").write_text(
        (pull_request / "orm" / "models.py").read_text().replace(
            '    __tablename__ = "CollectionCanonical"\n',
            '    __tablename__ = "CollectionCanonical"\n\n    note: Mapped[str | None] = '
            'mapped_column(sa.Text)\n', 1))
    commit_all(pull_request, "the ORM too")
    runs, env = check_job(pull_request, tmp_path)
    assert runs[-1].code == 0, runs[-1].output
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().startswith(
        "## dbci check: ✅ all checks pass")


@pytest.fixture
def stage(project: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Stage dev: an empty database, its URL in a moto-held secret."""
    import boto3

    base = server()
    name = f"wf_stage_{os.getpid()}"
    run_sql(base, f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    boto3.client("secretsmanager").create_secret(
        Name="corpora/backend/dev/database", SecretString=json.dumps({"database_uri": url}))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield url
    run_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrate_workflow_migrates_and_writes_the_plan(stage: str, project: Path,
                                                           tmp_path: Path) -> None:
    env = runner_files(tmp_path)
    context = {"inputs": {"stage": "dev", "revision": "heads", "dry_run": False,
                          "allow_downgrade": False, "runner": "[]"}, "vars": {}}
    runs = run_job("migrate.yml", "migrate", context, env, project)
    assert [(r.name, r.code) for r in runs] == [
        ("The SQL plan", 0), ("Migrate", 0), ("The stage against the migrations", 0)], \
        [r.output for r in runs]
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## Migration plan for dev\n\n```sql\n-- dbci migrate --sql: stage "
                              f"dev from base to {HEAD}\n")
    assert f"migrate: stage dev from base to {HEAD} (14 revisions)" in summary
    engine = create_engine(stage)
    with engine.connect() as connection:
        at = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    engine.dispose()
    assert at == HEAD


def test_a_dry_run_only_plans(stage: str, project: Path, tmp_path: Path) -> None:
    env = runner_files(tmp_path)
    context = {"inputs": {"stage": "dev", "revision": "heads", "dry_run": True,
                          "allow_downgrade": False}, "vars": {}}
    runs = run_job("migrate.yml", "migrate", context, env, project)
    assert [r.name for r in runs] == ["The SQL plan", "The stage against the migrations"]
    assert run_sql(stage, "SELECT count(*) FROM pg_tables WHERE schemaname <> 'pg_catalog' "
                          "AND schemaname <> 'information_schema'") == [(0,)]

"""The workflows' contract, read from the YAML: triggers, the PostgreSQL matrix, the chain to
prod behind its environment, concurrency, least privilege, pinned actions, no template
injection, and every `dbci ...` they run a real command with real flags. actionlint and zizmor
(every audit, offline) find nothing."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emulate import WORKFLOWS, load

from ci import cli

WORKFLOW_FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
REPO = WORKFLOWS.parents[1]
#: Values for the shell variables of `dbci` lines, so the parser sees real arguments.
SAMPLES = {"SHARD": "1", "SHARDS": "1", "STAGE": "dev", "REVISION": "heads",
           "base": "origin/main", "REPORT": "report.json", "COMMENT": "comment.md",
           "REPORTS": "reports", "version": "18", "plan": "plan.sql", "OUT": "seed.sql",
           "FILE": "seed.sql"}


def jobs(name: str) -> dict[str, Any]:
    return dict(load(name)["jobs"])


def steps(name: str) -> list[dict[str, Any]]:
    return [step for job in jobs(name).values() for step in job.get("steps", [])]


def test_the_workflows_are_there() -> None:
    assert {"pr-checks.yml", "migrate.yml", "deploy-migrations.yml", "migrate-manual.yml",
            "schema-drift.yml", "rdev-seed.yml"} <= set(WORKFLOW_FILES)


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run([str(BIN / "actionlint"), "-no-color"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_at_any_severity() -> None:
    done = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona=auditor",
                           "--no-progress", str(WORKFLOWS)], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_pr_checks_runs_on_every_pull_request_and_the_merge_queue() -> None:
    on = load("pr-checks.yml")["on"]
    assert set(on) == {"pull_request", "merge_group"}
    assert not any(isinstance(v, dict) and ("paths" in v or "paths-ignore" in v)
                   for v in on.values()), "a required check must not be filtered by paths"


def test_the_check_runs_on_every_supported_postgresql() -> None:
    check = jobs("pr-checks.yml")["check"]
    assert check["strategy"]["matrix"]["postgres"] == ["14", "15", "16", "17", "18"]
    assert check["strategy"]["fail-fast"] is False
    assert check["services"]["postgres"]["image"].startswith("postgres:")
    runs = " ".join(s.get("run", "") for s in check["steps"])
    assert "dbci --github --json check --base" in runs and "--shard" in runs


def test_migrate_is_reusable_with_the_inputs_callers_need() -> None:
    call = load("migrate.yml")["on"]["workflow_call"]["inputs"]
    assert set(call) >= {"stage", "revision", "dry_run", "allow_downgrade", "runner"}
    assert call["revision"]["default"] == "heads"
    assert (call["dry_run"]["type"], call["dry_run"]["default"]) == ("boolean", False)
    job = jobs("migrate.yml")["migrate"]
    assert "inputs.stage" in job["environment"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "inputs.stage" in job["concurrency"]["group"]
    uses = [s["uses"] for s in job["steps"] if "uses" in s]
    assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)


def test_deploy_goes_dev_staging_then_prod_behind_a_plan() -> None:
    on = load("deploy-migrations.yml")["on"]
    assert on["push"]["branches"] == ["main"] and on["push"]["paths"] == ["database/**"]
    chain = jobs("deploy-migrations.yml")
    assert [chain[j]["with"]["stage"] for j in ("dev", "staging", "plan-prod", "prod")] == [
        "dev", "staging", "prod", "prod"]
    assert "needs" not in chain["dev"]
    assert (chain["staging"]["needs"], chain["plan-prod"]["needs"], chain["prod"]["needs"]) == (
        "dev", "staging", "plan-prod")
    assert chain["plan-prod"]["with"]["dry_run"] is True
    assert chain["plan-prod"]["with"]["environment"] == "prod-read"
    assert "environment" not in chain["prod"]["with"]  # the prod environment, its reviewers
    for job in chain.values():
        assert job["uses"].endswith(".github/workflows/migrate.yml")


def test_a_manual_migration_is_a_dry_run_unless_asked() -> None:
    inputs = load("migrate-manual.yml")["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stage"]["type"] == "choice"
    assert set(inputs["stage"]["options"]) == {"dev", "staging", "prod", "test", "rdev"}
    assert inputs["revision"]["default"] == "heads"
    assert (inputs["dry_run"]["default"], inputs["allow_downgrade"]["default"]) == (True, False)


def test_schema_drift_runs_nightly_on_every_stage() -> None:
    on = load("schema-drift.yml")["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    job = jobs("schema-drift.yml")["status"]
    assert job["strategy"]["fail-fast"] is False
    assert set(job["strategy"]["matrix"]["stage"]) >= {"dev", "staging", "prod"}
    assert "dbci --github status" in " ".join(s.get("run", "") for s in job["steps"])


def test_rdev_seed_runs_on_dispatch_or_the_label_of_a_same_repository_pr() -> None:
    on = load("rdev-seed.yml")["on"]
    assert set(on) == {"workflow_dispatch", "pull_request"}
    assert on["pull_request"]["types"] == ["labeled"]
    job = jobs("rdev-seed.yml")["seed"]
    assert "'rdev-seed'" in job["if"] and "head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "write", "id-token": "write"}
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "dbci --github seed build" in runs and "dbci --github seed upload" in runs
    assert "dbci --github tf bump" in runs and "git commit" in runs and "push" in runs


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_least_privilege(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {"contents": "read"}
    assert "pull_request_target" not in workflow["on"]
    for job_id, job in jobs(name).items():
        assert "permissions" in job, f"{name}: job {job_id} states its permissions"
        granted = job["permissions"]
        if granted.get("id-token") == "write":
            assert name != "pr-checks.yml", "pull requests never get cloud credentials"
        if granted.get("contents") == "write":
            assert name == "rdev-seed.yml", "only the seed bump pushes a commit"
        assert set(granted.values()) <= {"read", "write"}
        if "steps" in job:
            assert "timeout-minutes" in job, f"{name}: job {job_id} has a timeout"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_actions_are_pinned_and_checkouts_keep_no_credentials(name: str) -> None:
    for job in jobs(name).values():
        local = job.get("uses", "")
        assert not local or local.startswith(("$/", "./")), local
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses is None:
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    text = (WORKFLOWS / name).read_text()
    for line in text.splitlines():
        if re.search(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{name}: version comment: {line}"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_no_expression_inside_a_run_script(name: str) -> None:
    for step in steps(name):
        assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}: use env:"


def dbci_lines(script: str) -> list[list[str]]:
    """Each `dbci ...` a script runs, as the argument list the shell would pass."""
    found = []
    for line in script.splitlines():
        for match in re.finditer(r"(?:^|[;&|(]\s*|\bthen\s+|\belse\s+)dbci\s+([^|;&>]*)",
                                 line.strip()):
            words = shlex.split(match.group(1))
            args = []
            for word in words:
                if word == "${flags[@]}":
                    continue
                args.append(re.sub(r"\$\{?(\w+)(#[^}]*)?\}?",
                                   lambda m: SAMPLES.get(m.group(1), "x"), word))
            found.append(args)
    return found


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_every_dbci_command_is_real(name: str) -> None:
    parser = cli.build_parser()
    commands = [args for step in steps(name) for args in dbci_lines(step.get("run", ""))]
    for args in commands:
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            pytest.fail(f"{name}: `dbci {' '.join(args)}` is not a dbci command line ({exc})")
    if name != "deploy-migrations.yml" and name != "migrate-manual.yml":
        assert commands, f"{name} runs dbci"

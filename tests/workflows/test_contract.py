"""The workflows' contract, read from the YAML: triggers, the PostgreSQL matrix, the chain to
prod as plan-bound applies behind each stage's environment, bash with pipefail everywhere,
concurrency groups, least privilege, hashed installs where credentials are, pinned actions, no
template injection, no dbci output copied into the summary, and every `dbci ...` they run a real
command with real flags; check, plan, migrate and status only through the action (action.yml),
whose scripts keep the same rules. actionlint and zizmor (every audit, offline) find nothing."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from emulate import WORKFLOWS, load

from ci import cli

WORKFLOW_FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
REPO = WORKFLOWS.parents[1]
ACTION = str(REPO / "action.yml")
#: Every file of run: scripts: the workflows and the action.
SCRIPTED = [*WORKFLOW_FILES, ACTION]
#: Values for the shell variables of `dbci` lines, so the parser sees real arguments.
SAMPLES = {"SHARD": "1", "SHARDS": "1", "STAGE": "dev", "REVISION": "heads",
           "base": "origin/main", "REPORT": "report.json", "COMMENT": "comment.md",
           "REPORTS": "reports", "version": "18", "plan": "plan.sql", "OUT": "seed.sql",
           "FILE": "seed.sql", "RUNNER_TEMP": tempfile.gettempdir(), "seed": "seed.sql"}
#: Bash arrays the scripts build: the flags (none, here) and the report files (one).
ARRAYS = {"${flags[@]}": [], "${reports[@]}": ["report.json"]}
#: What a run may write to the job summary itself: dbci writes its own sections.
SUMMARY = re.compile(r"(>>?|tee( -a)?)\s*\"?\$GITHUB_STEP_SUMMARY")


def jobs(name: str) -> dict[str, Any]:
    return dict(load(name)["jobs"])


def steps(name: str) -> list[dict[str, Any]]:
    if name == ACTION:
        return list(load(name)["runs"]["steps"])
    return [step for job in jobs(name).values() for step in job.get("steps", [])]


def the_action(step: dict[str, Any]) -> dict[str, Any]:
    """A step's inputs to this repository's action (`uses: ./`); {} for any other step."""
    return dict(step["with"]) if step.get("uses") == "./" else {}


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
    (action,) = [the_action(s) for s in check["steps"] if the_action(s)]
    assert action["command"] == "check" and "base" not in action  # origin/<the PR's base>
    assert action["args"].startswith("--shard ")
    assert action["annotate"] is False, "the dbci job annotates each finding once, not every shard"
    report = jobs("pr-checks.yml")["dbci"]
    runs = [s.get("run", "") for s in report["steps"]]
    assert sum("dbci --github report --comment" in r for r in runs) == 1
    assert not any("for version in" in r for r in runs), "one report call for every version"


def test_pr_checks_stops_on_a_cancel_except_to_fail_the_required_check() -> None:
    report = jobs("pr-checks.yml")["dbci"]
    assert report["if"] == "always()"
    *others, last = report["steps"]
    assert last["if"].startswith("${{ always() &&") and "exit 1" in last["run"]
    for step in others:
        assert "always()" not in step.get("if", ""), step
        assert "!cancelled()" in step["if"], step
    upload = jobs("pr-checks.yml")["check"]["steps"][-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert "!cancelled()" in upload["if"] and "always()" not in upload["if"]


def test_migrate_is_reusable_with_the_inputs_callers_need() -> None:
    call = load("migrate.yml")["on"]["workflow_call"]["inputs"]
    assert set(call) == {"stage", "revision", "dry_run", "allow_downgrade", "tunnel", "runner",
                         "scratch_url"}, "no environment input: an apply runs in the stage's own"
    assert call["revision"]["default"] == "heads"
    assert (call["dry_run"]["type"], call["dry_run"]["default"]) == ("boolean", False)
    assert call["tunnel"]["default"] == call["runner"]["default"] == ""


def test_every_apply_runs_the_plan_its_reviewers_saw() -> None:
    plan, apply = jobs("migrate.yml")["plan"], jobs("migrate.yml")["apply"]
    assert set(jobs("migrate.yml")) == {"plan", "apply"}
    assert plan["environment"] == "${{ inputs.stage }}-read"
    assert apply["environment"] == "${{ inputs.stage }}"  # exactly the stage: its reviewers
    assert apply["needs"] == "plan"
    assert apply["if"] == "${{ !inputs.dry_run && needs.plan.outputs.pending == 'true' }}"
    planned = [the_action(s) for s in plan["steps"] if the_action(s)]
    assert [(a["command"], a["stage"]) for a in planned] == [
        ("plan", "${{ inputs.stage }}"), ("status", "${{ inputs.stage }}")]
    assert plan["outputs"]["pending"] == "${{ steps.plan.outputs.pending }}"
    upload = next(s for s in plan["steps"] if s.get("uses", "").startswith(
        "actions/upload-artifact@"))
    assert upload["with"]["name"] == plan["outputs"]["artifact"] == "${{ env.ARTIFACT }}"
    assert upload["with"]["path"].splitlines() == ["${{ steps.plan.outputs.plan }}",
                                                   "${{ steps.plan.outputs.report }}"]
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith(
        "actions/download-artifact@"))
    assert download["with"] == {"name": "${{ needs.plan.outputs.artifact }}",
                                "path": "${{ runner.temp }}/plan"}
    applied = [the_action(s) for s in apply["steps"] if the_action(s)]
    assert [a["command"] for a in applied] == ["migrate", "status"]
    assert applied[0]["plan"] == "${{ runner.temp }}/plan/plan.json"
    assert "--revision" not in applied[0]["args"], "the plan says where to go"
    for job in (plan, apply):
        uses = [s["uses"] for s in job["steps"] if "uses" in s]
        assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)


def test_concurrency_groups() -> None:
    plan, apply = jobs("migrate.yml")["plan"], jobs("migrate.yml")["apply"]
    assert apply["concurrency"] == {"group": "dbci-migrate-${{ inputs.stage }}",
                                    "cancel-in-progress": False}
    assert plan["concurrency"] == {
        "group": "${{ inputs.dry_run && format('dbci-dry-run-{0}', inputs.stage) || "
                 "format('dbci-plan-{0}', inputs.stage) }}", "cancel-in-progress": False}
    assert load("schema-drift.yml")["concurrency"]["group"] == "dbci-schema-drift"
    for name in WORKFLOW_FILES:
        for job in jobs(name).values():
            group = (job.get("concurrency") or {}).get("group", "")
            if "dbci-migrate" in group or "dbci-plan" in group:
                assert job["concurrency"]["cancel-in-progress"] is False


def test_deploy_lints_then_goes_dev_staging_then_prod_each_planned_then_applied() -> None:
    on = load("deploy-migrations.yml")["on"]
    assert on["push"]["branches"] == ["main"] and on["push"]["paths"] == ["database/**"]
    chain = jobs("deploy-migrations.yml")
    assert list(chain) == ["lint", "dev", "staging", "prod"]
    assert "dbci --github lint" in " ".join(s.get("run", "") for s in chain["lint"]["steps"])
    assert "needs" not in chain["lint"]
    assert (chain["dev"]["needs"], chain["staging"]["needs"], chain["prod"]["needs"]) == (
        "lint", "dev", "staging")
    for stage in ("dev", "staging", "prod"):
        job = chain[stage]
        assert job["uses"] == "$/.github/workflows/migrate.yml"  # GitHub's self-repository form
        assert job["with"]["stage"] == stage and "dry_run" not in job["with"]
        assert job["with"]["tunnel"] == "${{ vars.DBCI_TUNNEL }}"
        assert job["with"]["scratch_url"] == "${{ vars.DBCI_SCRATCH_URL }}"


def test_a_manual_migration_is_a_dry_run_unless_asked() -> None:
    inputs = load("migrate-manual.yml")["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stage"]["type"] == "choice"
    assert set(inputs["stage"]["options"]) == {"dev", "staging", "prod", "test", "rdev"}
    assert inputs["revision"]["default"] == "heads"
    assert (inputs["dry_run"]["default"], inputs["allow_downgrade"]["default"]) == (True, False)
    call = jobs("migrate-manual.yml")["migrate"]
    assert call["uses"] == "$/.github/workflows/migrate.yml"
    assert call["with"]["dry_run"] == "${{ inputs.dry_run }}" and "environment" not in call["with"]
    assert call["with"]["tunnel"] == "${{ inputs.tunnel || vars.DBCI_TUNNEL }}"
    assert call["with"]["scratch_url"] == "${{ vars.DBCI_SCRATCH_URL }}"


def test_schema_drift_runs_nightly_on_every_stage() -> None:
    on = load("schema-drift.yml")["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    job = jobs("schema-drift.yml")["status"]
    assert job["strategy"]["fail-fast"] is False
    assert set(job["strategy"]["matrix"]["stage"]) >= {"dev", "staging", "prod"}
    (status,) = [s for s in job["steps"] if s.get("id") == "status"]
    assert the_action(status)["command"] == "status"
    assert "${{ matrix.stage == 'prod' && '--fail-on-pending' || '' }}" in status["with"]["args"]
    assert "--stats-out" in status["with"]["args"]  # the stage's sizes, for check --stats
    kept = [s["with"]["name"] for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert kept == ["dbci-drift-${{ matrix.stage }}", "dbci-stats-${{ matrix.stage }}"]
    issues = jobs("schema-drift.yml")["issues"]
    assert issues["permissions"] == {"issues": "write"} and issues["needs"] == "status"
    assert issues["if"] == "${{ !cancelled() }}"
    (script,) = [s for s in issues["steps"] if "run" in s]
    assert script["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert all(f"gh issue {verb}" in script["run"] for verb in ("list", "create", "edit", "close"))


def test_rdev_seed_runs_on_dispatch_or_the_label_of_a_same_repository_pr() -> None:
    on = load("rdev-seed.yml")["on"]
    assert set(on) == {"workflow_dispatch", "pull_request"}
    assert on["pull_request"]["types"] == ["labeled"]
    job, push = jobs("rdev-seed.yml")["seed"], jobs("rdev-seed.yml")["push"]
    assert "'rdev-seed'" in job["if"] and "head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert push["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "dbci --github seed build" in runs and "dbci --github seed upload" in runs
    assert "dbci --github tf bump" in runs and "push" not in runs
    (script,) = [s["run"] for s in push["steps"] if "run" in s]
    assert "git commit" in script and 'push origin "HEAD:refs/heads/$branch"' in script
    assert 'branch="rdev-seed/$RUN_ID"' in script and "gh pr create" in script
    assert '[ "$branch" = "main" ]' in script, "never pushes to main"


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
        if granted.get("issues") == "write":
            assert (name, job_id) == ("schema-drift.yml", "issues")
        if granted.get("pull-requests") == "write":
            assert (name, job_id) in {("pr-checks.yml", "dbci"), ("rdev-seed.yml", "push")}
        if granted.get("id-token") == "write" and "steps" in job:
            assert set(granted) == {"contents", "id-token"} and granted["contents"] == "read", \
                f"{name}: {job_id} holds cloud credentials and nothing that writes to GitHub"
        assert set(granted.values()) <= {"read", "write"}
        if "steps" in job:
            assert "timeout-minutes" in job, f"{name}: job {job_id} has a timeout"


@pytest.mark.parametrize("name", SCRIPTED)
def test_actions_are_pinned_and_checkouts_keep_no_credentials(name: str) -> None:
    """Every action pinned to a full commit SHA, but this repository's own (`./`)."""
    for job in jobs(name).values() if name != ACTION else []:
        local = job.get("uses", "")
        assert not local or local.startswith(("$/", "./")), local
    for step in steps(name):
        uses = step.get("uses")
        if uses is None or uses == "./":
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
        if uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    text = (WORKFLOWS / name).read_text()
    for line in text.splitlines():
        if re.search(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{name}: version comment: {line}"


@pytest.mark.parametrize("name", SCRIPTED)
def test_every_run_step_is_bash_with_pipefail(name: str) -> None:
    """Without `shell:`, GitHub runs `bash -e {0}`: no pipefail, a failing dbci piped into
    another command ends green. `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`; an
    action's steps declare theirs, as no workflow's defaults reach them."""
    if name == ACTION:
        assert all(s["shell"] == "bash" for s in steps(name) if "run" in s)
        return
    assert load(name)["defaults"] == {"run": {"shell": "bash"}}
    for job in jobs(name).values():
        assert "shell" not in ((job.get("defaults") or {}).get("run") or {})
        for step in job.get("steps", []):
            assert step.get("shell", "bash") == "bash", step


@pytest.mark.parametrize("name", SCRIPTED)
def test_dbci_output_is_never_copied_into_the_summary(name: str) -> None:
    """dbci --github writes its own (masked) summary sections; a workflow that copies its stdout
    there could copy what dbci never meant to show, and pipes hide dbci's exit code."""
    for step in steps(name):
        for line in step.get("run", "").splitlines():
            if re.search(r"(?:^|[;&|(]|\bthen|\belse)\s*dbci\s", line.strip()):
                assert not re.search(r"\|\s*tee\b", line), line
                assert not SUMMARY.search(line), line
        script = step.get("run", "")
        assert not re.search(r"cat [^\n]*plan[^\n]*\n[^\n]*GITHUB_STEP_SUMMARY|cat \"\$plan\"",
                             script), script


#: A pip install, whatever pip's own options (`pip --python VENV install`).
PIP_INSTALL = re.compile(r"\bpip\b.*\binstall\b")


def hashed_installs(scripts: list[str], lock: str, package: str) -> bool:
    """Whether these scripts install dbci, and only from the hashed lock."""
    installs = [script for script in scripts if PIP_INSTALL.search(script)]
    for script in installs:
        for line in script.splitlines():
            if PIP_INSTALL.search(line):
                assert "--no-deps" in line, line
                assert "--require-hashes" in line or line.endswith(
                    f"--no-deps --no-build-isolation {package}"), line
        assert f"--require-hashes --no-deps -r {lock}" in script
    return bool(installs)


def test_the_action_installs_from_its_own_hashed_lock_into_its_venv() -> None:
    """dbci from its hashed lock, then the project's requirements with pip's resolver, both
    into the action's venv (never setup-python's interpreter)."""
    installing = {s["id"]: s["run"] for s in steps(ACTION) if PIP_INSTALL.search(s.get("run", ""))}
    assert list(installing) == ["install", "requirements"]
    assert hashed_installs([installing["install"]], '"$GITHUB_ACTION_PATH/requirements/deploy.txt"',
                           '"$GITHUB_ACTION_PATH"')
    for script in installing.values():
        assert all('pip --python "$VIRTUAL_ENV/bin/python" install' in line
                   for line in script.splitlines() if PIP_INSTALL.search(line)), script


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_jobs_with_cloud_credentials_install_from_the_hashed_lock(name: str) -> None:
    """Themselves, or through the action."""
    for job_id, job in jobs(name).items():
        if (job.get("permissions") or {}).get("id-token") != "write" or "steps" not in job:
            continue
        installed = hashed_installs([s.get("run", "") for s in job["steps"]],
                                    "requirements/deploy.txt", ".")
        assert installed or any(the_action(s) for s in job["steps"]), \
            f"{name}: {job_id} installs dbci"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_check_plan_migrate_and_status_run_only_through_the_action(name: str) -> None:
    """One path: what users run is what this repository runs."""
    parser = cli.build_parser()
    for step in steps(name):
        for args in dbci_lines(step.get("run", "")):
            assert parser.parse_args(args).command_name not in ("check", "migrate", "status"), \
                f"{name}: `dbci {' '.join(args)}`: use the action"


def test_the_hashed_lock_matches_pyproject() -> None:
    done = subprocess.run([sys.executable, str(REPO / "requirements" / "check.py")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", SCRIPTED)
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
                if word in ARRAYS:
                    args += ARRAYS[word]
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
    if name != "migrate-manual.yml":
        assert commands or any(the_action(s) for s in steps(name)), f"{name} runs dbci"

"""The composite action (`action.yml`), run by the emulated runner: the dbci line each command
becomes, inputs it does not take (a command, annotate, requirements lines that are not paths
inside the workspace), its venv (the job's own, made once), dbci's failures made the step's, each
command on the reference project and its stages, the project's requirements installed for its
ORM, a user's workflow of twenty lines, the PR check `dbci init` writes for a project in a folder
of its repository; actionlint and zizmor on the action and that workflow, and the docs that show
them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from conftest import (
    HEAD,
    NO_AWS,
    REPO,
    commit_all,
    dbci,
    edit_orm,
    git,
    project_in_a_folder,
    run_sql,
    server,
    version,
)
from emulate import Emulator, Run, load
from test_emulation import (  # noqa: F401
    assert_password_nowhere,
    emulate,
    job,
    pr_event,
    pull_request,
    server_major,
    stages,
    workflow,
)

from ci import cli
from ci.about import ACTION

BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).with_name("fixtures")
USER_WORKFLOW = FIXTURES / "user-workflow.yml"
#: A dbci that records how it was called (and the Python environment it runs in) in {log},
#: writes the plan it is asked for, and exits with $FAKE_DBCI_EXIT.
FAKE_DBCI = """#!{python}
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps({{"args": args, "cwd": os.getcwd(), "prefix": sys.prefix}}) + "\\n")
if "--plan-out" in args:
    Path(args[args.index("--plan-out") + 1]).write_text(json.dumps({{"steps": [{{}}]}}))
print("what dbci printed")
sys.exit(int(os.environ.get("FAKE_DBCI_EXIT", "0")))
"""


def faked(tmp_path: Path) -> Emulator:
    """An emulated pull request (base: main) whose dbci is FAKE_DBCI: the one the action's venv
    gets (the emulator's stand-in for its install)."""
    checkout = tmp_path / "repo"
    (checkout / "sub").mkdir(parents=True, exist_ok=True)
    emulator = emulate(tmp_path, checkout, "pull_request", github={"base_ref": "main"})
    fake = emulator.root / "bin" / "dbci"
    fake.write_text(FAKE_DBCI.format(python=sys.executable,
                                     log=str(emulator.root / "dbci-calls.jsonl")))
    fake.chmod(0o755)
    return emulator


def calls(emulator: Emulator) -> list[dict[str, Any]]:
    log = emulator.root / "dbci-calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def action_run(emulator: Emulator, **given: str) -> Run:
    """One run of the action with these inputs: step `dbci` of job `a`."""
    return emulator.run(workflow(emulator.root, {"a": job(
        {"uses": "actions/checkout@v5"}, {"id": "dbci", "uses": "./", "with": given})}))


@pytest.mark.parametrize(("given", "expected"), [
    ({"command": "check"},
     ["--config", "alembic.ini", "--github", "--json", "check", "--base", "origin/main"]),
    ({"command": "check", "base": "origin/release", "annotate": "false",
      "args": "--shard 1/2"},
     ["--config", "alembic.ini", "--json", "check", "--base", "origin/release", "--shard",
      "1/2"]),
    ({"command": "plan", "stage": "dev", "args": "--revision '-1' --allow-downgrade"},
     ["--config", "alembic.ini", "--github", "migrate", "--stage", "dev", "--sql",
      "--plan-out", "<plan>", "--revision", "-1", "--allow-downgrade"]),
    ({"command": "migrate", "stage": "prod", "plan": "plan.json"},
     ["--config", "alembic.ini", "--github", "migrate", "--stage", "prod", "--plan",
      "plan.json"]),
    ({"command": "migrate", "stage": "dev", "args": "--revision heads"},
     ["--config", "alembic.ini", "--github", "migrate", "--stage", "dev", "--revision",
      "heads"]),
    ({"command": "status", "stage": "dev", "config": "db/alembic.ini",
      "working-directory": "sub", "args": '--fail-on-pending --stats-out "a b.json"'},
     ["--config", "db/alembic.ini", "--github", "status", "--stage", "dev",
      "--fail-on-pending", "--stats-out", "a b.json"]),
], ids=["check", "check-shard", "plan", "migrate-plan", "migrate", "status"])
def test_each_command_is_one_dbci_line(tmp_path: Path, given: dict[str, str],
                                       expected: list[str]) -> None:
    """`args` split as a shell splits words, never run; the line dbci's own parser accepts."""
    emulator = faked(tmp_path)
    step = action_run(emulator, **given).job("a").step("dbci")
    assert step.outcome == "success", step.shown
    assert [s.id for s in step.steps if s.outcome == "success"] == [
        None, "python", "venv", "install", "requirements", "run"]
    (call,) = calls(emulator)
    plan = step.outputs["plan"]
    assert call["args"] == [plan if a == "<plan>" else a for a in expected]
    assert call["cwd"].endswith("/sub") == (given.get("working-directory") == "sub")
    cli.build_parser().parse_args(call["args"])  # a real dbci command line
    report = Path(step.outputs["report"])
    assert report.read_text() == "what dbci printed\n" and step.outputs["exit-code"] == "0"
    assert report.name == {"check": "report.json", "plan": "plan.sql", "migrate": "migrate.txt",
                           "status": "status.txt"}[given["command"]]
    if given["command"] == "plan":
        assert Path(plan).parent == report.parent and step.outputs["pending"] == "true"
    else:
        assert (plan, step.outputs["pending"]) == ("", "")


COMMANDS = "command must be check, plan, migrate or status"
ANNOTATE = "annotate must be true or false"


@pytest.mark.parametrize(("given", "error"), [
    ({"command": "deploy"}, f"{COMMANDS}, not 'deploy'"),
    ({"command": "CHECK"}, f"{COMMANDS}, not 'CHECK'"),
    ({"command": ""}, f"{COMMANDS}, not ''"),
    ({"command": "check\n::add-mask::50%"}, f"{COMMANDS}, not 'check%0A::add-mask::50%25'"),
    ({"command": "check", "annotate": "TRUE"}, f"{ANNOTATE}, not 'TRUE'"),
    ({"command": "check", "annotate": "no"}, f"{ANNOTATE}, not 'no'"),
    ({"command": "check", "annotate": ""}, f"{ANNOTATE}, not ''"),
    ({"command": "check", "annotate": "false "}, f"{ANNOTATE}, not 'false '")])
def test_a_command_or_annotate_it_does_not_take_is_one_error_and_exit_2(
        tmp_path: Path, given: dict[str, str], error: str) -> None:
    """Before anything is set up; `annotate` is exactly true or false, as anything else once
    meant true."""
    emulator = faked(tmp_path)
    run = action_run(emulator, **given)
    step = run.job("a").step("dbci")
    assert step.outcome == "failure" and run.result("a") == "failure"
    assert [s.outcome for s in step.steps] == ["failure"] + ["skipped"] * 5
    assert step.steps[0].code == 2
    assert run.job("a").annotations == [f"::error title=dbci::{error}"]
    assert calls(emulator) == [] and step.outputs["exit-code"] == ""


@pytest.mark.parametrize("line", [
    "-r requirements.txt", "--index-url=https://example.com/simple", "-e .", "-c 50%",
    "/etc/hosts", "../../requirements.txt", "../link/requirements.txt",
    "https://example.com/requirements.txt", "file:requirements.txt",
    "git+https://example.com/orm.git"])
def test_a_requirements_line_not_a_path_inside_the_workspace_is_one_error_and_exit_2(
        tmp_path: Path, line: str) -> None:
    """Each line becomes pip's arguments, so none may be an option, a URL, an absolute path or
    one that leaves the workspace (`..`, a link), whatever the lines before it; nothing is
    installed. From working-directory `sub`, `../requirements.txt` is inside."""
    emulator = faked(tmp_path)
    (emulator.checkout / "link").symlink_to(tmp_path, target_is_directory=True)
    run = action_run(emulator, command="check", **{
        "working-directory": "sub", "requirements": f"../requirements.txt\n{line}\n."})
    step = run.job("a").step("dbci")
    assert [s.outcome for s in step.steps] == ["success"] * 2 + ["failure"] + ["skipped"] * 3
    assert step.steps[2].code == 2 and calls(emulator) == []
    assert run.job("a").annotations == [
        "::error title=dbci::requirements must be files or folders inside the workspace, "
        f"relative to working-directory, not '{line.replace('%', '%25')}'"]


def test_dbcis_venv_is_the_jobs_own_made_once_and_not_the_callers(tmp_path: Path) -> None:
    """dbci and the requirements go to a venv under the job's $RUNNER_TEMP (which the runner
    empties at each job's start and end), not into setup-python's interpreter, which outlives
    the job on a self-hosted runner. A later use of the action in the job with the same
    requirements reuses it; other requirements get their own. The caller's later steps do not
    have it on PATH."""
    emulator = faked(tmp_path)
    (emulator.checkout / "requirements.txt").write_text("")
    check = {"command": "check", "requirements": "requirements.txt"}
    run = emulator.run(workflow(tmp_path, {"a": job(
        {"uses": "actions/checkout@v5"},
        {"id": "check", "uses": "./", "with": check},
        {"id": "again", "uses": "./", "with": check},
        {"id": "other", "uses": "./", "with": {"command": "check"}},
        {"id": "after", "run": 'echo "temp=$RUNNER_TEMP" >> "$GITHUB_OUTPUT"\n'
                               'echo "dbci=$(command -v dbci)" >> "$GITHUB_OUTPUT"'})}))
    steps = run.job("a").step
    assert run.result("a") == "success", [s.shown for s in run.job("a").steps]
    first, again, other = (Path(call["prefix"]) for call in calls(emulator))
    temp = Path(steps("after").outputs["temp"])
    assert first.parent == temp and again == first and other.parent == temp != other != first
    assert [(s.id, s.outcome) for s in steps("again").steps if s.outcome == "skipped"] == [
        ("install", "skipped"), ("requirements", "skipped")]
    assert steps("after").outputs["dbci"] == str(emulator.root / "bin" / "dbci")


def test_args_that_do_not_split_are_one_error_and_exit_2(tmp_path: Path) -> None:
    emulator = faked(tmp_path)
    step = action_run(emulator, command="check", args="--base 'main").job("a").step("dbci")
    assert step.outcome == "failure" and calls(emulator) == [] and step.steps[-1].code == 2
    assert step.steps[-1].shown == "::error title=dbci::args: No closing quotation"
    assert step.outputs["exit-code"] == ""


@pytest.mark.parametrize("code", [1, 3])
def test_a_failing_dbci_fails_the_step_with_its_exit_code(tmp_path: Path, code: int) -> None:
    """Fail closed: 1 (problems found) still leaves its report; 3 (an outside system failed)
    leaves none, as a report it could not finish is no result."""
    emulator = faked(tmp_path)
    run = emulator.run(workflow(tmp_path, {"a": job(
        {"uses": "actions/checkout@v5"},
        {"id": "dbci", "uses": "./", "with": {"command": "status", "stage": "dev"},
         "env": {"FAKE_DBCI_EXIT": str(code)}},
        {"id": "after", "run": "echo never"},
        {"id": "kept", "if": "${{ !cancelled() && steps.dbci.outputs.report }}",
         "run": "true"})}))
    step = run.job("a").step("dbci")
    assert (step.outcome, run.result("a")) == ("failure", "failure")
    assert step.steps[-1].code == code and step.outputs["exit-code"] == str(code)
    assert run.job("a").step("after").outcome == "skipped"
    assert run.job("a").step("kept").outcome == ("success" if code == 1 else "skipped")


def test_the_job_summary_is_dbcis_own(tmp_path: Path) -> None:
    """The action copies nothing into the summary; its stdout goes to the report file only."""
    run = action_run(faked(tmp_path), command="check")
    assert run.job("a").summary == ""
    assert "what dbci printed" not in run.job("a").step("dbci").raw


# -- real runs: the reference project and its stages --

@pytest.mark.db
def test_a_users_workflow_of_twenty_lines_checks_a_pull_request(
        pull_request: Path, tmp_path: Path) -> None:  # noqa: F811
    assert len(USER_WORKFLOW.read_text().splitlines()) <= 20
    run = emulate(tmp_path, pull_request, "pull_request", github=pr_event(pull_request)).run(
        str(USER_WORKFLOW))
    (step,) = [s for s in run.job("dbci").steps if s.uses == ACTION]
    assert step.outcome == "success", step.shown
    assert step.outputs["exit-code"] == "0"
    report = json.loads(Path(step.outputs["report"]).read_text())
    assert report["ok"] is True and report["findings"] == []
    assert "dbci check" in run.job("dbci").summary


def buildable(folder: Path, package: str) -> None:
    """`folder` made a project pip builds without an index: `package` under src/ (not
    importable from the folder itself), built by fixtures/offline_backend.py; the rest of its
    pyproject.toml (`[tool.dbci]`) kept."""
    (folder / "src" / package).mkdir(parents=True)
    (folder / "src" / package / "__init__.py").write_text("")
    (folder / "_build").mkdir()
    shutil.copy2(FIXTURES / "offline_backend.py", folder / "_build")
    pyproject = folder / "pyproject.toml"
    settings = tomlkit.parse(pyproject.read_text() if pyproject.exists() else "")
    settings["build-system"] = {"requires": [], "build-backend": "offline_backend",
                                "backend-path": ["_build"]}
    settings["project"] = {"name": package, "version": "1.0"}
    pyproject.write_text(tomlkit.dumps(settings))


@pytest.mark.db
def test_requirements_install_what_the_orm_imports(pull_request: Path,  # noqa: F811
                                                   tmp_path: Path) -> None:
    """An ORM that imports the project's own src-layout package (requirement `.`) and a library
    its requirements file names by path: pip installs both, offline, into dbci's venv, where
    env.py imports the ORM and the check passes; without `requirements` it cannot."""
    buildable(pull_request, "portal_types")
    buildable(pull_request / "libs" / "units", "units")
    (pull_request / "requirements.txt").write_text("./libs/units\n")
    edit_orm(pull_request, "import sqlalchemy as sa\n",
             "import portal_types\nimport sqlalchemy as sa\nimport units\n")
    commit_all(pull_request, "an ORM that needs its project installed")
    check = {"uses": "./", "id": "dbci", "with": {"command": "check"}}
    run = emulate(tmp_path, pull_request, "pull_request", github=pr_event(pull_request)).run(
        workflow(tmp_path, {
            "with": job({"uses": "actions/checkout@v5"}, {**check, "with": {
                "command": "check", "requirements": "requirements.txt\n."}}),
            "without": job({"uses": "actions/checkout@v5"}, check)},
            env={"PIP_NO_INDEX": "1"}))
    installed = run.job("with").step("dbci")
    assert installed.outcome == "success", installed.shown
    assert json.loads(Path(installed.outputs["report"]).read_text())["ok"] is True
    assert "Successfully installed portal_types-1.0 units-1.0" in installed.shown
    missing = run.job("without").step("dbci")
    assert missing.outputs["exit-code"] == "2" and "No module named 'portal_types'" in missing.shown


@pytest.mark.db
def test_the_pr_check_init_writes_for_a_project_in_a_folder_passes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull request that adopts dbci in backend/ of a team's repository: its own pr-checks
    (as init wrote it, dbci's action at a commit) checks it in backend/ and joins the report
    there."""
    root = tmp_path / "monorepo"
    backend = project_in_a_folder(root)
    git(root, "clone", "-q", "--bare", str(root), str(tmp_path / "origin.git"))
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(root, "fetch", "-q", "origin")
    git(root, "checkout", "-q", "-b", "feature")
    monkeypatch.chdir(backend)
    assert dbci("init", "--action-ref", "ab" * 20).code == 0
    commit_all(root, "adopt dbci")
    emulator = emulate(tmp_path, root, "pull_request", github=pr_event(root),
                       services={"check": {"DATABASE_URL": server()}},
                       matrix={"check": {"postgres": [server_major()]}})
    run = emulator.run(str(root / ".github" / "workflows" / "pr-checks.yml"))
    assert run.job("changes").outputs["database"] == "true"  # backend/pyproject.toml changed
    check = run.job("check")
    assert check.result == "success", [s.shown for s in check.steps]
    (step,) = [s for s in check.steps if s.uses == ACTION]
    assert step.with_["working-directory"] == "backend" and step.outputs["exit-code"] == "0"
    assert json.loads(Path(step.outputs["report"]).read_text())["ok"] is True
    joined = run.job("dbci")
    assert joined.result == "success", [s.shown for s in joined.steps]
    assert joined.step("report").outcome == "success" and joined.annotations == []
    assert "dbci check" in run.comments["dbci"]


@pytest.mark.db
def test_plan_migrate_and_status_on_a_stage(stages: dict[str, str],  # noqa: F811
                                            project: Path, tmp_path: Path) -> None:
    emulator = emulate(tmp_path, project, "workflow_dispatch")
    run = emulator.run(workflow(tmp_path, {"deploy": job(
        {"uses": "actions/checkout@v5"},
        {"id": "plan", "uses": "./", "with": {"command": "plan", "stage": "dev"}},
        {"id": "migrate", "uses": "./", "with": {
            "command": "migrate", "stage": "dev", "plan": "${{ steps.plan.outputs.plan }}"}},
        {"id": "status", "uses": "./", "with": {"command": "status", "stage": "dev"}})}))
    deploy = run.job("deploy")
    assert deploy.result == "success", [s.shown for s in deploy.steps]
    plan = deploy.step("plan").outputs
    assert plan["pending"] == "true" and json.loads(Path(plan["plan"]).read_text())["to"] == [HEAD]
    assert Path(plan["report"]).read_text().startswith("-- dbci migrate --sql: stage dev")
    assert version(stages["dev"]) == {HEAD}
    assert deploy.step("status").outputs["exit-code"] == "0"
    assert "Migration plan for dev" in deploy.summary
    assert_password_nowhere(run)
    run_sql(stages["dev"], "CREATE TABLE public.by_hand (id int)")
    again = emulator.run(workflow(tmp_path, {
        "drift": job({"uses": "actions/checkout@v5"}, {"id": "status", "uses": "./", "with": {
            "command": "status", "stage": "dev"}}),
        "unreachable": job({"uses": "actions/checkout@v5"}, {
            "id": "status", "uses": "./", "with": {"command": "status", "stage": "dev"},
            "env": {"AWS_ENDPOINT_URL": NO_AWS}})}))
    drift, unreachable = (again.job(k).step("status") for k in ("drift", "unreachable"))
    assert (drift.outcome, drift.outputs["exit-code"]) == ("failure", "1")
    assert "by_hand" in Path(drift.outputs["report"]).read_text()
    assert (unreachable.outcome, unreachable.outputs["exit-code"],
            unreachable.outputs["report"]) == ("failure", "3", "")
    assert_password_nowhere(again)


# -- the action's own YAML --

def test_actionlint_and_zizmor_find_nothing_in_the_action_or_a_users_workflow() -> None:
    """zizmor audits the action like a workflow; actionlint checks the workflows that use it
    (`uses: ./`: its inputs exist, its required ones are given) and a user's."""
    lint = subprocess.run([str(BIN / "actionlint"), "-no-color", str(USER_WORKFLOW)], cwd=REPO,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona=auditor",
                            "--no-progress", str(REPO / "action.yml"), str(USER_WORKFLOW)],
                           cwd=REPO, capture_output=True, text=True)
    assert audit.returncode == 0 and "No findings to report" in audit.stdout + audit.stderr, \
        audit.stdout + audit.stderr


def test_the_docs_show_the_workflow_the_tests_run_and_every_input_and_output() -> None:
    docs = (REPO / "docs" / "github-actions.md").read_text()
    assert f"```yaml\n{USER_WORKFLOW.read_text()}```" in docs
    action = load(str(REPO / "action.yml"))
    for table in ("input", "output"):
        rows = docs.split(f"| {table} |", 1)[1].split("\n\n", 1)[0]
        assert re.findall(r"^\| `([\w-]+)` \|", rows, re.M) == list(action[f"{table}s"])

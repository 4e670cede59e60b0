"""The workflows, run whole by the emulated runner (emulate.py): the PR check end to end, the
deploy chain with a password that needs escaping and a migration that fails, plan-bound applies,
dry runs, nightly drift and its issues, the rdev seed; and the emulator's own fidelity (the
default shell, masking, status functions, concurrency groups)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import (
    HEAD,
    IDS,
    REPO,
    OwnServer,
    add_revision,
    commit_all,
    dbci,
    git,
    put_secret,
    run_sql,
    server,
    tables,
    version,
)
from emulate import WORKFLOWS, Concurrency, Emulator, Run, load
from sqlalchemy.engine import make_url
from test_seed import BUCKET, HEAD_KEY, OLD_KEY, TF, bucket, database  # noqa: F401

#: Every (workflow, job) some test here ran; the last test checks that none is missing.
RAN: set[tuple[str, str]] = set()


def emulate(tmp_path: Path, checkout: Path, event_name: str, **options: Any) -> Emulator:
    """An emulated GitHub (its own folder) for the test's project, which stands in for this
    repository: its action (`uses: ./`) comes with it."""
    if not (checkout / "action.yml").exists():
        shutil.copy2(REPO / "action.yml", checkout / "action.yml")
    root = tmp_path / "github"
    while root.exists():
        root = root.with_name(root.name + "+")
    return Emulator(root, checkout, event_name=event_name, **options)


def record(workflow: str, run: Run) -> Run:
    """Note which jobs ran (a called workflow's jobs under its own file's name)."""
    for key in run.ran():
        *callers, job = key.split("/")
        if callers:
            uses = load(workflow)["jobs"][callers[0]]["uses"]
            RAN.add((uses.rsplit("/", 1)[1], job))
        else:
            RAN.add((workflow, job))
    return run


def all_text(run: Run) -> str:
    """Every file the run wrote, and its logs raw and shown."""
    logs = [s.raw + s.shown for jobs in run.jobs.values() for j in jobs for s in j.steps]
    return "\n".join([*run.written().values(), *logs])


# -- the emulator itself: as GitHub runs a job --

def workflow(tmp_path: Path, jobs: dict[str, Any], **top: Any) -> str:
    path = tmp_path / "wf.yml"
    path.write_text(json.dumps({"name": "t", "on": {"workflow_dispatch": {}},
                                "permissions": {}, **top, "jobs": jobs}))
    return str(path)


def job(*steps: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"runs-on": "ubuntu-latest", "steps": list(steps), **more}


def test_the_default_shell_is_bash_e_without_pipefail(tmp_path: Path) -> None:
    """GitHub runs a `run:` with no shell as `bash -e {0}`: a failing command piped into
    another ends green. `shell: bash` (here or in `defaults`) adds pipefail."""
    emulator = emulate(tmp_path, tmp_path, "workflow_dispatch")
    run = emulator.run(workflow(tmp_path, {
        "default": job({"run": "false | true"}, {"run": "echo $- > \"$RUNNER_TEMP/flags\""}),
        "step": job({"run": "false | true", "shell": "bash"}),
        "defaults": job({"run": "false | true"}, defaults={"run": {"shell": "bash"}})}))
    assert run.result("default") == "success"
    assert run.job("default").steps[0].command[:2] == ["bash", "-e"]
    assert (run.result("step"), run.result("defaults")) == ("failure", "failure")
    assert run.job("step").steps[0].command[:5] == ["bash", "--noprofile", "--norc", "-eo",
                                                    "pipefail"]
    top = emulator.run(workflow(tmp_path, {"a": job({"run": "false | true"})},
                                defaults={"run": {"shell": "bash"}}))
    assert top.result("a") == "failure"


def test_masks_come_from_stdout_and_stderr_and_hide_later_lines(tmp_path: Path) -> None:
    run = emulate(tmp_path, tmp_path, "workflow_dispatch").run(workflow(tmp_path, {"a": job(
        {"id": "s", "run": "echo early s3cr3t\necho '::add-mask::s3cr3t' >&2\necho late s3cr3t\n"
                           "echo \"out=x-s3cr3t\" >> \"$GITHUB_OUTPUT\"\n"
                           "echo '::error file=a.py,line=1::s3cr3t broke'"},
        outputs={"out": "${{ steps.s.outputs.out }}"})}))
    step = run.job("a").steps[0]
    assert "early s3cr3t" in step.shown  # a mask hides what comes after it, not before
    assert "late ***" in step.shown and "add-mask" not in step.shown
    assert "late s3cr3t" in step.raw
    assert run.job("a").annotations == ["::error file=a.py,line=1::*** broke"]
    assert step.outputs == {"out": "x-s3cr3t"}
    assert run.job("a").outputs == {}  # GitHub passes no job output that holds a secret


def test_status_functions_needs_and_a_cancel(tmp_path: Path) -> None:
    jobs = {
        "a": job({"run": "exit 1"}, {"run": "echo skipped"},
                 {"if": "failure()", "run": "echo after-failure"}),
        "b": job({"run": "true"}, needs="a"),
        "c": job({"run": "true"}, needs="b", **{"if": "always()"}),
        "d": job({"if": "${{ !cancelled() }}", "run": "true"},
                 {"if": "always()", "run": "true"}, needs="c", **{"if": "always()"}),
        "e": job({"run": "true"}, needs=["a", "c"], **{"if": "failure()"})}
    emulator = emulate(tmp_path, tmp_path, "workflow_dispatch")
    run = emulator.run(workflow(tmp_path, jobs))
    assert [run.result(j) for j in "abcde"] == ["failure", "skipped", "success", "success",
                                                "success"]
    assert [s.outcome for s in run.job("a").steps] == ["failure", "skipped", "success"]
    cancelled = emulate(tmp_path, tmp_path, "workflow_dispatch", cancel_before="d").run(
        workflow(tmp_path, jobs))
    assert [s.outcome for s in cancelled.job("d").steps] == ["skipped", "success"]


def test_a_reusable_workflow_gets_typed_inputs_with_defaults(tmp_path: Path) -> None:
    emulator = emulate(tmp_path, tmp_path, "workflow_dispatch", vars={"DBCI_TUNNEL": "ssm"})
    spec = load("migrate.yml")
    inputs = emulator._inputs(spec["on"]["workflow_call"]["inputs"], {"stage": "dev"})
    assert inputs == {"stage": "dev", "revision": "heads", "dry_run": False,
                      "allow_downgrade": False, "tunnel": "", "runner": "", "scratch_url": ""}
    with pytest.raises(AssertionError):
        emulator._inputs(spec["on"]["workflow_call"]["inputs"], {"stage": "dev",
                                                                  "environment": "prod-read"})


def test_a_dry_run_never_takes_a_real_runs_pending_place() -> None:
    """GitHub keeps one pending job per group: with a group of their own, a dry run queued
    behind a real apply cannot cancel the real apply waiting after it."""
    groups = Concurrency()
    groups.arrive("real-1 apply", "dbci-migrate-prod")
    groups.arrive("real-2 apply", "dbci-migrate-prod")
    groups.arrive("dry plan", "dbci-dry-run-prod")
    groups.arrive("dry plan 2", "dbci-dry-run-prod")
    assert groups.cancelled == []
    groups.arrive("dry plan 3", "dbci-dry-run-prod")
    assert groups.cancelled == ["dry plan 2"]  # dry runs only ever replace each other
    groups.finish("dbci-migrate-prod")
    assert groups.running["dbci-migrate-prod"] == "real-2 apply"


def composite(checkout: Path, *steps: dict[str, Any], **spec: Any) -> None:
    """A composite action at `./act` of the checkout."""
    (checkout / "act").mkdir(parents=True)
    (checkout / "act" / "action.yml").write_text(json.dumps({
        "name": "act", "description": "a test's", **spec,
        "runs": {"using": "composite", "steps": list(steps)}}))


def test_a_composite_action_runs_as_github_runs_one(tmp_path: Path) -> None:
    """Inputs over their defaults, the caller's env, its own shells, `steps` and status; a
    failing step fails the action, whose outputs are still evaluated; GITHUB_ENV outlives it."""
    checkout = tmp_path / "repo"
    composite(checkout, {
        "id": "one", "shell": "bash", "env": {"SEEN": "${{ inputs.given }} ${{ inputs.default }}"},
        "run": 'echo "seen=$SEEN $CALLER $GITHUB_ACTION_PATH" >> "$GITHUB_OUTPUT"\n'
               'echo LATER=yes >> "$GITHUB_ENV"'},
        {"name": "piped (${{ inputs.given }})", "shell": "bash", "run": "false | true"},
        {"shell": "bash", "run": "echo never"},
        {"id": "after", "if": "failure()", "shell": "bash", "run": "echo after-failure"},
        inputs={"given": {"description": "g", "required": True},
                "default": {"description": "d", "default": "${{ github.repository }}"}},
        outputs={"seen": {"description": "s", "value": "${{ steps.one.outputs.seen }}"},
                 "after": {"description": "a", "value": "${{ steps.after.outcome }}"}})
    run = emulate(tmp_path, checkout, "workflow_dispatch").run(workflow(tmp_path, {"a": job(
        {"uses": "actions/checkout@v5"},
        {"id": "act", "uses": "./act", "with": {"given": "g", "extra": "x"},
         "env": {"CALLER": "c"}},
        {"if": "always()", "run": 'echo "later=$LATER"'})}, defaults={"run": {"shell": "sh"}}))
    act = run.job("a").step("act")
    assert act.outcome == "failure" and run.result("a") == "failure"
    assert [(s.name, s.outcome) for s in act.steps] == [
        ('echo "seen=$SEEN $CALLER $GITHUB_ACTION_PATH" >> "$GITHUB_OUTPUT"', "success"),
        ("piped (g)", "failure"), ("echo never", "skipped"), ("echo after-failure", "success")]
    assert act.steps[1].command[:5] == ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
    seen, path = act.outputs["seen"].rsplit(" ", 1)
    assert seen == "g example/dbci c" and path.endswith("/act") and act.outputs["after"] == \
        "success"
    assert run.job("a").annotations == [
        "::warning::Unexpected input(s) 'extra', valid inputs are ['given', 'default']"]
    assert run.job("a").steps[-1].shown == "later=yes"


def test_a_composite_action_that_cannot_be_read_fails_its_step(tmp_path: Path) -> None:
    """Its `run:` steps must declare a shell, and a local action exists only after checkout."""
    checkout = tmp_path / "repo"
    composite(checkout, {"run": "echo no shell"})
    run = emulate(tmp_path, checkout, "workflow_dispatch").run(workflow(tmp_path, {
        "no-shell": job({"uses": "actions/checkout@v5"}, {"id": "act", "uses": "./act"}),
        "no-checkout": job({"id": "act", "uses": "./act"})}))
    assert "Required property is missing: shell" in run.job("no-shell").step("act").shown
    assert run.job("no-shell").step("act").steps == []
    assert "Did you forget to run actions/checkout" in run.job("no-checkout").step("act").shown
    assert (run.result("no-shell"), run.result("no-checkout")) == ("failure", "failure")


# -- the PR check --

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


def pr_event(project: Path) -> dict[str, Any]:
    base = git(project, "rev-parse", "origin/main").strip()
    return {"event": {"pull_request": {"number": 7, "base": {"sha": base, "ref": "main"},
                                       "head": {"ref": "feature",
                                                "repo": {"full_name": "example/dbci"}}}},
            "base_ref": "main", "head_ref": "feature", "ref": "refs/pull/7/merge"}


def server_major() -> str:
    return str(run_sql(server(), "SHOW server_version_num")[0][0])[:2]


@pytest.mark.db
def test_the_pr_flow_end_to_end(pull_request: Path, tmp_path: Path) -> None:
    revision = add_revision(pull_request, "add_note", 'op.add_column("CollectionCanonical", '
                            'sa.Column("note", sa.Text), schema="persistence_schema")', "pass")
    commit_all(pull_request, "a revision that forgets its downgrade")
    # the service container: the test server stands in for postgres:<major> on localhost
    emulator = emulate(tmp_path, pull_request, "pull_request", github=pr_event(pull_request),
                       services={"check": {"DATABASE_URL": server()}},
                       matrix={"check": {"postgres": [server_major()]}})
    run = record("pr-checks.yml", emulator.run("pr-checks.yml"))
    assert run.job("changes").outputs == {"database": "true", "shards": "[1]"}
    assert run.result("check") == "failure"
    check = run.job("check")
    assert check.annotations == [] and check.step("Keep this shard's report").outcome == "success"
    report = run.job("dbci")
    path = f"database/versions/{revision}_add_note.py"
    assert [a for a in report.annotations if path in a][:1] and len(
        [a for a in report.annotations if path in a]) == len(
        {a for a in report.annotations if path in a}), report.annotations
    (comment,) = run.comments.values()
    assert comment.count(revision) >= 1 and "### PostgreSQL" not in comment.split("\n", 1)[0]
    assert "persistence_schema.CollectionCanonical.note" in comment
    assert report.steps[-1].name == "Fail when a check failed or did not run"
    assert report.steps[-1].outcome == "failure" and run.result("dbci") == "failure"
    assert "checks: failure" in report.steps[-1].shown


@pytest.mark.db
def test_a_pr_that_changes_nothing_under_database_passes(pull_request: Path,
                                                         tmp_path: Path) -> None:
    (pull_request / "notes.txt").write_text("docs only\n")
    commit_all(pull_request, "docs")
    run = emulate(tmp_path, pull_request, "pull_request", github=pr_event(pull_request)).run(
        "pr-checks.yml")
    assert run.job("changes").outputs["database"] == "false"
    assert (run.result("check"), run.result("dbci")) == ("skipped", "success")
    assert run.job("dbci").steps[-1].outcome == "skipped"
    assert "No migration, ORM or dbci change" in run.job("dbci").summary


def test_pr_checks_own_tests_job(tmp_path: Path) -> None:
    """dbci's own job: the lock check, actionlint and zizmor, on this repository (`make test`
    itself is this suite: not run again from inside it)."""
    run = record("pr-checks.yml", emulate(
        tmp_path, REPO, "pull_request", skip=("install", "test")).run("pr-checks.yml"))
    tests = run.job("tests")
    assert tests.result == "success", [s.raw for s in tests.steps]
    assert [s.outcome for s in tests.steps][-3:] == ["success"] * 3


# -- deploys: plan, then apply exactly the plan --

#: A password as users have them: every character a URL must escape.
PASSWORD = "Zq7@:/?#%41 p'w"


@pytest.fixture
def stages(project: Path, aws: str, own_server: OwnServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """dev, staging and prod: a database each on a server that checks passwords over TCP (as
    RDS does), owned by a role whose password needs escaping, in its secret's RDS layout."""
    host, port = own_server.checking_passwords()
    socket_url = own_server.start()
    monkeypatch.setenv("DBCI_CACHE_DIR", str(own_server.cache))  # scratch: the embedded server
    monkeypatch.delenv("DATABASE_URL", raising=False)
    role = f"dbci_deploy_{os.getpid()}_{secrets.token_hex(2)}"
    literal = PASSWORD.replace("'", "''")
    run_sql(socket_url, f'CREATE ROLE "{role}" LOGIN PASSWORD \'{literal}\'')
    urls = {}
    for stage in ("dev", "staging", "prod"):
        name = f"{stage}_{secrets.token_hex(3)}"
        run_sql(socket_url, f'CREATE DATABASE "{name}" OWNER "{role}"')
        put_secret(f"corpora/backend/{stage}/database", {
            "engine": "postgres", "username": role, "password": PASSWORD, "host": host,
            "port": port, "dbname": name})
        urls[stage] = make_url(socket_url).set(database=name).render_as_string(
            hide_password=False)
    yield urls
    for url in urls.values():
        run_sql(socket_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    run_sql(socket_url, f'DROP ROLE IF EXISTS "{role}"')


def assert_password_nowhere(run: Run) -> None:
    text = all_text(run)
    for form in (PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD)):
        assert form not in text


@pytest.mark.db
def test_a_deploy_that_fails_on_dev_stops_there_and_shows_no_password(
        stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    revision = add_revision(project, "add_blocker", 'op.create_table("blocker", '
                            'sa.Column("id", sa.Integer))', 'op.drop_table("blocker")')
    run_sql(stages["dev"], "CREATE TABLE public.blocker (id int)")  # only on dev: the plan,
    # made on a scratch database, passes; the apply fails on the stage
    run = record("deploy-migrations.yml", emulate(
        tmp_path, project, "push", vars={"DBCI_SCRATCH_URL": ""}).run("deploy-migrations.yml"))
    assert run.result("lint") == "success"
    assert run.result("dev/plan") == "success" and run.result("dev/apply") == "failure"
    assert [run.result(k) for k in ("dev", "staging", "prod")] == ["failure", "skipped",
                                                                   "skipped"]
    assert "staging/plan" not in run.jobs  # the next stage never starts
    assert version(stages["dev"]) == {IDS[-1]} and version(stages["staging"]) == set()
    apply = run.job("dev/apply")
    assert apply.environment == "dev" and apply.concurrency == {
        "group": "dbci-migrate-dev", "cancel-in-progress": False}
    assert run.job("dev/plan").environment == "dev-read"
    assert run.job("dev/plan").concurrency["group"] == "dbci-plan-dev"
    summary = apply.summary
    assert "dev" in summary and IDS[-1] in summary and revision in summary
    assert "already exists" in summary  # the error's first line
    assert apply.step("The stage against the migrations").outcome == "skipped"
    assert_password_nowhere(run)


@pytest.mark.db
def test_a_deploy_goes_dev_staging_prod_and_each_apply_runs_its_plan(
        stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    run = record("deploy-migrations.yml", emulate(tmp_path, project, "push").run(
        "deploy-migrations.yml"))
    assert [run.result(k) for k in ("lint", "dev", "staging", "prod")] == ["success"] * 4
    for stage in ("dev", "staging", "prod"):
        assert version(stages[stage]) == {HEAD}
        plan = run.artifact(f"dbci-plan-{stage}-4242-1")
        assert json.loads((plan / "plan.json").read_text())["to"] == [HEAD]
        assert (plan / "plan.sql").read_text().startswith(f"-- dbci migrate --sql: stage {stage}")
        assert f"Migration plan for {stage}" in run.job(f"{stage}/plan").summary
        assert run.job(f"{stage}/apply").environment == stage
    assert_password_nowhere(run)


@pytest.mark.db
def test_the_apply_runs_exactly_the_plan_and_nothing_added_after_it(
        stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    """A revision merged while prod's plan waits for its reviewers does not run with it."""
    def merge_another() -> None:
        add_revision(project, "add_later", 'op.create_table("later", sa.Column("id", '
                     'sa.Integer))', 'op.drop_table("later")')

    emulator = emulate(tmp_path, project, "workflow_dispatch", before={
        "migrate/apply": merge_another})
    run = record("migrate-manual.yml", emulator.run("migrate-manual.yml", {
        "stage": "prod", "dry_run": False}))
    assert run.result("migrate/apply") == "success"
    assert version(stages["prod"]) == {HEAD}  # the plan's target, not the new head
    assert "public.later" not in tables(stages["prod"])
    plan = json.loads((run.artifact("dbci-plan-prod-4242-1") / "plan.json").read_text())
    assert plan["stage"] == "prod" and plan["to"] == [HEAD]
    assert_password_nowhere(run)


@pytest.mark.db
def test_a_plan_whose_revision_changed_before_approval_applies_nothing(
        stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    def edit() -> None:
        path = sorted((project / "database" / "versions").glob("14_*.py"))[0]
        path.write_text(path.read_text() + "\n# changed after the plan\n")

    run = emulate(tmp_path, project, "workflow_dispatch", before={"migrate/apply": edit}).run(
        "migrate-manual.yml", {"stage": "dev", "dry_run": False})
    assert run.result("migrate/apply") == "failure"
    assert version(stages["dev"]) == set() and tables(stages["dev"]) == set()


@pytest.mark.db
def test_a_dry_run_only_plans(stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    run = record("migrate-manual.yml", emulate(tmp_path, project, "workflow_dispatch").run(
        "migrate-manual.yml", {"stage": "staging"}))  # dry_run is the default
    plan = run.job("migrate/plan")
    assert plan.result == "success" and run.result("migrate/apply") == "skipped"
    assert plan.concurrency["group"] == "dbci-dry-run-staging"
    assert plan.step("The stage against the migrations (when nothing is to be applied)"
                     ).outcome == "success"
    assert tables(stages["staging"]) == set()
    assert "Migration plan for staging" in plan.summary
    assert_password_nowhere(run)


def test_a_tunnel_runs_on_a_github_hosted_runner(tmp_path: Path) -> None:
    """Only where the runner goes: the plan job with a tunnel, evaluated, stopped at install."""
    empty = tmp_path / "checkout"
    empty.mkdir()  # no lock file: the install step fails, the job stops there
    emulator = emulate(tmp_path, empty, "workflow_dispatch", vars={"DBCI_TUNNEL": "ssm"},
                       skip=())
    run = emulator.run("migrate-manual.yml", {"stage": "dev"})
    assert run.job("migrate/plan").runs_on == "ubuntu-latest"
    assert run.job("migrate/plan").result == "failure"
    plain = emulate(tmp_path, empty, "workflow_dispatch", skip=()).run(
        "migrate-manual.yml", {"stage": "dev"})
    assert plain.job("migrate/plan").runs_on == ["self-hosted", "linux", "dbci-vpc"]


# -- nightly drift --

@pytest.mark.db
def test_drift_opens_updates_and_closes_one_issue_per_stage(
        stages: dict[str, str], project: Path, tmp_path: Path) -> None:
    for stage in ("dev", "prod"):
        assert dbci("migrate", "--stage", stage).code == 0
    assert dbci("migrate", "--stage", "prod", "--revision", "-1",
                "--allow-downgrade").code == 0  # prod: one revision pending
    emulator = emulate(tmp_path, project, "schedule",
                       matrix={"status": {"stage": ["dev", "prod"]}})
    first = record("schema-drift.yml", emulator.run("schema-drift.yml"))
    assert {j.matrix["stage"]: j.result for j in first.jobs["status"]} == {
        "dev": "success", "prod": "failure"}
    (issue,) = json.loads((emulator.root / "gh" / "state.json").read_text())["issues"]
    assert issue["title"] == "dbci: schema drift on prod"
    assert f"stage prod at {IDS[-2]}, 1 revision pending" in issue["body"]
    emulator.run("schema-drift.yml")  # still pending: the same issue, updated
    state = json.loads((emulator.root / "gh" / "state.json").read_text())
    assert len(state["issues"]) == 1  # one issue per stage, never two
    assert [c["args"][:3] for c in record("schema-drift.yml", first).gh_calls][-1] == [
        "issue", "edit", "1"]
    assert dbci("migrate", "--stage", "prod").code == 0
    second = emulator.run("schema-drift.yml")
    assert second.result("status") == "success"
    issues = json.loads((emulator.root / "gh" / "state.json").read_text())["issues"]
    assert [i["state"] for i in issues] == ["closed"] and issues[0]["comments"]
    assert all(call["token"] for call in second.gh_calls)
    assert_password_nowhere(second)


# -- the rdev seed --

@pytest.mark.db
@pytest.mark.parametrize("event", ["workflow_dispatch", "pull_request"])
def test_the_rdev_seed_never_pushes_to_main(bucket: str, git_project: Path,  # noqa: F811
                                           tmp_path: Path, event: str) -> None:
    origin = tmp_path / "origin.git"
    git(git_project, "clone", "-q", "--bare", str(git_project), str(origin))
    git(git_project, "remote", "add", "origin", str(origin))
    main = git(origin, "rev-parse", "main").strip()
    github: dict[str, Any] = {}
    if event == "pull_request":
        git(git_project, "checkout", "-q", "-b", "feature")
        git(git_project, "push", "-q", "origin", "feature")
        github = {"head_ref": "feature", "base_ref": "main", "ref": "refs/pull/7/merge",
                  "event": {"label": {"name": "rdev-seed"}, "pull_request": {
                      "head": {"ref": "feature", "repo": {"full_name": "example/dbci"}}}}}
    run = record("rdev-seed.yml", emulate(tmp_path, git_project, event, github=github).run(
        "rdev-seed.yml"))
    assert (run.result("seed"), run.result("push")) == ("success", "success"), [
        s.raw for j in run.jobs.values() for i in j for s in i.steps]
    assert git(origin, "rev-parse", "main").strip() == main  # never main
    branch = "feature" if event == "pull_request" else "rdev-seed/4242"
    shown = git(origin, "show", f"{branch}:{TF}")
    assert f"s3://{BUCKET}/{HEAD_KEY}" in shown and OLD_KEY not in shown
    pulls = [c["args"] for c in run.gh_calls]
    if event == "pull_request":
        assert pulls == []
    else:
        assert pulls == [["pr", "create", "--repo", "example/dbci", "--base", "main", "--head",
                          "rdev-seed/4242", "--title",
                          "rdev seed: data_load_path names the head's seed", "--body",
                          "The rdev seed at head, built and uploaded by run 4242 of rdev-seed."]]


# -- every job of every workflow ran --

def test_every_job_of_every_workflow_ran(request: pytest.FixtureRequest) -> None:
    here = [i for i in request.session.items if i.module is request.module]
    if len(here) < len([n for n in globals() if n.startswith("test_")]) or any(
            "db" in i.keywords for i in here) and os.environ.get("DBCI_SKIP_DB"):
        pytest.skip("only when every test of this module runs")
    every = {(p.name, j) for p in WORKFLOWS.glob("*.yml") for j, spec in load(p.name)["jobs"]
             .items() if "uses" not in spec}
    assert every - RAN == set()

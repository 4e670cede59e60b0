"""Bad inputs from a corpus: every one is exit 1 or 2 with one line and no traceback, writes
nothing in the project, runs no shell text it was handed and leaves the stage database alone.

The inputs live in ``corpus/`` (revisions, env.py, alembic.ini, settings, Terraform, secrets,
seeds, reports, dumps), each case in ``corpus/cases.yaml``, which says what each key means.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from conftest import (
    SECRET,
    Run,
    dbci,
    folder_state,
    put_secret,
    rds_layout,
    run_sql,
    server,
    tables,
)

pytestmark = pytest.mark.db

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = CORPUS / "cases.yaml"
MINIMUM_CASES = 210

#: Where a placed file goes, for the kinds that replace one file of the project.
REPLACES = {
    "env": "database/env.py",
    "ini": "alembic.ini",
    "settings": "pyproject.toml",
    "terraform": ".happy/terraform/modules/ecs-stack/main.tf",
}
#: The kinds that add a file of the case's ``target`` name, and the folder it goes in.
ADDS = {"revision": "database/versions", "seed": ".", "file": "."}
PLACES = {*REPLACES, *ADDS, "secret", "none"}
KEYS = {"id", "file", "to", "target", "args", "aws", "stage", "git", "exit", "fragment",
        "absent", "no_database", "no_database_url", "env", "xfail_reason"}
STAGE_URL = "{stage_url}"
#: The rdev seeds' bucket ([tool.dbci] seed_bucket's default), there whenever AWS is.
SEED_BUCKET = "env-rdev-dataportal"


@dataclass(frozen=True)
class Case:
    """One entry of the manifest."""

    id: str
    file: str | None
    to: str
    args: list[Any]
    exit: int
    fragment: str
    target: str | None = None
    aws: bool = False
    stage: bool = False
    git: bool = False
    absent: list[str] = field(default_factory=list)
    no_database: str | None = None
    no_database_url: bool = False  # the user's shell sets no DATABASE_URL
    env: dict[str, str] = field(default_factory=dict)  # the user's shell exports these
    xfail_reason: str | None = None

    @property
    def json(self) -> bool:
        return "--json" in self.args

    @property
    def needs_aws(self) -> bool:
        return self.aws or self.stage or self.to == "secret"


def load_cases() -> list[Case]:
    """The manifest's cases, each checked for keys the test does not know."""
    entries = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for entry in entries:
        assert set(entry) <= KEYS, f"{entry.get('id')}: unknown keys {set(entry) - KEYS}"
    return [Case(**entry) for entry in entries]


CASES = load_cases()


def manifest_problems() -> list[str]:
    """What is wrong with the manifest as a whole: too few cases, duplicate ids, bad places or
    exit codes, a corpus file no case uses or a case naming a file that is not there."""
    problems = []
    if len(CASES) < MINIMUM_CASES:
        problems.append(f"{len(CASES)} cases, fewer than {MINIMUM_CASES}")
    ids = [case.id for case in CASES]
    problems += [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for case in CASES:
        if case.to not in PLACES or (case.file is None) != (case.to == "none"):
            problems.append(f"{case.id}: file {case.file!r} cannot go to {case.to!r}")
        if case.to in ADDS and not case.target:
            problems.append(f"{case.id}: `{case.to}` needs a target file name")
        if case.exit not in (1, 2):
            problems.append(f"{case.id}: exit {case.exit}; bad input is 1 or 2")
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()} - {
        MANIFEST.name}
    used = {case.file for case in CASES if case.file}
    problems += [f"{name}: used by no case" for name in sorted(files - used)]
    problems += [f"{name}: no such file in the corpus" for name in sorted(used - files)]
    return problems


# -- setting a case up ---------------------------------------------------------------------------


def place(case: Case, project: Path) -> None:
    """Put the case's file where it goes in the project (secrets go to AWS: ``stage_secret``)."""
    if case.file is None or case.to == "secret":
        return
    source = CORPUS / case.file
    if case.to in REPLACES:
        dest = project / REPLACES[case.to]
    else:
        assert case.target is not None
        dest = project / ADDS[case.to] / case.target
    dest.write_bytes(source.read_bytes())


def stage_secret(case: Case, stage_url: str) -> None:
    """The dev stage's secret: the case's payload, else the stage database in RDS's layout."""
    if case.to == "secret":
        assert case.file is not None
        put_secret(SECRET, (CORPUS / case.file).read_text(encoding="utf-8"))
    else:
        put_secret(SECRET, rds_layout(stage_url))


def stage_database(case: Case, request: pytest.FixtureRequest) -> str | None:
    """AWS on moto (with the seed bucket) when the case needs it; the stage database (holding
    ``canary``) when it needs one, its URL in the secret."""
    if case.needs_aws or case.no_database_url:  # a stage's URL is its secret's
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("DBCI_TEST_SERVER", server())
        monkeypatch.delenv("DATABASE_URL", raising=False)
    if case.needs_aws:
        request.getfixturevalue("aws")
        boto3.client("s3").create_bucket(Bucket=SEED_BUCKET, CreateBucketConfiguration={
            "LocationConstraint": "us-west-2"})
    if not case.stage and case.to != "secret":
        return None
    url: str = request.getfixturevalue("stage_db")
    stage_secret(case, url)
    run_sql(url, "CREATE TABLE canary (id integer)")
    return url


def drop_afterwards(name: str | None, request: pytest.FixtureRequest) -> None:
    """Drop database ``name`` when the test ends, should dbci have left it behind."""
    if name is not None:
        request.addfinalizer(lambda: run_sql(
            server(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def argument(arg: Any, stage_url: str | None) -> str:
    """One argument of the manifest as dbci gets it."""
    if isinstance(arg, dict):
        return str(arg["repeat"]) * int(arg["times"])
    text = str(arg)
    if STAGE_URL in text:
        assert stage_url is not None, "{stage_url} needs `stage: true`"
        text = text.replace(STAGE_URL, stage_url)
    return text


# -- running and judging -------------------------------------------------------------------------


def run_dbci(args: list[str], capsys: pytest.CaptureFixture[str]) -> Run:
    """dbci in-process; arguments argparse refuses end in SystemExit before dbci runs."""
    capsys.readouterr()
    try:
        return dbci(*args)
    except SystemExit as exc:
        captured = capsys.readouterr()
        return Run(int(exc.code or 0), captured.out, captured.err)


def where_said(case: Case, run: Run) -> str:
    """Where the case's fragment must be: the JSON document, stderr's error line (exit 2), or
    the findings on stdout (exit 1)."""
    if case.json:
        doc = run.json()
        assert doc["ok"] is False, doc
        if case.exit == 2:
            assert doc["exit_code"] == case.exit, doc
        return run.out
    return run.err if case.exit == 2 else run.out + run.err


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` and the SHA-256 of its bytes."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in folder_state(folder).items()}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The files added, removed or rewritten between two trees."""
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


def markers(*folders: Path) -> list[Path]:
    """Files named MARKER below any of ``folders``: a shell ran text dbci was handed."""
    return [path for folder in folders for path in folder.rglob("MARKER")]


def database_exists(name: str) -> bool:
    return bool(run_sql(server(), f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def canary_alive(url: str) -> bool:
    return bool(run_sql(url, "SELECT to_regclass('public.canary') IS NOT NULL")[0][0])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_cleanly(case: Case, project: Path, request: pytest.FixtureRequest,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    problems = manifest_problems()
    assert not problems, "\n".join(problems)
    if case.xfail_reason:  # marked only now: a broken manifest fails whatever the case
        request.applymarker(pytest.mark.xfail(reason=case.xfail_reason, strict=True))
    stage_url = stage_database(case, request)
    if case.git:
        request.getfixturevalue("git_project")
    place(case, project)
    drop_afterwards(case.no_database, request)
    for name, value in case.env.items():
        request.getfixturevalue("monkeypatch").setenv(name, value)
    before = tree(project)

    run = run_dbci([argument(arg, stage_url) for arg in case.args], capsys)

    printed = run.out + run.err
    assert "Traceback" not in printed, printed
    assert run.code == case.exit and run.code in (1, 2), (run.code, printed)
    assert case.fragment in where_said(case, run), printed
    if case.exit == 2 and not case.json:
        assert run.err.splitlines()[-1].startswith("dbci "), f"not one error line:\n{run.err}"
    # a secret may reach GitHub only in the command that masks it, and only on stderr
    shown = run.out + "".join(line for line in run.err.splitlines(keepends=True)
                              if not line.startswith("::add-mask::"))
    for secret in case.absent:
        assert secret not in shown, f"{secret!r} printed:\n{printed}"
    assert not (written := changed(before, tree(project))), f"dbci changed {written}"
    assert not markers(project, Path.cwd()), "a shell ran text dbci was handed"
    if stage_url is not None:
        assert canary_alive(stage_url), "the stage database lost its canary table"
        assert tables(stage_url) == {"public.canary"}, "dbci wrote in the stage database"
    if case.no_database is not None:
        assert not database_exists(case.no_database), f"dbci left database {case.no_database}"


@pytest.mark.parametrize("message", [
    "$(touch MARKER)`touch MARKER`; touch MARKER",
    "x'; DROP TABLE canary; --\" \\ {revision} %s",
    "d" * 10240,
])
def test_a_message_is_only_text(message: str, project: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """``new`` takes any message: it runs none of it, names the file by a short slug of it,
    and keeps it whole, as text, in the docstring of a revision that loads."""
    before = set(tree(project))

    run = run_dbci(["new", message], capsys)

    assert run.code == 0, run.err
    added = sorted(set(tree(project)) - before)
    assert len(added) == 1 and added[0].startswith("database/versions/"), added
    assert len(Path(added[0]).name) <= 100 and Path(added[0]).name.isascii()
    docstring = ast.get_docstring(ast.parse((project / added[0]).read_text(encoding="utf-8")))
    assert docstring is not None and docstring.startswith(message + "\n")
    assert not markers(project, Path.cwd()), "a shell ran text dbci was handed"
    assert run_dbci(["lint"], capsys).code == 0

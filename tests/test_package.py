"""dbci installed the way users install it: a wheel, in a fresh virtual environment.

An editable install reads ``ci/sql/`` from the source tree and so hides package data the wheel
forgot; this test runs the wheel's own files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import REPO, copy_project, git

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(dist), str(REPO)], check=True, capture_output=True)
    (built,) = dist.glob("dbci-*.whl")
    return built


def _venv(root: Path, *installs: list[str]) -> Path:
    """A fresh venv without pip (so without the setuptools Python 3.11 bundles), each of
    ``installs`` done into it by this pip; its ``dbci``."""
    venv.create(root, symlinks=True)
    for args in installs:
        subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"),
                        "install", "--quiet", *args], check=True, capture_output=True)
    return root / "bin" / "dbci"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel in a fresh venv as the action installs it: the hashed lock, then dbci, both
    without dependencies; its ``dbci``."""
    lock = str(REPO / "requirements" / "deploy.txt")
    return _venv(tmp_path_factory.mktemp("action") / "venv",
                 ["--no-deps", "--require-hashes", "-r", lock], ["--no-deps", str(wheel)])


@pytest.fixture(scope="module")
def resolved(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel in a fresh venv as ``pip install dbci`` installs it, its dependencies as
    pip's resolver picks them from the wheel's metadata; its ``dbci``."""
    return _venv(tmp_path_factory.mktemp("pip") / "venv", [str(wheel)])


def test_the_wheel_carries_every_sql_file(installed: Path, tmp_path: Path) -> None:
    found = subprocess.run(
        [str(installed.with_name("python")), "-c",
         "import ci, pathlib; print(pathlib.Path(ci.__file__).parent)"],
        cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    package = Path(found)
    assert package.parent.name == "site-packages"
    shipped = {p.relative_to(package) for p in (package / "sql").rglob("*.sql")}
    source = {p.relative_to(REPO / "ci") for p in (REPO / "ci" / "sql").rglob("*.sql")}
    assert shipped == source


@pytest.mark.parametrize(("how", "command", "says"), [
    ("installed", "roundtrip", "roundtrip: 14 revisions: 14 passed in "),
    ("installed", "check", "## dbci check: ✅ all checks pass"),
    ("installed", "diff", 'create table "persistence_schema"."CollectionVersion"'),
    # the wheel's own metadata names all it needs (no setuptools, so no pkg_resources)
    ("resolved", "check", "## dbci check: ✅ all checks pass"),
])
def test_the_wheel_checks_the_reference_project(how: str, command: str, says: str,
                                               tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    project = copy_project(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    done = subprocess.run([str(request.getfixturevalue(how)), command], cwd=project, env=env,
                          capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    assert says in done.stdout


def test_the_wheel_says_its_version_and_licence(installed: Path, tmp_path: Path) -> None:
    """``dbci --version`` names the installed version; the wheel carries its licence."""
    done = subprocess.run([str(installed), "--version"], cwd=tmp_path, capture_output=True,
                          text=True)
    shown = subprocess.run(
        [str(installed.with_name("python")), "-c", "from importlib import metadata; "
         "m = metadata.metadata('dbci'); print(metadata.version('dbci'), m['License-Expression'])"],
        cwd=tmp_path, check=True, capture_output=True, text=True).stdout.split()
    assert (done.returncode, done.stdout) == (0, f"dbci {shown[0]}\n")
    assert shown[1] == "MIT"
    files = subprocess.run([str(installed.with_name("python")), "-c", "from importlib import "
                            "metadata; print(*metadata.files('dbci'))"], cwd=tmp_path,
                           check=True, capture_output=True, text=True).stdout.split()
    assert any(f.endswith("LICENSE") for f in files)


def test_the_wheel_takes_dash_c_for_the_config_as_alembic_does(installed: Path,
                                                               tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    done = subprocess.run([str(installed), "-c", str(project / "alembic.ini"), "lint"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "lint: ok"), done.stderr


def test_the_wheel_carries_init_s_templates(installed: Path, tmp_path: Path) -> None:
    """``dbci init`` renders the workflows and dbci.mk from package data."""
    found = subprocess.run(
        [str(installed.with_name("python")), "-c", "from importlib import resources; "
         "t = resources.files('ci') / 'templates'; "
         "print(*sorted(str(p.relative_to(t)) for p in t.rglob('*') if p.is_file()))"],
        cwd=tmp_path, check=True, capture_output=True, text=True).stdout.split()
    source = REPO / "ci" / "templates"
    assert found == sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())


def test_the_wheel_s_init_asks_for_the_action_s_commit(installed: Path, tmp_path: Path) -> None:
    """A wheel records no commit: init says, in one line, to pass --action-ref, and writes the
    workflows with it."""
    project = copy_project(tmp_path / "project")
    git(project, "init", "-q")
    done = subprocess.run([str(installed), "init"], cwd=project, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.endswith("pass --action-ref SHA (a full commit of "
                                "https://github.com/dbci-dev/dbci)\n"), done.stderr
    assert len(done.stderr.splitlines()) == 1
    done = subprocess.run([str(installed), "init", "--action-ref", "ab" * 20], cwd=project,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"dbci-dev/dbci@{'ab' * 20}" in (project / ".github" / "workflows" / "pr-checks.yml"
                                          ).read_text()

"""Every command in the README's shell blocks runs as written, or is listed here with the reason
it cannot; a command that is neither fails the test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SECRET, commit_all, copy_project, git, put_secret, rds_layout

from ci import about

pytestmark = pytest.mark.db

README = Path(__file__).resolve().parents[1] / "README.md"
VENV = Path(sys.executable).parent.parent
#: The installation command while dbci is not on PyPI.
INSTALL = f'pip install "dbci @ git+{about.REPOSITORY}@<commit>"'

#: Commands no test runs as written, and why.
NOT_RUN = {
    "make test": "runs the whole test suite, this test included (.ci/run runs it)",
    INSTALL: "needs the network, and <commit> is the reader's to fill in; tests/test_package.py "
             "builds the wheel and checks the reference project with it instead",
}
#: Run in a copy of dbci's repository: its Makefile and the reference project.
IN_DBCI = {"make check"}
#: Run in README order in a user's repository before adoption: the reference project in a git
#: repository of its own, with a pyproject.toml of its own (no [tool.dbci]) and no workflows,
#: its main branch pushed (origin/main), and stage dev's URL in a Secrets Manager secret (moto).
IN_USER_REPOSITORY = {
    "dbci init --stages dev,staging,prod",
    'dbci new "add links to datasets"',
    "dbci check --base origin/main",
    "dbci migrate --stage dev",
}
#: What `make check` is run with: the test's venv is installed already (see dbci_repository).
NO_INSTALL = " -o .venv/.installed"
#: Shell blocks: the fences whose lines are commands.
SHELL = {"sh", "shell", "bash"}


def readme_commands(text: str) -> list[str]:
    """Each command of the README's shell blocks, its trailing comment left out, in order."""
    commands, language = [], None
    for line in text.splitlines():
        fence = re.match(r"^```\s*(\S*)", line)
        if fence:
            language = fence.group(1) if language is None else None
        elif language in SHELL and line.strip() and not line.lstrip().startswith("#"):
            commands.append(re.sub(r"\s+#\s.*$", "", line).strip())
    return commands


def test_every_readme_command_is_run_or_listed_with_its_reason() -> None:
    commands = readme_commands(README.read_text())
    assert len(commands) == len(set(commands)), "a command the README gives twice"
    listed = {**NOT_RUN, **dict.fromkeys(IN_DBCI | IN_USER_REPOSITORY, "")}
    unknown = [c for c in commands if c not in listed]
    assert not unknown, ("a README command this test neither runs nor lists with a reason "
                         f"(tests/test_readme.py): {unknown}")
    stale = sorted(set(listed) - set(commands))
    assert not stale, f"listed in tests/test_readme.py, no longer in the README: {stale}"


def test_the_two_set_up_commands_stay_in_the_readme() -> None:
    assert {"make check", "make test"} <= set(readme_commands(README.read_text()))


@dataclass
class Ran:
    command: str
    code: int
    output: str


def run(command: str, cwd: Path) -> Ran:
    """One README command, as a user's shell runs it, with this venv's dbci first on PATH."""
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    line = command + NO_INSTALL if command in IN_DBCI else command
    done = subprocess.run(["bash", "-e", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    return Ran(command, done.returncode, done.stdout + done.stderr)


def dbci_repository(dest: Path) -> Path:
    """A copy of dbci's repository as `make check` needs it; its .venv is this test's, which is
    installed already: make is told not to install it again (``-o``), the one step of `make
    check` not run here, as an install into the copy would point the shared venv at it."""
    copy_project(dest)
    shutil.copy2(README.parents[0] / "Makefile", dest / "Makefile")
    (dest / ".venv").symlink_to(VENV)
    return dest


def user_repository(dest: Path) -> Path:
    """The reference project as a team's repository that has not adopted dbci yet."""
    copy_project(dest)
    (dest / "pyproject.toml").write_text('[project]\nname = "portal"\nversion = "1.0.0"\n')
    (dest / ".gitignore").write_text("__pycache__/\n")
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "the portal")
    git(dest, "update-ref", "refs/remotes/origin/main", "main")
    return dest


def test_every_readme_command_runs_as_written(tmp_path: Path, aws: str, stage_db: str) -> None:
    put_secret(SECRET, rds_layout(stage_db))  # what `dbci migrate --stage dev` reads
    places = {**dict.fromkeys(IN_DBCI, dbci_repository(tmp_path / "dbci")),
              **dict.fromkeys(IN_USER_REPOSITORY, user_repository(tmp_path / "portal"))}
    ran = [run(c, places[c]) for c in readme_commands(README.read_text()) if c in places]
    failed = [r for r in ran if r.code != 0]
    assert not failed, "\n\n".join(f"$ {r.command}\nexit {r.code}\n{r.output[-3000:]}"
                                   for r in failed)
    assert len(ran) == len(places)

"""dbci's own code stays clean: ruff over the repository's Python, mypy strict over ci/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def test_ruff_finds_nothing() -> None:
    done = subprocess.run([str(BIN / "ruff"), "check", "ci", "tests", "bench", "orm",
                           "database/env.py"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_mypy_strict_finds_nothing_in_ci() -> None:
    done = subprocess.run([str(BIN / "mypy"), "ci"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout

"""The squawk binary: where it is, and a run of it whose failure is never read as "no findings"."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ci.errors import OutsideFailure


def binary() -> str:
    """squawk from this environment (the squawk-cli package), else from PATH."""
    beside = Path(sys.executable).parent / "squawk"
    found = str(beside) if beside.exists() else shutil.which("squawk")
    if not found:
        raise OutsideFailure("squawk is not installed; pip install squawk-cli")
    return found


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run squawk; exit 0 (clean) and 1 (findings) are answers, anything else is a failure."""
    try:
        done = subprocess.run([binary(), *args], capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise OutsideFailure(f"squawk could not run: {exc.strerror}") from exc
    if done.returncode not in (0, 1):
        said = (done.stderr or done.stdout).strip().splitlines()
        raise OutsideFailure(f"squawk failed (exit {done.returncode}): "
                             f"{said[0] if said else 'no output'}")
    return done


def refused(exclude: tuple[str, ...], pg_version: str | None) -> str | None:
    """What squawk says of these settings when it refuses them (an unknown rule, a version it
    cannot read); None when it accepts them."""
    args = ["--reporter", "json", "--stdin-filepath", "settings.sql"]
    if exclude:
        args += ["--exclude", ",".join(exclude)]
    if pg_version:
        args += ["--pg-version", pg_version]
    done = subprocess.run([binary(), *args], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode == 2:
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        return (lines[0] if lines else done.stderr.strip()).removeprefix("error: ")
    return None

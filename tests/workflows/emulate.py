"""A small stand-in for a GitHub Actions runner: the `run:` steps of one job, in order, in bash,
with the variables a runner sets, and `${{ }}` expressions of the simple kinds dbci's workflows
use (`a.b.c`, `'literal'`, `x || y`, `x == false`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    """A workflow as data (PyYAML reads `on:` as True; it is put back as "on")."""
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """One expression: alternatives joined by ||, each a literal, a path, or a comparison."""
    for alternative in expression.split("||"):
        value = _operand(alternative.strip(), context)
        if value not in (None, "", False):
            return value
    return value


def _operand(text: str, context: dict[str, Any]) -> Any:
    if "==" in text:
        left, right = (_operand(part.strip(), context) for part in text.split("==", 1))
        return left == right
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    value: Any = context
    for part in text.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def substitute(text: str, context: dict[str, Any]) -> str:
    """Every ``${{ }}`` of a string, evaluated."""
    return EXPRESSION.sub(lambda m: _text(evaluate(m.group(1), context)), text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


@dataclass
class StepRun:
    """One run step as the emulated runner ran it."""

    name: str
    code: int
    output: str


def run_job(workflow: str, job: str, context: dict[str, Any], env: dict[str, str], cwd: Path,
            skip: tuple[str, ...] = ("install",)) -> list[StepRun]:
    """Run the `run:` steps of a job in order, as a runner would, stopping at the first that
    fails. Steps that `uses:` an action are what the test set up instead (the checkout is
    ``cwd``; Python and dbci are this environment's); steps whose id is in ``skip`` too."""
    spec = load(workflow)["jobs"][job]
    job_env = {k: substitute(str(v), context) for k, v in (spec.get("env") or {}).items()}
    runs: list[StepRun] = []
    for step in spec["steps"]:
        if "run" not in step or step.get("id") in skip:
            continue
        condition = step.get("if")
        if condition is not None and not evaluate(str(condition).strip("${} "), context):
            continue
        step_env = {k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=cwd, capture_output=True, text=True,
                              env={**os.environ, **env, **job_env, **step_env,
                                   "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
        runs.append(StepRun(step.get("name", step["run"][:40]), done.returncode,
                            done.stdout + done.stderr))
        if done.returncode != 0:
            break
    return runs

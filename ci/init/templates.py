"""``python -m ci.init.templates`` (``make templates``): carry each change of this repository's
``.github/workflows/`` into its template under ``ci/templates/workflows/``.

A three-way merge (``git merge-file``) whose base is the workflow as the template renders it for
this repository: a change to lines the template shares with the workflow lands in the template
as it is; one that meets the template's own lines (a placeholder, a block) is left there between
conflict markers to resolve by hand, and the command exits 1. A source checkout's tool: it
writes into the checkout, not into an installed dbci.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.atomic_files import replace_files
from ci.config import Config
from ci.init.adoption import WORKFLOWS, workflow_values
from ci.init.render import render

#: The checkout this module is in: its workflows, and its templates.
REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "ci" / "templates" / "workflows"
#: The tool to run when a workflow and its template differ.
DERIVE = "make templates (python -m ci.init.templates)"


def own_values() -> dict[str, Any]:
    """The values that render the templates as this repository's own workflows: dbci's action
    from this checkout, dbci installed from its source, the reference project's AWS region,
    its tests job."""
    return workflow_values(Config.load(REPO / "alembic.ini").settings,
                           action="./ # zizmor: ignore[self-repository]",
                           pip_install="python -m pip install .",
                           folders=["database", "orm", "ci"],
                           files=["alembic.ini", "pyproject.toml", ".happy"],
                           aws_region="us-west-2", own=True)


@dataclass(frozen=True)
class Derived:
    """A template with its workflow's changes merged in, and how many of them conflict."""

    text: str
    conflicts: int


def derive(template: str, workflow: str, values: dict[str, Any]) -> Derived:
    """``template`` with the changes ``workflow`` made since ``render(template, values)``."""
    with tempfile.TemporaryDirectory(prefix="dbci-templates-") as folder:
        paths = [Path(folder, name) for name in ("template", "base", "workflow")]
        for path, text in zip(paths, (template, render(template, values), workflow),
                              strict=True):
            path.write_text(text)
        done = subprocess.run(
            ["git", "merge-file", "--stdout", "-L", "template", "-L", "the workflow the "
             "template renders", "-L", "the workflow", *map(str, paths)],
            capture_output=True, text=True, check=False)
    if not 0 <= done.returncode < 128:
        raise RuntimeError(f"git merge-file failed: {done.stderr.strip()}")
    return Derived(done.stdout, done.returncode)


def main(argv: Sequence[str] | None = None) -> int:
    """Merge each workflow's changes into its template; exit 1 when one conflicts."""
    parser = argparse.ArgumentParser(prog="python -m ci.init.templates", description=__doc__)
    parser.parse_args(argv)
    values = own_values()
    workflows = REPO / ".github" / "workflows"
    derived = {name: derive((TEMPLATES / name).read_text(), (workflows / name).read_text(),
                            values) for name in WORKFLOWS}
    changed = {TEMPLATES / name: d.text for name, d in derived.items()
               if d.text != (TEMPLATES / name).read_text()}
    replace_files(changed)
    for path in changed:
        print(f"updated {path.relative_to(REPO)}")
    conflicting = [name for name, d in derived.items() if d.conflicts]
    for name in conflicting:
        print(f"{TEMPLATES.relative_to(REPO)}/{name}: {derived[name].conflicts} change(s) of "
              f".github/workflows/{name} meet the template's own lines; resolve the conflict "
              "markers there, then run this again")
    return 1 if conflicting else 0


if __name__ == "__main__":
    sys.exit(main())

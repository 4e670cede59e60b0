"""Synthetic Alembic histories of N revisions, laid out like the reference project.

A project is a folder with the reference project's ``alembic.ini``, ``database/env.py`` and
``database/script.py.mako`` (copied, so it follows the same pattern), revision files written
through that template, and an ``orm.py`` whose models match the schema at head. The same seed
gives the same history. ``--break-downgrade K`` makes revision K's downgrade forget a column it
created; ``--drift-orm`` leaves one column out of the models.

    python -m bench.generate OUT --revisions 200 [--seed 1] [--break-downgrade K] [--drift-orm]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from alembic import util

from bench import models
from bench.schema import Schema
from bench.steps import WEIGHTED, Step, add_indexed_column, create_schema, next_step
from ci.naming import NamingScheme, slugify

REPO = Path(__file__).resolve().parents[1]
#: Copied from the reference project as they are.
COPIED = ("alembic.ini", "database/env.py", "database/script.py.mako")
FIRST_DATE = datetime.datetime(2024, 1, 1, 9, 0)


@dataclass(frozen=True)
class Project:
    """A generated project and what was done to it on purpose."""

    path: Path
    revisions: list[str]
    broken: str | None = None
    missing_column: str | None = None

    @property
    def ini(self) -> Path:
        """Its alembic.ini."""
        return self.path / "alembic.ini"


def _steps(count: int, rng: Random, schema: Schema, break_at: int | None) -> list[Step]:
    steps = [create_schema(schema, rng)]
    tour = [kind for kind, _ in WEIGHTED]
    for number in range(2, count + 1):
        if number == break_at:
            step = add_indexed_column(schema, rng)
            assert step is not None and step.forgettable is not None
            del step.downgrade[step.forgettable]
            steps.append(step)
        else:
            steps.append(next_step(schema, rng, tour))
    return steps


def write_revision(template: Path, versions: Path, number: int, rev_hex: str,
                   down: str | tuple[str, ...] | None, message: str, upgrade: list[str],
                   downgrade: list[str]) -> str:
    """Write one revision file through the project's template; its revision id."""
    naming = NamingScheme()
    slug = slugify(message) or "revision"
    revision = naming.revision(number, rev_hex, slug)
    util.template_to_file(
        template, versions / naming.filename(number, rev_hex, slug), "utf-8",
        up_revision=revision, down_revision=down, branch_labels=None, depends_on=None,
        create_date=FIRST_DATE + datetime.timedelta(hours=number), comma=util.format_as_comma,
        message=message, imports="from sqlalchemy.dialects import postgresql",
        upgrades="\n    ".join(upgrade), downgrades="\n    ".join(downgrade))
    return revision


def generate(path: Path, revisions: int, seed: int = 1, break_at: int | None = None,
             drift_orm: bool = False, rename_referenced: bool = False) -> Project:
    """Write a project of ``revisions`` revisions into ``path`` (which must not exist)."""
    if revisions < 3:
        raise ValueError("a history needs at least 3 revisions")
    if break_at is not None and not 3 <= break_at <= revisions:
        raise ValueError(f"--break-downgrade takes a revision from 3 to {revisions}")
    (path / "database" / "versions").mkdir(parents=True)
    for name in COPIED:
        shutil.copyfile(REPO / name, path / name)
    rng = Random(seed)
    schema = Schema(rename_referenced=rename_referenced)
    ids: list[str] = []
    for number, step in enumerate(_steps(revisions, rng, schema, break_at), start=1):
        ids.append(write_revision(path / "database" / "script.py.mako",
                                  path / "database" / "versions", number,
                                  f"{rng.getrandbits(48):012x}", ids[-1] if ids else None,
                                  step.message, step.upgrade, step.downgrade))
    missing = models.drifting_column(schema) if drift_orm else None
    (path / "orm.py").write_text(models.orm_source(schema, missing[1] if missing else None))
    return Project(path, ids, ids[break_at - 1] if break_at else None,
                   f"{missing[0].qualified}.{missing[1].name}" if missing else None)


#: Commits in the benchmark's repositories are the benchmark's, whoever runs it.
GIT = ("git", "-c", "user.name=dbci bench", "-c", "user.email=bench@dbci.invalid",
       "-c", "commit.gpgsign=false")


def with_base(project: Project, new: int) -> str:
    """Make the project a git repository whose branch ``main`` holds all but its last ``new``
    revisions, checked out on a branch ``feature`` that adds them (what a pull request looks
    like to ``dbci check --base``); the base's name."""
    versions = project.path / "database" / "versions"
    last = project.revisions[len(project.revisions) - new:]
    added = [p for p in versions.glob("*.py") if any(p.name.startswith(f"{r}_") for r in last)]
    (project.path / ".gitignore").write_text("__pycache__/\n")
    commands = [["init", "-q", "-b", "main"],
                ["add", "-A", "--", ".", *(f":!{p.relative_to(project.path)}" for p in added)],
                ["commit", "-q", "-m", "base"], ["checkout", "-q", "-b", "feature"],
                ["add", "-A"], ["commit", "-q", "-m", f"{new} new revisions"]]
    for args in commands:
        subprocess.run([*GIT, *args], cwd=project.path, check=True, capture_output=True)
    return "main"


def main(argv: Sequence[str] | None = None) -> int:
    """Generate one project and say what it holds."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to create")
    parser.add_argument("--revisions", type=int, default=50, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--break-downgrade", type=int, metavar="K",
                        help="revision K's downgrade forgets to drop the column it added")
    parser.add_argument("--drift-orm", action="store_true",
                        help="the ORM leaves out one column the migrations create")
    parser.add_argument("--rename-referenced-tables", action="store_true",
                        help="let table renames pick tables that foreign keys point at")
    args = parser.parse_args(argv)
    try:
        project = generate(args.out, args.revisions, args.seed, args.break_downgrade,
                           args.drift_orm, args.rename_referenced_tables)
    except (ValueError, FileExistsError) as exc:
        print(f"bench.generate: {exc}", file=sys.stderr)
        return 2
    print(f"{project.path}: {len(project.revisions)} revisions, head {project.revisions[-1]}")
    if project.broken:
        print(f"broken downgrade: {project.broken}")
    if project.missing_column:
        print(f"the ORM leaves out {project.missing_column}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m ci.docs_samples [FILE]``: docs/sample-pr-comment.md, the PR comment of a real run.

A copy of the reference project becomes a git repository whose branch adds one revision with
two faults; dbci checks it as the pull-request workflow does (``dbci --json check --base
origin/main --shard 1/1``, then ``dbci report --comment``) and the comment's body becomes the
page. ``make docs`` runs it; a test fails while the committed page is another.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ci import about
from ci.atomic_files import replace_files
from ci.rules.base import DOCS as RULES_PAGE

#: The installed command the sample runs.
DBCI = Path(sys.executable).parent / "dbci"
#: The page, from the repository root.
PAGE = "docs/sample-pr-comment.md"
#: What of the repository a copy of the reference project needs.
PROJECT_FILES = ("alembic.ini", "pyproject.toml", "database", "orm", ".happy")
#: The revision the branch adds: a column and an index built without CONCURRENTLY (squawk),
#: and a downgrade that drops the index but leaves the column (the round trip).
REVISION_FILE = "database/versions/15_5e1f0c2a9b7d_add_dataset_notes.py"
REVISION = '''"""add notes to dataset versions

Revision ID: 15_5e1f0c2a9b7d
Revises: 14_3a5e33b5fa4a
Create Date: 2025-07-01 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "15_5e1f0c2a9b7d"
down_revision = "14_3a5e33b5fa4a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("DatasetVersion", sa.Column("notes", sa.Text(), nullable=True),
                  schema="persistence_schema")
    op.create_index("ix_dataset_version_notes", "DatasetVersion", ["notes"],
                    schema="persistence_schema")


def downgrade() -> None:
    op.drop_index("ix_dataset_version_notes", table_name="DatasetVersion",
                  schema="persistence_schema")
'''
#: The ORM declares the column and its index too, so drift agrees and the sample shows the two
#: faults alone: (text in orm/models.py, what it becomes).
ORM_EDITS = (
    ('    __table_args__ = (sa.Index(None, "metadata", postgresql_using="gin"),)\n',
     '    __table_args__ = (sa.Index(None, "metadata", postgresql_using="gin"),\n'
     '                      sa.Index("ix_dataset_version_notes", "notes"))\n'),
    ('    validation_message: Mapped[str | None] = mapped_column(sa.Text())\n',
     '    validation_message: Mapped[str | None] = mapped_column(sa.Text())\n'
     '    notes: Mapped[str | None] = mapped_column(sa.Text())\n'),
)
#: The rules the sample must show; any other outcome is a broken scenario, never a page.
EXPECTED_RULES = {"require-concurrent-index-creation", "downgrade-leaves-objects"}
#: What differs from run to run: the round trip's time.
SECONDS = re.compile(r"\bin \d+(\.\d+)?s\b")
#: The environment a run must not take from the caller: another server, a CI job's files.
NOT_PASSED = ("DATABASE_URL", "DBCI_SCRATCH_URL", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "CI",
              "GITHUB_ACTIONS")

HEADER = """# A sample PR comment

<!-- Generated from a real run by `make docs` (python -m ci.docs_samples {page});
do not edit by hand. -->

What dbci posts on a pull request, made by a real run on the reference project, not written by
hand. The branch adds one revision, `15_5e1f0c2a9b7d`, whose upgrade adds a column and builds an
index without `CONCURRENTLY`, and whose downgrade drops the index but forgets the column (the
ORM declares both, so drift agrees). It is checked as the pull-request workflow checks it:
`dbci --json check --base origin/main --shard 1/1`, then `dbci report --comment FILE` on that
report. The workflow joins one report per PostgreSQL version (14 to 18) and shard; this run had
one, on the embedded PostgreSQL 18. The round trip's time reads `N.Ns` here, and the rule links
point at [rules.md](rules.md) beside this page.

<details><summary>The revision the branch adds</summary>

```python
{revision}```

</details>

What follows is the comment, as GitHub renders it:

---

"""


class SampleFailed(Exception):
    """The scenario did not give the comment it exists to show."""


def sample_comment(repository: Path) -> str:
    """The page: the scenario, then the comment body of a real check of it."""
    if not (repository / "alembic.ini").is_file():
        raise SampleFailed(f"{repository}: no alembic.ini; run this at dbci's repository root")
    with tempfile.TemporaryDirectory(prefix="dbci-sample-") as tmp:
        project = _branch(repository, Path(tmp) / "project")
        report, comment = Path(tmp) / "report.json", Path(tmp) / "comment.md"
        check = _dbci(project, "--json", "check", "--base", "origin/main", "--shard", "1/1")
        report.write_text(check.stdout)
        joined = _dbci(project, "--json", "report", "--comment", str(comment), str(report))
        found = {f["rule"] for f in _findings(joined.stdout)}
        if (check.returncode, joined.returncode, found) != (1, 1, EXPECTED_RULES):
            raise SampleFailed(f"the sample's check exited {check.returncode} and its report "
                               f"{joined.returncode} with rules {sorted(found)}, not 1 with "
                               f"{sorted(EXPECTED_RULES)}:\n{check.stderr}{joined.stderr}")
        body = comment.read_text()
    body = SECONDS.sub("in N.Ns", body)
    for docs in (about.DOCS, ""):  # the rules' page, whole or from the repository root
        body = body.replace(f"]({docs}{RULES_PAGE}#", "](rules.md#")
    return HEADER.format(page=PAGE, revision=REVISION) + body


def _branch(repository: Path, project: Path) -> Path:
    """A copy of the reference project: ``main`` (also as ``origin/main``), and a branch
    ``feature`` that adds the revision."""
    project.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = repository / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, project / name)
    (project / ".gitignore").write_text("__pycache__/\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "the reference project")
    _git(project, "update-ref", "refs/remotes/origin/main", "main")
    _git(project, "checkout", "-q", "-b", "feature")
    (project / REVISION_FILE).write_text(REVISION)
    models = project / "orm" / "models.py"
    text = models.read_text()
    for old, new in ORM_EDITS:
        if old not in text:
            raise SampleFailed(f"orm/models.py no longer holds {old.strip()!r}: update "
                               "ORM_EDITS in ci/docs_samples.py")
        text = text.replace(old, new)
    models.write_text(text)
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "add notes to dataset versions")
    return project


def _findings(document: str) -> list[dict[str, Any]]:
    """The findings of a ``--json`` run's document; none when it is not one."""
    try:
        findings = json.loads(document).get("findings", [])
    except (ValueError, AttributeError):
        return []
    return findings if isinstance(findings, list) else []


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dbci", "GIT_AUTHOR_EMAIL": "dbci@example.com",
           "GIT_COMMITTER_NAME": "dbci", "GIT_COMMITTER_EMAIL": "dbci@example.com"}
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env, check=True,
                   capture_output=True)


def _dbci(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``dbci`` command beside this Python, as the workflow runs it, on the embedded
    server."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    return subprocess.run([str(DBCI), *args], cwd=project, env=env,
                          capture_output=True, text=True, check=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or print) the sample PR comment page."""
    parser = argparse.ArgumentParser(prog="python -m ci.docs_samples", description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, help=f"where to write it (e.g. {PAGE})")
    args = parser.parse_args(argv)
    try:
        page = sample_comment(Path.cwd())
    except SampleFailed as exc:
        print(f"python -m ci.docs_samples: {exc}", file=sys.stderr)
        return 1
    if args.file is not None:
        replace_files({args.file: page})
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lint's transaction rule: a revision never ends Alembic's transaction under it (rule:
``ci/rules/transaction.py``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ci.findings import Finding
from ci.history import Revision
from ci.revision_code import commits_outside_a_block
from ci.rules.transaction import COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK


def check_commits(rev: Revision) -> Iterator[Finding]:
    """Each ``.commit()`` a revision's upgrade or downgrade makes outside an autocommit block."""
    for name in ("upgrade", "downgrade"):
        for call in commits_outside_a_block(rev, name):
            yield COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK.at(
                rev, f"{name}() of {rev.id} calls {ast.unparse(call)} outside an autocommit "
                "block: `alembic upgrade` rolls back what follows it, and the version stamp, "
                "while reporting success", line=call.lineno)

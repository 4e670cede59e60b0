"""The transaction rule: a revision never ends Alembic's transaction under it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ci.findings import Finding
from ci.history import Revision
from ci.rules.base import rule

COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK = rule(
    "commit-outside-autocommit-block",
    """``upgrade()`` or ``downgrade()`` calls ``.commit()`` (``op.get_bind().commit()``)
    outside ``with op.get_context().autocommit_block():``. That ends the transaction Alembic
    runs the revision in; what follows, and Alembic's own update of ``alembic_version``, land
    in a transaction nobody commits. With an env.py that runs the migrations in one
    transaction (Alembic's template), ``alembic upgrade`` exits 0 and the end of the session
    rolls that work back, so the next upgrade runs the revision again. (``dbci migrate``
    commits what is left open, but no other tool does.)""",
    "run what must be outside a transaction inside `with op.get_context().autocommit_block():`"
    " instead of committing",
)


def _commits(node: ast.AST, in_block: bool = False) -> Iterator[ast.Call]:
    """The ``x.commit()`` calls below ``node`` outside any ``with ...autocommit_block():``."""
    if isinstance(node, ast.With | ast.AsyncWith):
        in_block = in_block or any("autocommit_block" in ast.unparse(item.context_expr)
                                   for item in node.items)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit" and not node.args and not in_block):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _commits(child, in_block)


def check_commits(rev: Revision) -> Iterator[Finding]:
    """Each ``.commit()`` a revision's upgrade or downgrade makes outside an autocommit block."""
    if ".commit(" not in rev.source:
        return  # most revisions: no need to parse them
    for name in ("upgrade", "downgrade"):
        func = rev.function(name)
        for call in _commits(func) if func is not None else ():
            yield COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK.at(
                rev, f"{name}() of {rev.id} calls {ast.unparse(call)} outside an autocommit "
                "block: `alembic upgrade` rolls back what follows it, and the version stamp, "
                "while reporting success", line=call.lineno)

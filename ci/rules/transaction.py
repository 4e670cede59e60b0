"""The transaction rule: a revision never ends Alembic's transaction under it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TypeGuard

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


def _opens_a_block(node: ast.AST | None) -> bool:
    return isinstance(node, ast.With | ast.AsyncWith) and any(
        "autocommit_block" in ast.unparse(item.context_expr) for item in node.items)


def _commits(node: ast.AST, in_block: bool = False) -> Iterator[ast.Call]:
    """The ``x.commit()`` calls below ``node`` outside any ``with ...autocommit_block():``, but
    one right before such a block (nothing runs between: the block gives Alembic a transaction
    again, so nothing is lost)."""
    in_block = in_block or _opens_a_block(node)
    for field in ("body", "orelse", "finalbody"):
        statements = getattr(node, field, None)
        if not isinstance(statements, list):
            continue
        for index, here in enumerate(statements):
            after = statements[index + 1] if index + 1 < len(statements) else None
            call = here.value if isinstance(here, ast.Expr) else None
            if _is_commit(call) and (in_block or _opens_a_block(after)):
                continue
            yield from _commits(here, in_block)
    if _is_commit(node) and not in_block:
        yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.stmt):  # statements were walked above
            yield from _commits(child, in_block)


def _is_commit(node: ast.AST | None) -> TypeGuard[ast.Call]:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit" and not node.args)


def commits_outside_a_block(rev: Revision, function: str) -> Iterator[ast.Call]:
    """The ``.commit()`` calls of a revision's ``upgrade`` or ``downgrade`` outside any
    autocommit block."""
    if ".commit(" not in rev.source:
        return  # most revisions: no need to parse them
    func = rev.function(function)
    yield from _commits(func) if func is not None else ()


def check_commits(rev: Revision) -> Iterator[Finding]:
    """Each ``.commit()`` a revision's upgrade or downgrade makes outside an autocommit block."""
    for name in ("upgrade", "downgrade"):
        for call in commits_outside_a_block(rev, name):
            yield COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK.at(
                rev, f"{name}() of {rev.id} calls {ast.unparse(call)} outside an autocommit "
                "block: `alembic upgrade` rolls back what follows it, and the version stamp, "
                "while reporting success", line=call.lineno)

"""What a revision's code says of itself, read from its source: that its downgrade cannot undo
it (a marker, or a ``NotImplementedError`` with a reason), and the ``.commit()`` calls that end
Alembic's transaction under it. Lint's rules and the round trip both ask."""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

from ci.history import Revision

#: ``# dbci: irreversible -- <reason>`` marks a downgrade that cannot restore the schema.
IRREVERSIBLE = re.compile(r"#\s*dbci:\s*irreversible\b\s*(?:(?:--|:)\s*(.*\S))?")


def irreversible_reason(rev: Revision) -> str | None:
    """The reason given by the irreversible marker; ``""`` when the marker has none."""
    marks = rev.lines_matching(IRREVERSIBLE)
    return (marks[0][1].group(1) or "") if marks else None


def not_implemented_raises(func: ast.FunctionDef) -> Iterator[ast.Raise]:
    """The ``raise NotImplementedError...`` statements of a function (pytest-alembic's
    convention for a downgrade that cannot be written)."""
    for node in ast.walk(func):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                yield node


def gives_reason(node: ast.Raise) -> bool:
    """``raise NotImplementedError("<reason>")``: not the bare class, not an empty message."""
    call = node.exc
    return isinstance(call, ast.Call) and bool(call.args) and not (
        isinstance(call.args[0], ast.Constant) and not str(call.args[0].value).strip())


def raises_not_implemented(func: ast.FunctionDef) -> bool:
    """True when the function raises NotImplementedError with a reason."""
    return any(gives_reason(node) for node in not_implemented_raises(func))


def is_irreversible(rev: Revision) -> bool:
    """Marked irreversible, or its downgrade raises NotImplementedError with a reason."""
    if "NotImplementedError" not in rev.source and "irreversible" not in rev.source:
        return False  # most revisions: no need to parse them
    func = rev.function("downgrade")
    return irreversible_reason(rev) is not None or (
        func is not None and raises_not_implemented(func))


def irreversible_at_run_time(rev: Revision, error: BaseException) -> bool:
    """Whether what a downgrade raised says it cannot be undone: a NotImplementedError with a
    reason, raised in the revision's own file. One raised by Alembic, SQLAlchemy or any other
    code it calls says something else (an operation this database lacks): a failure."""
    if not isinstance(error, NotImplementedError) or not str(error).strip():
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == rev.path.resolve()


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

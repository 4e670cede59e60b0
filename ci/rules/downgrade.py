"""The downgrade rule: every revision can be undone, or says plainly that it cannot."""

from __future__ import annotations

import ast
import traceback
from collections.abc import Iterator
from pathlib import Path

from ci.findings import Finding
from ci.history import Revision
from ci.rules.base import ALLOW, IRREVERSIBLE, irreversible_reason, rule

MISSING_DOWNGRADE = rule(
    "missing-downgrade",
    """``downgrade()`` is missing or does nothing (``pass``) while ``upgrade()`` does something
    (an empty revision, as ``dbci new`` writes it, is fine), so rolling back a deploy leaves the
    schema ahead of the code. A revision that truly cannot be undone says so: a comment
    ``# dbci: irreversible -- <reason>`` in the file, or a downgrade that raises
    ``NotImplementedError("<reason>")`` itself; the round trip then skips it with a note. Read
    from the code, the rule names the calls it saw in ``upgrade()``; with ``--base``, where dbci
    ran the new revisions, an upgrade whose statements only read (``SELECT``) is not flagged.""",
    "write a downgrade that undoes upgrade(), or mark it `# dbci: irreversible -- <reason>`",
)
MARKER_WITHOUT_REASON = rule(
    "marker-without-reason",
    """A ``# dbci: allow <rule>`` or ``# dbci: irreversible`` comment must give its reason after
    ``--``, and a downgrade that raises ``NotImplementedError`` gives it as the error's message,
    so the next reader knows why the rule does not apply.""",
    "add the reason: `# dbci: allow <rule> -- <why>` or `# dbci: irreversible -- <why>`",
)


def _does_nothing(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or ``...``
        return False
    return True


def _upgrade_does_nothing(rev: Revision) -> bool:
    upgrade = rev.function("upgrade")
    return upgrade is not None and _does_nothing(upgrade.body)


def _calls(func: ast.FunctionDef) -> list[str]:
    """The calls a function makes, as written (``op.add_column``), first seen first."""
    calls = sorted((node for node in ast.walk(func) if isinstance(node, ast.Call)),
                   key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(ast.unparse(node.func) for node in calls))


def _not_implemented(func: ast.FunctionDef) -> Iterator[ast.Raise]:
    """The ``raise NotImplementedError...`` statements of a function (pytest-alembic's
    convention for a downgrade that cannot be written)."""
    for node in ast.walk(func):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                yield node


def _gives_reason(node: ast.Raise) -> bool:
    """``raise NotImplementedError("<reason>")``: not the bare class, not an empty message."""
    call = node.exc
    return isinstance(call, ast.Call) and bool(call.args) and not (
        isinstance(call.args[0], ast.Constant) and not str(call.args[0].value).strip())


def raises_not_implemented(func: ast.FunctionDef) -> bool:
    """True when the function raises NotImplementedError with a reason."""
    return any(_gives_reason(node) for node in _not_implemented(func))


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


def check_downgrade(rev: Revision) -> Iterator[Finding]:
    """A real downgrade, or an explicit irreversible marker."""
    func = rev.function("downgrade")
    if is_irreversible(rev):
        return
    if func is None:
        yield MISSING_DOWNGRADE.at(rev, f"{rev.id} has no downgrade() function{_saw(rev)}",
                                   line=1)
    elif _does_nothing(func.body) and not _upgrade_does_nothing(rev):
        yield MISSING_DOWNGRADE.at(rev, f"{rev.id}'s downgrade() does nothing{_saw(rev)}",
                                   line=func.lineno)


def _saw(rev: Revision) -> str:
    """What upgrade() does, for the message: the calls it makes, the first four."""
    upgrade = rev.function("upgrade")
    calls = _calls(upgrade) if upgrade is not None else []
    return (f", while upgrade() calls {', '.join(calls[:4])}{', ...' if len(calls) > 4 else ''}"
            if calls else ", while upgrade() has code")


def check_markers(rev: Revision) -> Iterator[Finding]:
    """Allow and irreversible comments without a reason."""
    for line, match in rev.lines_matching(ALLOW):
        if not match.group(2):
            yield MARKER_WITHOUT_REASON.at(
                rev, f"`# dbci: allow {match.group(1)}` gives no reason", line=line,
                hint=f"add the reason: `# dbci: allow {match.group(1)} -- <why>`")
    for line, match in rev.lines_matching(IRREVERSIBLE):
        if not match.group(1):
            yield MARKER_WITHOUT_REASON.at(
                rev, "`# dbci: irreversible` gives no reason", line=line,
                hint="add the reason: `# dbci: irreversible -- <why it cannot be undone>`")
    func = rev.function("downgrade") if "NotImplementedError" in rev.source else None
    for node in _not_implemented(func) if func is not None else ():
        if not _gives_reason(node):
            yield MARKER_WITHOUT_REASON.at(
                rev, "`raise NotImplementedError` in downgrade() gives no reason",
                line=node.lineno, hint="add the reason: `raise NotImplementedError(\"<why it "
                "cannot be undone>\")`, or write the downgrade")

"""Lint's downgrade rules: every revision can be undone, or says plainly (and why) that it
cannot (rules: ``ci/rules/downgrade.py``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ci.findings import Finding
from ci.history import Revision
from ci.revision_code import IRREVERSIBLE, gives_reason, is_irreversible, not_implemented_raises
from ci.rules.base import ALLOW
from ci.rules.downgrade import MARKER_WITHOUT_REASON, MISSING_DOWNGRADE


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
    for node in not_implemented_raises(func) if func is not None else ():
        if not gives_reason(node):
            yield MARKER_WITHOUT_REASON.at(
                rev, "`raise NotImplementedError` in downgrade() gives no reason",
                line=node.lineno, hint="add the reason: `raise NotImplementedError(\"<why it "
                "cannot be undone>\")`, or write the downgrade")

"""Lint rules: each has a stable id, a doc paragraph (the problem, the fix) and a fix hint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ci.findings import Finding
from ci.history import Revision

RULES: dict[str, Rule] = {}

#: ``# dbci: allow <rule-id> -- <reason>`` in a revision file allows that rule there.
ALLOW = re.compile(r"#\s*dbci:\s*allow\s+([a-z0-9-]+)\s*(?:(?:--|:)\s*(.*\S))?")
#: ``# dbci: irreversible -- <reason>`` marks a downgrade that cannot restore the schema.
IRREVERSIBLE = re.compile(r"#\s*dbci:\s*irreversible\b\s*(?:(?:--|:)\s*(.*\S))?")


@dataclass(frozen=True)
class Rule:
    """A named check: ``id`` is used in output, docs and ``# dbci: allow`` comments."""

    id: str
    doc: str
    hint: str
    check: str = "lint"

    def at(self, rev: Revision, message: str, *, line: int | None = None,
           hint: str | None = None, **extra: str | None) -> Finding:
        """A finding of this rule at a revision file."""
        return Finding(check=self.check, rule=self.id, message=message, revision=rev.id,
                       file=rev.display, line=line, hint=hint or self.hint, **extra)


def rule(id: str, doc: str, hint: str, check: str = "lint") -> Rule:
    """Define and register a rule."""
    RULES[id] = Rule(id, " ".join(doc.split()), hint, check)
    return RULES[id]


def allowed(rev: Revision) -> dict[str, str]:
    """The rules a revision allows, with their reasons (a missing reason is ``""``)."""
    return {m.group(1): m.group(2) or "" for _, m in rev.lines_matching(ALLOW)}


def irreversible_reason(rev: Revision) -> str | None:
    """The reason given by the irreversible marker; ``""`` when the marker has none."""
    marks = rev.lines_matching(IRREVERSIBLE)
    return (marks[0][1].group(1) or "") if marks else None

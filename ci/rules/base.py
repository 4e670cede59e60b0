"""A rule: a stable id, a doc paragraph (the problem, the fix) and a fix hint; and the markers
a revision uses to allow a rule or to say it cannot be undone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci.findings import Finding

if TYPE_CHECKING:
    from ci.history import Revision

#: Every rule defined so far, by id (``ci.rules`` imports every family, so all of them).
REGISTRY: dict[str, Rule] = {}

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
    checks: tuple[str, ...]

    @property
    def check(self) -> str:
        """The command that reports it (the first, when several do)."""
        return self.checks[0]

    def at(self, rev: Revision, message: str, *, line: int | None = None,
           hint: str | None = None, check: str | None = None, **extra: Any) -> Finding:
        """A finding of this rule at a revision file."""
        return Finding(check=check or self.check, rule=self.id, message=message,
                       revision=rev.id, file=rev.display, line=line, hint=hint or self.hint,
                       **extra)

    def at_file(self, file: str, message: str, *, line: int | None = None,
                hint: str | None = None, **extra: Any) -> Finding:
        """A finding of this rule at a file that is not a revision (env.py, a settings file)."""
        return Finding(check=self.check, rule=self.id, message=message, file=file, line=line,
                       hint=hint or self.hint, **extra)

    def at_stage(self, stage: str, message: str, *, hint: str | None = None,
                 **extra: Any) -> Finding:
        """A finding of this rule at a deployed stage."""
        return Finding(check=self.check, rule=self.id, message=message, stage=stage,
                       hint=hint or self.hint, **extra)


def rule(id: str, doc: str, hint: str, check: str | tuple[str, ...] = "lint") -> Rule:
    """Define and register a rule; an id is defined once."""
    if id in REGISTRY:
        raise ValueError(f"rule {id!r} is defined twice")
    checks = (check,) if isinstance(check, str) else check
    REGISTRY[id] = Rule(id, " ".join(doc.split()), hint, checks)
    return REGISTRY[id]


def allowed(rev: Revision) -> dict[str, str]:
    """The rules a revision allows, with their reasons (a missing reason is ``""``)."""
    return {m.group(1): m.group(2) or "" for _, m in rev.lines_matching(ALLOW)}


def irreversible_reason(rev: Revision) -> str | None:
    """The reason given by the irreversible marker; ``""`` when the marker has none."""
    marks = rev.lines_matching(IRREVERSIBLE)
    return (marks[0][1].group(1) or "") if marks else None

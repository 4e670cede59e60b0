"""A rule: a stable id, a one-line summary, a doc paragraph (the problem, the fix), the fix
itself and the checks that report it; and the marker a revision uses to allow a rule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci.findings import Finding

if TYPE_CHECKING:
    from ci.history import Revision

#: Every rule defined so far, by id (``ci.rules`` imports every family, so all of them).
REGISTRY: dict[str, Rule] = {}

#: The page documenting every rule, one ``## <rule-id>`` heading each (``make docs`` writes it).
DOCS = "docs/rules.md"
#: squawk's page for one of its rules: squawk's ids pass through to lint's findings.
SQUAWK_DOCS = "https://squawkhq.com/docs/{rule}"

#: ``# dbci: allow <rule-id> -- <reason>`` in a revision file allows that rule there.
ALLOW = re.compile(r"#\s*dbci:\s*allow\s+([a-z0-9/-]+)\s*(?:(?:--|:)\s*(.*\S))?")


@dataclass(frozen=True)
class Rule:
    """A named check: ``id`` is used in output, docs and ``# dbci: allow`` comments."""

    id: str
    summary: str  # one line
    doc: str  # the problem, and the fix, in a paragraph
    fix: str  # what to do, as findings say it (a finding may say it more precisely)
    checks: tuple[str, ...]

    @property
    def check(self) -> str:
        """The command that reports it (the first, when several do)."""
        return self.checks[0]

    @property
    def anchor(self) -> str:
        """Its heading's anchor on GitHub: the id, less the ``/`` of a family prefix
        (``impact/table-rewrite`` -> ``impacttable-rewrite``)."""
        return self.id.replace("/", "")

    @property
    def link(self) -> str:
        """Where the rule is documented: ``docs/rules.md#<anchor>``."""
        return f"{DOCS}#{self.anchor}"

    def at(self, rev: Revision, message: str, *, line: int | None = None,
           hint: str | None = None, check: str | None = None, **extra: Any) -> Finding:
        """A finding of this rule at a revision file."""
        return Finding(check=check or self.check, rule=self.id, message=message,
                       revision=rev.id, file=rev.display, line=line, hint=hint or self.fix,
                       doc=self.link, **extra)

    def at_file(self, file: str, message: str, *, line: int | None = None,
                hint: str | None = None, **extra: Any) -> Finding:
        """A finding of this rule at a file that is not a revision (env.py, a settings file)."""
        return Finding(check=self.check, rule=self.id, message=message, file=file, line=line,
                       hint=hint or self.fix, doc=self.link, **extra)

    def at_stage(self, stage: str, message: str, *, hint: str | None = None,
                 **extra: Any) -> Finding:
        """A finding of this rule at a deployed stage."""
        return Finding(check=self.check, rule=self.id, message=message, stage=stage,
                       hint=hint or self.fix, doc=self.link, **extra)


def rule(id: str, *, summary: str, doc: str, fix: str,
         check: str | tuple[str, ...] = "lint") -> Rule:
    """Define and register a rule; an id is defined once."""
    if id in REGISTRY:
        raise ValueError(f"rule {id!r} is defined twice")
    checks = (check,) if isinstance(check, str) else check
    REGISTRY[id] = Rule(id, " ".join(summary.split()), " ".join(doc.split()), fix, checks)
    return REGISTRY[id]


def squawk_link(rule_id: str) -> str:
    """squawk's page for one of its rules."""
    return SQUAWK_DOCS.format(rule=rule_id)


def allowed(rev: Revision) -> dict[str, str]:
    """The rules a revision allows, with their reasons (a missing reason is ``""``)."""
    return {m.group(1): m.group(2) or "" for _, m in rev.lines_matching(ALLOW)}

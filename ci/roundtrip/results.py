"""What a round trip found: each revision's outcome, the result, and the words its findings use."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass

from ci.alembic_env import Statement
from ci.errors import BadInput, described, error_line
from ci.findings import Finding, Verdict, count
from ci.history import Revision
from ci.impact import Impact
from ci.row_digests import Digest
from ci.rules import Rule, allowed
from ci.rules.roundtrip import (
    DOWNGRADE_CHANGES_OBJECTS,
    DOWNGRADE_CHANGES_ROWS,
    DOWNGRADE_DROPS_OBJECTS,
    DOWNGRADE_FAILS,
    DOWNGRADE_LEAVES_OBJECTS,
    UPGRADE_FAILS,
)
from ci.rules.transaction import COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK
from ci.schemadiff import Captured
from ci.snapshot import Difference


@dataclass
class Outcome:
    """How one revision fared."""

    revision: str
    status: str  # "passed", "failed", "skipped", "not run"
    path: str = "fast"  # "fast", "whole snapshots", "autocommit"
    note: str = ""


class Findings:
    """The findings of one run, each fired by its rule, except those the revision allows."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def __len__(self) -> int:
        return len(self.items)

    def fire(self, which: Rule, rev: Revision, message: str, *, line: int | None,
             object: str | None = None, detail: str | None = None,
             hint: str | None = None) -> None:
        """Report ``which`` at ``rev``, unless the revision allows that rule."""
        finding = which.at(rev, message, line=line, object=object, detail=detail, hint=hint)
        if not allowed(rev).get(finding.rule):
            self.items.append(finding)

    def upgrade_failed(self, rev: Revision, error: str) -> None:
        """The upgrade raised ``error`` (one line)."""
        self.fire(UPGRADE_FAILS, rev, f"upgrade of {rev.id} failed: {error}",
                  line=line_of(rev, "upgrade"))

    def upgrade_fails_again(self, rev: Revision, reason: str) -> None:
        """A revision that commits could not be upgraded again after its downgrade; said only
        where nothing else was found at it (what the downgrade left is why)."""
        if not any(f.revision == rev.id for f in self.items):
            self.fire(UPGRADE_FAILS, rev, f"{reason}, run again after its downgrade",
                      line=line_of(rev, "upgrade"))

    def commits_outside_a_block(self, rev: Revision, committing: ast.expr) -> None:
        """The upgrade calls ``.commit()`` outside an autocommit block: plain Alembic's verdict."""
        self.fire(UPGRADE_FAILS, rev, f"upgrade of {rev.id} calls {ast.unparse(committing)} "
                  "outside an autocommit block: `alembic upgrade` exits 0 but rolls back what "
                  "follows the commit, and the version stamp, so the revision never lands",
                  line=committing.lineno, hint=COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK.fix)

    def downgrade_failed(self, rev: Revision, error: BaseException) -> None:
        """The downgrade raised ``error``."""
        self.fire(DOWNGRADE_FAILS, rev, f"downgrade of {rev.id} failed: {raised(error)}",
                  line=line_of(rev, "downgrade"))

    def schema_differences(self, rev: Revision, differences: list[Difference],
                           by_downgrade: list[Difference]) -> set[str]:
        """The schema after the downgrade against before the upgrade (``by_downgrade``: what
        the downgrade itself changed); the ``schema.table`` names whose shape changed."""
        made = {(d.change, d.object) for d in by_downgrade}
        tables = set()
        for diff in differences:
            if diff.change == "added":
                which = DOWNGRADE_LEAVES_OBJECTS
            elif diff.change == "removed":
                which = DOWNGRADE_DROPS_OBJECTS
            else:
                which = DOWNGRADE_CHANGES_OBJECTS
            self.fire(which, rev, difference_message(rev, diff),
                      line=line_of(rev, "downgrade"), object=diff.object,
                      detail=difference_detail(diff),
                      hint=difference_hint(diff, (diff.change, diff.object) in made))
            tables.add(".".join(diff.object.split(".")[:2]))
        return tables

    def row_changes(self, rev: Revision, changed: list[tuple[str, Digest, Digest | None]],
                    reshaped: set[str]) -> None:
        """Rows that changed, except in tables whose changed shape is reported already."""
        for name, (rows, _), now in changed:
            if name.replace('"', "") in reshaped:
                continue
            what = ("is gone or empty" if now is None else
                    f"has {now[0]} rows instead of {rows}" if now[0] != rows else
                    f"has its {rows} rows changed")
            self.fire(DOWNGRADE_CHANGES_ROWS, rev, f"after upgrade then downgrade of {rev.id}, "
                      f"{name} {what}", line=line_of(rev, "downgrade"),
                      object=name.replace('"', ""))

    def explain(self, first: int, statements: list[str]) -> None:
        """Attach migra's SQL to the first schema finding from index ``first`` on."""
        for index in range(first, len(self.items)):
            finding = self.items[index]
            if finding.rule in {DOWNGRADE_LEAVES_OBJECTS.id, DOWNGRADE_DROPS_OBJECTS.id,
                                DOWNGRADE_CHANGES_OBJECTS.id} and statements:
                sql = "\n".join(statements)
                self.items[index] = dataclasses.replace(finding, detail=(
                    f"{finding.detail}\nmigra, what the downgrade should also do:\n{sql}"))
                return


def commits_itself(rev: Revision, direction: str) -> BadInput:
    """A revision that ended the transaction the round trip holds it in, as one line naming it."""
    return BadInput(f"{rev.display}: the {direction} of {rev.id} commits the transaction it "
                    "runs in (COMMIT, or .commit() on the connection), so dbci cannot undo it "
                    "to check it; run statements that must be outside a transaction inside "
                    "`with op.get_context().autocommit_block():`")


def raised(error: BaseException) -> str:
    """What a downgrade raised: the database's line, or a Python error with its type, so a
    ``NotImplementedError`` that is not the revision's own says what it is."""
    return described(error) if isinstance(error, NotImplementedError) else error_line(error)


def line_of(rev: Revision, function: str) -> int | None:
    node = rev.function(function)
    return node.lineno if node else None


def difference_hint(diff: Difference, downgrade_did_it: bool) -> str | None:
    """The fix for one difference, by which step made it: the upgrade (the downgrade forgot to
    undo it) or the downgrade itself (it did too much)."""
    what = f"{diff.kind} {diff.object}"
    if diff.change == "removed" and not downgrade_did_it:
        return f"recreate in downgrade() the {what}, which upgrade() dropped"
    if diff.change == "added" and downgrade_did_it:
        return f"downgrade() creates the {what}, which was not there before upgrade(): drop " \
               "that from downgrade()"
    return None  # the rule's own hint fits


def difference_message(rev: Revision, diff: Difference) -> str:
    verb = {"added": "leaves", "removed": "drops", "changed": "changes"}[diff.change]
    tail = {"added": " behind", "removed": "", "changed": ""}[diff.change]
    return f"downgrade of {rev.id} {verb} {diff.kind} {diff.object}{tail}"


def difference_detail(diff: Difference) -> str:
    lines = []
    if diff.before is not None:
        lines.append(f"before upgrade:         {diff.before}")
    if diff.after is not None:
        lines.append(f"after upgrade+downgrade: {diff.after}")
    return "\n".join(lines)


@dataclass
class RoundTripResult(Verdict):
    """What the round trip found, how each revision fared, and whether head was reached."""

    findings: list[Finding]
    outcomes: list[Outcome]
    seconds: float
    reached_head: bool
    statements: dict[str, list[Statement]] = dataclasses.field(default_factory=dict)
    schema: Captured | None = None  # the schema after ``schema_after`` revisions, when asked
    impact: list[Impact] = dataclasses.field(default_factory=list)  # of the ``capture`` ones

    @property
    def stopped_at(self) -> str | None:
        """The revision whose failed upgrade stopped the run (None: the run reached its end)."""
        failed = [o.revision for o in self.outcomes if o.status == "failed"]
        return None if self.reached_head or not failed else failed[-1]

    def with_status(self, status: str) -> list[str]:
        """The revisions that ended with ``status``, in run order."""
        return [o.revision for o in self.outcomes if o.status == status]

    @property
    def summary(self) -> str:
        """``14 revisions: 13 passed, 1 failed (04_af7d7e1617c9) in 0.6s``."""
        parts = [f"{len(self.with_status('passed'))} passed"]
        for status in ("failed", "skipped", "not run"):
            if ids := self.with_status(status):
                parts.append(f"{len(ids)} {status} ({', '.join(ids)})")
        if not self.outcomes:
            return "no revisions to check"
        return (f"{count(len(self.outcomes), 'revision')}: {', '.join(parts)} in "
                f"{self.seconds:.1f}s")

    @property
    def notes(self) -> list[str]:
        """Skipped revisions and why; revisions that took the slower path."""
        lines = [f"{o.revision} {o.status} ({o.note})" for o in self.outcomes
                 if o.status == "skipped"]
        whole = [o for o in self.outcomes if o.path == "whole snapshots"]
        if whole:
            why = sorted({o.note for o in whole if o.note and o.status != "skipped"})
            lines.append(f"{count(len(whole), 'revision')} took the slower whole-snapshot path"
                         + "".join(f": {reason}" for reason in why))
        committing = sum(o.path == "autocommit" for o in self.outcomes)
        if committing:
            lines.append(f"autocommit: {count(committing, 'revision')} committed, downgraded "
                         "and upgraded again (no savepoint survives a commit)")
        return lines

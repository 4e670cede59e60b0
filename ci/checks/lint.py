"""Lint: naming and history rules over the files; with a base ref, the deployed-history rule
and squawk's lock-safety rules on the SQL each new revision runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci.alembic_env import Statement
from ci.checks.lint_deployed import check_deployed
from ci.checks.lint_downgrade import check_downgrade, check_markers
from ci.checks.lint_graph import check_graph
from ci.checks.lint_naming import adopt, check_duplicate_numbers, check_fixtures, check_revision
from ci.checks.lint_transaction import check_commits
from ci.checks.squawk import CapturedSQL, capture_sql, lint_sql
from ci.config import Config
from ci.db.runners import READS, verb
from ci.errors import BadInput
from ci.findings import Finding, Verdict, count, display_path
from ci.gitrefs import load_base
from ci.history import History, Revision, load_history
from ci.rules import allowed
from ci.rules.downgrade import MISSING_DOWNGRADE


@dataclass
class LintResult(Verdict):
    """What lint found, and what it looked at."""

    findings: list[Finding]
    revisions: int
    versions_dir: str
    base: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. what squawk was given

    @property
    def summary(self) -> str:
        """One line: what was linted (and, with a base, what squawk saw)."""
        return "; ".join([f"{count(self.revisions, 'revision')} in {self.versions_dir}",
                          *self.notes])


def history_findings(history: History) -> list[Finding]:
    """The rules that read only the files: graph, naming, docstrings, downgrades."""
    findings = list(check_graph(history))
    checked = [r for r in history.revisions if r.id not in history.exempt]
    for rev in checked:
        findings += check_revision(history, rev)
        findings += check_downgrade(rev)
        findings += check_markers(rev)
        findings += check_commits(rev)
    findings += check_duplicate_numbers(history, checked)
    findings += check_fixtures(history)
    return adopt(history, findings, checked)


@dataclass
class Pending:
    """What squawk still has to see once the revisions have run: the revisions this branch adds
    since the base, in the order they run."""

    history: History
    order: list[Revision]
    new: list[Revision]


def lint(config: Config, base: str | None = None) -> LintResult:
    """Every lint rule over the project; ``base`` adds the rules that compare with a git ref."""
    result, pending = lint_files(config, base)
    if pending is not None:
        lock_safety(config, result, pending,
                    capture_sql(config, pending.history, pending.order,
                                {r.id for r in pending.new}))
    return result


def lint_files(config: Config, base: str | None = None,
               base_history: History | None = None) -> tuple[LintResult, Pending | None]:
    """The rules that need no database run; and, when revisions were added since ``base``, what
    squawk is to lint once their SQL is captured (by :func:`capture_sql` or a round trip).
    ``base_history`` is the history at ``base`` when the caller loaded it already."""
    history = load_history(config)
    result = LintResult(history_findings(history), len(history.revisions),
                        display_path(history.versions_dir), base)
    if not history.revisions:  # a project before its first revision: nothing wrong, as roundtrip
        result.notes.append("no revisions yet; write the first with `dbci new MESSAGE`")
    pending = None
    if base is not None:
        base_history = base_history or load_base(config, base)
        result.findings += check_deployed(history, base_history, base)
        pending = _pending(history, {r.id for r in base_history.revisions}, result.notes, base)
    result.findings = _without_allowed(history, result.findings)
    return result, pending


def lock_safety(config: Config, result: LintResult, pending: Pending, sql: CapturedSQL) -> None:
    """Add squawk's findings on the new revisions' captured SQL to ``result``; a missing
    downgrade is no finding for an upgrade that, run, only read the database."""
    ran = [r for r in pending.new if r.id in sql.statements]
    note = f"squawk: {count(len(pending.new), 'revision')} added since {result.base}, each " \
           "linted on its own"
    if len(ran) < len(pending.new):
        note += f"; {count(len(pending.new) - len(ran), 'revision')} never ran (an upgrade " \
                "before it failed)"
    result.notes.append(note)
    kept = [f for f in result.findings if not _only_reads(f, sql.statements)]
    found = sql.failures + lint_sql(config, ran, sql.statements, sql.pg_version)
    result.findings = _without_allowed(pending.history, kept + found)


def _only_reads(finding: Finding, captured: dict[str, list[Statement]]) -> bool:
    """A missing-downgrade finding about an upgrade that, run, only read the database."""
    statements = captured.get(finding.revision or "")
    return (finding.rule == MISSING_DOWNGRADE.id and statements is not None
            and all(verb(s.sql) in READS for s in statements))


def _pending(history: History, base_ids: set[str], notes: list[str],
             base: str) -> Pending | None:
    """The revisions added since the base, for squawk; None (with a note) when there are none
    or the history cannot be ordered."""
    try:
        order = history.order()
    except BadInput:  # the graph rules have said why
        notes.append("squawk: skipped, the history is broken (see the findings)")
        return None
    new = [r for r in order if r.id not in base_ids and r.id not in history.exempt]
    if not new:
        notes.append(f"squawk: no revisions added since {base}")
        return None
    return Pending(history, order, new)


def _without_allowed(history: History, findings: list[Finding]) -> list[Finding]:
    allows = {r.id: allowed(r) for r in history.revisions}
    kept = [f for f in findings if not (f.revision and allows.get(f.revision, {}).get(f.rule))]
    return sorted(kept, key=lambda f: (f.file or "", f.line or 0, f.rule))

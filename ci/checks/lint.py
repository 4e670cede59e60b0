"""``dbci lint``: naming and history rules; with ``--base``, deployed history and lock safety."""

from __future__ import annotations

import argparse

from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK, BadInput
from ci.findings import Finding, Printer, Result, display_path
from ci.gitrefs import project_at
from ci.history import History, load_history
from ci.rules import allowed
from ci.rules.deployed import check_deployed
from ci.rules.downgrade import check_downgrade, check_markers
from ci.rules.graph import check_graph
from ci.rules.naming import check_duplicate_numbers, check_revision
from ci.rules.squawk import capture_sql, lint_sql


def history_findings(history: History) -> list[Finding]:
    """The rules that read only the files: graph, naming, docstrings, downgrades."""
    findings = list(check_graph(history))
    checked = [r for r in history.revisions if r.id not in history.exempt]
    for rev in checked:
        findings += check_revision(history, rev)
        findings += check_downgrade(rev)
        findings += check_markers(rev)
    findings += check_duplicate_numbers(history, checked)
    return findings


def load_base(config: Config, ref: str) -> History:
    """The history as it is at a git ref (its sources read before the checkout goes away)."""
    with project_at(ref, config) as base_config:
        try:
            history = load_history(base_config)
        except BadInput as exc:
            raise BadInput(f"at {ref}: {exc.message}") from exc
        for rev in history.revisions:
            rev.source  # noqa: B018 - cached now, read later
        return history


def lint(config: Config, base: str | None = None) -> Result:
    """Every lint rule over the project; ``base`` adds the rules that compare with a git ref."""
    history = load_history(config)
    if not history.revisions:
        raise BadInput(f"{display_path(history.versions_dir)}: no revisions; "
                       "write the first with `dbci new MESSAGE`")
    findings = history_findings(history)
    lines = [f"lint: {len(history.revisions)} revisions in {display_path(history.versions_dir)}"]
    if base is not None:
        base_history = load_base(config, base)
        findings += check_deployed(history, base_history, base)
        findings += _lock_safety(config, history, {r.id for r in base_history.revisions}, lines,
                                 base)
    return Result(findings=_without_allowed(history, findings), lines=lines)


def _lock_safety(config: Config, history: History, base_ids: set[str], lines: list[str],
                 base: str) -> list[Finding]:
    try:
        chain = history.chain()
    except BadInput:  # the graph rules have said why
        lines.append("squawk: skipped, the history is not one line (see the findings)")
        return []
    new = [r for r in chain if r.id not in base_ids and r.id not in history.exempt]
    if not new:
        lines.append(f"squawk: no revisions added since {base}")
        return []
    captured, failures, version = capture_sql(config, history, chain, {r.id for r in new})
    lines.append(f"squawk: {len(new)} revision(s) added since {base}, each linted on its own")
    return failures + lint_sql(config, new, captured, version)


def _without_allowed(history: History, findings: list[Finding]) -> list[Finding]:
    allows = {r.id: allowed(r) for r in history.revisions}
    kept = [f for f in findings if not (f.revision and allows.get(f.revision, {}).get(f.rule))]
    return sorted(kept, key=lambda f: (f.file or "", f.line or 0, f.rule))


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the lint findings; exit 1 when there are any."""
    result = lint(config, base=args.base)
    files = len({f.file for f in result.findings})
    result.summary.append("lint: ok" if result.ok else
                          f"lint: {len(result.findings)} problem(s) in {files} file(s)")
    printer.result(result)
    return EXIT_OK if result.ok else EXIT_FINDINGS

"""The full PR check: lint, round trip, drift and diff in one run, sharing one database at head,
composed into one Report."""

from __future__ import annotations

import os
from collections.abc import Callable

from ci import targets
from ci.checks.diff import diff, resolve_base
from ci.checks.drift import drift
from ci.checks.lint import lint, load_base
from ci.checks.roundtrip import roundtrip
from ci.config import Config
from ci.errors import BadInput, DbciError
from ci.findings import Finding
from ci.history import load_history
from ci.report import Report, Step
from ci.schemadiff import capture


def in_ci() -> bool:
    """Whether dbci runs in CI (GitHub Actions and most others set ``CI``)."""
    return bool(os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"))


def check(config: Config, base: str | None = None,
          progress: Callable[[str], None] | None = None) -> Report:
    """Every check, the base-branch rules included whenever a base resolves; a step that cannot
    run says why, and the steps after it that need it skip.

    In CI a base must resolve: a shallow clone without the base branch would otherwise pass
    with the rules that protect deployed revisions switched off.
    """
    ref = resolve_base(config, base)
    if ref is None and in_ci():
        raise BadInput("no base branch to compare with (tried [tool.dbci] base_ref, origin/main, "
                       "main, origin/master, master); in CI, fetch it (actions/checkout with "
                       "fetch-depth: 0) or pass --base REF")
    findings: list[Finding] = []
    steps: list[Step] = []
    linted = lint(config, base=ref)
    findings += linted.findings
    steps.append(Step("lint", linted.ok, linted.summary))
    report = Report(steps, findings, base=ref)
    try:
        load_history(config).order()
    except DbciError as exc:
        steps += [Step(name, None, f"not run: {exc.message}")
                  for name in ("roundtrip", "drift", "diff")]
        return report
    with targets.scratch(config) as target:
        trip = roundtrip(config, progress=progress, target=target)
        findings += trip.findings
        steps.append(Step("roundtrip", trip.ok, trip.summary))
        if not trip.reached_head:
            steps += [Step(name, None, "not run: the upgrade to head failed")
                      for name in ("drift", "diff")]
            return report
        with targets.connect(target) as migrated:  # the round trip left it at head
            head = capture(migrated)
            drifted = drift(config, migrated, head)
        findings += drifted.findings
        steps.append(Step("drift", drifted.ok, drifted.summary))
        changes = diff(config, base=ref, head=head)
    report.diff_sql = changes.sql
    steps.append(Step("diff", True, changes.summary))
    if ref is not None:
        _graph(config, report, ref)
    return report


def _graph(config: Config, report: Report, ref: str) -> None:
    """The revisions this branch adds on the base head, for the mermaid graph."""
    base = load_base(config, ref)
    base_ids = {r.id for r in base.revisions}
    report.base_head = ", ".join(h.id for h in base.heads) or None
    for rev in load_history(config).order():
        if rev.id not in base_ids:
            doc = (rev.script.module.__doc__ or "").strip().splitlines()
            report.added.append((rev.id, doc[0] if doc else ""))

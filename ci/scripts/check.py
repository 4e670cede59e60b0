"""``dbci check``: lint, round trip, drift and diff in one run, sharing one database at head."""

from __future__ import annotations

import argparse
import contextlib
import os

from ci.config import Config
from ci.database import create_engine, scratch_database
from ci.errors import EXIT_FINDINGS, EXIT_OK, DbciError
from ci.findings import Finding, Printer, Result
from ci.history import load_history
from ci.report import Report, Step, markdown
from ci.schemadiff import capture
from ci.scripts.diff import diff, resolve_base
from ci.scripts.drift import drift
from ci.scripts.lint import lint, load_base
from ci.scripts.roundtrip import roundtrip


def check(config: Config, base: str | None = None, printer: Printer | None = None) -> Report:
    """Every check; a step that cannot run says why, and the steps after it that need it skip."""
    findings: list[Finding] = []
    steps: list[Step] = []
    linted = lint(config, base=base)
    findings += linted.findings
    summary = "; ".join(line.removeprefix("lint: ") for line in linted.lines)
    steps.append(Step("lint", linted.ok, summary))
    ref = resolve_base(config, base)
    report = Report(steps, findings, base=ref)
    try:
        load_history(config).chain()
    except DbciError as exc:
        steps += [Step(name, None, f"not run: {exc.message}")
                  for name in ("roundtrip", "drift", "diff")]
        return report
    with scratch_database(config.database_url) as url:
        trip = roundtrip(config, printer=printer, url=url)
        findings += trip.findings
        steps.append(Step("roundtrip", trip.ok, trip.summary[0].removeprefix("roundtrip: ")))
        if not trip.data["reached_head"]:
            steps += [Step(name, None, "not run: the upgrade to head failed")
                      for name in ("drift", "diff")]
            return report
        engine = create_engine(url)
        try:
            with engine.connect() as migrated:  # the round trip left it at head
                head = capture(migrated)
                drifted = drift(config, migrated, head)
        finally:
            engine.dispose()
        findings += drifted.findings
        steps.append(Step("drift", drifted.ok, drifted.summary[0].removeprefix("drift: ")))
        changes = diff(config, base=ref, head=head)
    report.diff_sql = changes.data["sql"]
    steps.append(Step("diff", True, f"{len(report.diff_sql)} statement(s) "
                      + (f"over {ref}" if ref else "over an empty database")))
    if ref is not None:
        _graph(config, report, ref)
    return report


def _graph(config: Config, report: Report, ref: str) -> None:
    """The revisions this branch adds on the base head, for the mermaid graph."""
    base_chain = load_base(config, ref).chain()
    base_ids = {r.id for r in base_chain}
    report.base_head = base_chain[-1].id if base_chain else None
    for rev in load_history(config).chain():
        if rev.id not in base_ids:
            doc = (rev.script.module.__doc__ or "").strip().splitlines()
            report.added.append((rev.id, doc[0] if doc else ""))


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the markdown report (or JSON) and append it to $GITHUB_STEP_SUMMARY when set."""
    report = check(config, base=args.base, printer=printer)
    text = markdown(report)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with contextlib.suppress(OSError), open(summary, "a") as handle:
            handle.write(text)
    result = Result(findings=report.findings, data={
        "checks": [{"check": s.name, "ok": s.ok, "summary": s.summary} for s in report.steps],
        "base": report.base, "sql": report.diff_sql, "ok": report.ok})
    if printer.json:
        printer.result(result)
    else:
        printer.out.write(text)
        if printer.github:
            printer.annotations(report.findings)
    return EXIT_OK if report.ok else EXIT_FINDINGS

"""``dbci check``: lint, round trip, drift and diff in one run, with a markdown report."""

from __future__ import annotations

import argparse
import contextlib

from ci import github
from ci.checks.suite import check
from ci.command import Command
from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK, DbciError
from ci.findings import Result
from ci.output import Printer
from ci.report import markdown


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", metavar="REF",
                        help="the branch to compare with (default: origin/main or main)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the markdown report (or JSON) and append it to $GITHUB_STEP_SUMMARY when set."""
    try:
        report = check(config, base=args.base, progress=printer.progress)
    except DbciError as exc:
        with contextlib.suppress(OSError):  # the job summary says why there is no report
            github.append_step_summary(f"## dbci check: ⚠️ could not run\n\n{exc.message}\n")
        raise
    finally:
        printer.progress_done()
    text = markdown(report)
    with contextlib.suppress(OSError):
        github.append_step_summary(text)
    if printer.json:
        printer.result(Result(findings=report.findings, data={
            "checks": [{"check": s.name, "ok": s.ok, "summary": s.summary}
                       for s in report.steps],
            "base": report.base, "sql": report.diff_sql, "ok": report.ok}))
    else:
        printer.out.write(text)
        if printer.github:
            printer.annotations(report.findings)
    return EXIT_OK if report.ok else EXIT_FINDINGS


COMMAND = Command("check", "lint + roundtrip + drift + diff in one run, with a markdown report",
                  run, arguments)

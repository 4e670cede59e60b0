"""``dbci lint``: naming and history rules; with ``--base``, deployed history and lock safety."""

from __future__ import annotations

import argparse

from ci.checks.lint import lint
from ci.command import Command, base_argument
from ci.config import Config
from ci.findings import Result, count
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    base_argument(parser, "also check that revisions at REF are unchanged, and lint the SQL "
                  "of the revisions added since with squawk", defaulted=False)


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the lint findings; exit 1 when there are any."""
    linted = lint(config, base=args.base)
    files = len({f.file for f in linted.findings})
    printer.result(Result(
        findings=linted.findings,
        lines=[f"lint: {count(linted.revisions, 'revision')} in {linted.versions_dir}",
               *linted.notes],
        summary=["lint: ok" if linted.ok else
                 f"lint: {count(len(linted.findings), 'problem')} in {count(files, 'file')}"]))
    return linted.exit_code


COMMAND = Command("lint", "naming, history and (with --base) lock-safety rules", run, arguments)

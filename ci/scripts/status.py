"""``dbci status --stage STAGE``: a stage's revision, what is pending, and drift made by hand."""

from __future__ import annotations

import argparse

from ci import targets
from ci.checks.status import status
from ci.command import Command, scratch_argument, stage_arguments
from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK
from ci.findings import Result
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    stage_arguments(parser)
    scratch_argument(parser)


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the stage's status; exit 1 when its schema is not the migrations'."""
    found = status(config, targets.stage(config, args.stage, args.tunnel_port), args.scratch_url)
    printer.result(Result(findings=found.findings, summary=[f"status: {found.summary}"], data={
        "stage": found.stage, "revision": list(found.revision), "pending": found.pending,
        "compared": found.compared}))
    return EXIT_OK if found.ok else EXIT_FINDINGS


COMMAND = Command("status", "a stage's revision, the pending ones, and changes made by hand",
                  run, arguments)

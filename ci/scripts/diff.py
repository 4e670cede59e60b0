"""``dbci diff``: the schema SQL this branch's revisions add over the base branch's head."""

from __future__ import annotations

import argparse

from ci.checks.diff import diff
from ci.command import Command, base_argument
from ci.config import Config
from ci.errors import EXIT_OK
from ci.findings import Result
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    base_argument(parser, "the branch whose head the SQL is over")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the SQL; always exit 0: the diff is for reading."""
    changes = diff(config, base=args.base)
    printer.result(Result(lines=[f"-- dbci diff: {changes.summary}", *changes.sql],
                          data={"base": changes.base, "sql": changes.sql}))
    return EXIT_OK


COMMAND = Command("diff", "the schema SQL this branch's revisions add over the base branch",
                  run, arguments)

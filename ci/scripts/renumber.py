"""``dbci renumber``: move this branch's new revisions after the base branch's head."""

from __future__ import annotations

import argparse

from ci.command import Command, base_argument
from ci.config import Config
from ci.output import Printer
from ci.renumbering import renumber


def arguments(parser: argparse.ArgumentParser) -> None:
    base_argument(parser, "the branch whose head this branch's revisions move after",
                  hidden=("--onto",))


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print what moved; exit 1 if the history still has problems."""
    result = renumber(config, base=args.base)
    printer.result(result)
    return result.exit_code


COMMAND = Command("renumber", "move this branch's new revisions after the base branch's head",
                  run, arguments)

"""``dbci rules [ID]``: every rule dbci reports, or one rule's whole doc."""

from __future__ import annotations

import argparse

from ci.command import Command
from ci.config import Config
from ci.errors import EXIT_OK, BadInput
from ci.findings import Result, count
from ci.output import Printer
from ci.rules import REGISTRY, RULES
from ci.rules.docs import SQUAWK_RULES, as_json, described, listing


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", metavar="ID",
                        help="a rule's id: print its summary, doc, fix and link")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """List every rule (id, check, summary), or print one rule's doc; an unknown id is exit 2."""
    if args.id is None:
        printer.result(Result(lines=listing(), data={"rules": [as_json(r) for r in RULES]},
                              summary=[f"{count(len(RULES), 'rule')}; `dbci rules ID` prints "
                                       f"one's doc; squawk's own (lint --base): {SQUAWK_RULES}"]))
        return EXIT_OK
    rule = REGISTRY.get(args.id)
    if rule is None:
        raise BadInput(f"no rule {args.id!r}; `dbci rules` lists them all")
    printer.result(Result(lines=described(rule), data={"rule": as_json(rule)}))
    return EXIT_OK


COMMAND = Command("rules", "list every rule, or print one rule's doc", run, arguments,
                  project=False)

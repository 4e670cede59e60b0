"""``dbci roundtrip``: prove each revision's downgrade restores the schema (and rows) exactly."""

from __future__ import annotations

import argparse

from ci.command import Command, shard_argument
from ci.config import Config
from ci.findings import Result
from ci.output import Printer
from ci.roundtrip.workers import roundtrip


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="REV", help="first revision to check")
    parser.add_argument("--to", dest="end", metavar="REV", help="last revision to check")
    shard_argument(parser, " (of the range, with --from and --to)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the round trip's findings and summary."""
    trip = roundtrip(config, args.start, args.end, args.shard, printer.progress)
    printer.progress_done()
    printer.result(Result(
        findings=trip.findings,
        summary=[f"roundtrip: {line}" for line in (trip.summary, *trip.notes)],
        data={"revisions": [o.__dict__ for o in trip.outcomes],
              "seconds": round(trip.seconds, 3), "reached_head": trip.reached_head}))
    return trip.exit_code


COMMAND = Command("roundtrip", "prove each revision's downgrade restores the schema exactly",
                  run, arguments)

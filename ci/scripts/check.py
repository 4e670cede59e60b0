"""``dbci check``: lint, round trip, drift and diff in one run, with a markdown report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci.checks.pr_check import check
from ci.command import Command, base_argument, comment_argument, shard_argument
from ci.config import Config
from ci.output import Printer
from ci.report import publish


def arguments(parser: argparse.ArgumentParser) -> None:
    base_argument(parser, "the branch to compare with: its revisions must be unchanged, the "
                  "new ones are linted by squawk, and the diff is over its head")
    shard_argument(parser, " (join the shards' --json reports with dbci report)")
    comment_argument(parser)
    parser.add_argument("--stats", type=Path, metavar="FILE",
                        help="size the new revisions' impact by a stage's table statistics "
                             "(written by dbci status --stats-out; default: [tool.dbci] "
                             "stats_file)")
    parser.add_argument("--verify-seed", action="store_true",
                        help="also load the rdev seed from S3 and run this branch's revisions "
                             "on it (needs AWS access)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the markdown report (or JSON) and append it to $GITHUB_STEP_SUMMARY when set."""
    try:
        report = check(config, base=args.base, progress=printer.progress, shard=args.shard,
                       verify_seed=args.verify_seed, stats_file=args.stats)
    finally:
        printer.progress_done()
    return publish(report, printer, args.comment)


COMMAND = Command("check", "lint + roundtrip + drift + diff in one run, with a markdown report",
                  run, arguments)

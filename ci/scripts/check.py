"""``dbci check``: lint, round trip, drift and diff in one run, with a markdown report."""

from __future__ import annotations

import argparse

from ci.checks.pr_check import check
from ci.command import Command, output_file, parse_shard
from ci.config import Config
from ci.output import Printer
from ci.report import publish


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", metavar="REF",
                        help="the branch to compare with (default: origin/main or main)")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="round-trip only the K-th of N slices of the history (join the "
                             "shards' --json reports with dbci report)")
    parser.add_argument("--comment", type=output_file, metavar="FILE",
                        help="also write the report as a pull request comment's body")
    parser.add_argument("--verify-seed", action="store_true",
                        help="also load the rdev seed from S3 and run this branch's revisions "
                             "on it (needs AWS access)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the markdown report (or JSON) and append it to $GITHUB_STEP_SUMMARY when set."""
    try:
        report = check(config, base=args.base, progress=printer.progress, shard=args.shard,
                       verify_seed=args.verify_seed)
    finally:
        printer.progress_done()
    return publish(report, printer, args.comment)


COMMAND = Command("check", "lint + roundtrip + drift + diff in one run, with a markdown report",
                  run, arguments)

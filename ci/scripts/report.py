"""``dbci report FILE...``: one report from the ``check --json`` reports of a sharded run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ci.checks.suite import join
from ci.command import Command
from ci.config import Config
from ci.errors import BadInput
from ci.findings import display_path
from ci.output import Printer
from ci.report import Report, publish


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="the JSON reports of `dbci --json check --shard K/N`, one per shard")
    parser.add_argument("--comment", type=Path, metavar="FILE",
                        help="also write the report as a pull request comment's body")


def read(path: Path) -> Report:
    """One shard's report."""
    try:
        return Report.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadInput(f"{display_path(path)}: not a report of `dbci --json check` "
                       f"({type(exc).__name__}: {exc})") from exc


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Join the shards' reports; print, summarise and comment as check does."""
    return publish(join([read(path) for path in args.files]), printer, args.comment)


COMMAND = Command("report", "join the reports of a sharded check into one", run, arguments)

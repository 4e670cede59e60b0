"""``dbci report FILE...``: one report from the ``check --json`` reports of a sharded run."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

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
        return Report.from_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "the document"
        raise BadInput(f"{display_path(path)}: not a report of `dbci --json check` ({where}: "
                       f"{first['msg']}); pass the file `dbci --json check` wrote") from exc
    except OSError as exc:
        raise BadInput(f"{display_path(path)}: cannot read it ({exc.strerror})") from exc


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Join the shards' reports; print, summarise and comment as check does."""
    return publish(join([read(path) for path in args.files]), printer, args.comment)


COMMAND = Command("report", "join the reports of a sharded check into one", run, arguments)

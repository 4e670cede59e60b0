"""``dbci report FILE...``: the ``check --json`` reports of every version and shard, as one."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from ci.command import Command, comment_argument
from ci.config import Config
from ci.errors import BadInput
from ci.findings import display_path
from ci.joined_reports import by_version
from ci.output import Printer
from ci.report import Report, publish


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="the JSON reports of `dbci --json check --shard K/N`: every shard "
                             "of every PostgreSQL version, at once")
    comment_argument(parser)


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
    """Join each version's shards, then the versions; print, summarise and comment once."""
    named = [(display_path(path), read(path)) for path in args.files]
    return publish(by_version(named), printer, args.comment)


COMMAND = Command("report", "join the reports of a check's shards and PostgreSQL versions into one",
                  run, arguments)

"""``dbci new MESSAGE``: write the next numbered revision on the single head."""

from __future__ import annotations

import argparse

from ci.command import Command
from ci.config import Config
from ci.errors import EXIT_OK
from ci.findings import Result, display_path
from ci.new_revision import new
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", nargs="+", help="what the revision does, e.g. 'add links'")
    parser.add_argument("--autogenerate", action="store_true",
                        help="fill it from the ORM's differences with a scratch database at head")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the new file's path."""
    written = new(config, " ".join(args.message), autogenerate=args.autogenerate)
    path = display_path(written.path)
    if written.empty:
        printer.err.write(f"dbci new: autogenerate found no difference between the ORM and the "
                          f"migrations at head; {path} is an empty revision\n")
    printer.result(Result(lines=[path], data={"path": path, "empty": written.empty}))
    return EXIT_OK


COMMAND = Command("new", "write the next numbered revision on the current head", run, arguments)

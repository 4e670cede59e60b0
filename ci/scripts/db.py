"""``dbci db dump`` and ``dbci db load-schema``: a database's schema to a file, and back."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci.command import Command, Group, output_file, stage_arguments
from ci.config import Config
from ci.errors import EXIT_OK
from ci.findings import Result, display_path
from ci.output import Printer
from ci.stages.dump import dump, dump_target, load_schema_into


def dump_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=output_file, metavar="FILE",
                        help="the dump to write (pg_dump's custom format)")
    stage_arguments(parser, required=False)
    parser.add_argument("--data", action="store_true", help="every row too, not only the schema")


def run_dump(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Dump a stage (or --database-url's database)."""
    target = dump_target(config, args.stage, args.tunnel_port, args.tunnel, printer.log)
    done = dump(config, target, args.out, data=args.data)
    at = ", ".join(done.revision) or "no revision"
    printer.result(Result(
        lines=[f"db dump: {target.display} at {at} -> {display_path(done.path)}"
               + (" (with rows)" if done.data else " (schema)")],
        data={"file": display_path(done.path), "revision": list(done.revision),
              "data": done.data}))
    return EXIT_OK


def load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a dump written by db dump")
    parser.add_argument("--create", metavar="NAME",
                        help="create database NAME (on the embedded server, or on "
                             "--database-url's server) and load into it")


def run_load(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Load a dump into an empty database: --database-url's, or a new one (--create), which
    is dropped again when the load fails."""
    loaded, target = load_schema_into(config, args.file, args.create)
    at = ", ".join(loaded.revision) or "no revision"
    printer.result(Result(lines=[f"db load-schema: {display_path(args.file)} -> "
                                 f"{target.display}, at {at}"],
                          data={"database": target.display, "revision": list(loaded.revision)}))
    return EXIT_OK


COMMAND = Group("db", "dump a database's schema, and load one into an empty database", (
    Command("dump", "dump a stage's (or a database's) schema: no owners, grants or RDS roles",
            run_dump, dump_arguments),
    Command("load-schema", "load a dump into an empty database, its alembic_version included",
            run_load, load_arguments),
))

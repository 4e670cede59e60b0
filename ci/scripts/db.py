"""``dbci db dump`` and ``dbci db load-schema``: a database's schema to a file, and back."""

from __future__ import annotations

import argparse
import contextlib
import re
from pathlib import Path

from ci.command import Command, Group, output_file, stage_arguments
from ci.config import Config
from ci.db.scratch import named_database
from ci.errors import EXIT_OK, BadInput
from ci.findings import Result, display_path
from ci.output import Printer
from ci.stages import targets
from ci.stages.dump import dump, load_schema, readable


def dump_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=output_file, metavar="FILE",
                        help="the dump to write (pg_dump's custom format)")
    stage_arguments(parser, required=False)
    parser.add_argument("--data", action="store_true", help="every row too, not only the schema")


def run_dump(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Dump a stage (or --database-url's database)."""
    if args.stage:
        target = targets.stage(config, args.stage, args.tunnel_port, args.tunnel, printer.log)
    elif config.database_url:
        target = targets.given(config)
    else:
        raise BadInput("which database? pass --stage STAGE or --database-url URL")
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
    if args.create and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", args.create):
        raise BadInput(f"--create {args.create!r}: a database name of letters, digits and _ "
                       "(at most 63), not starting with a digit")
    readable(args.file)
    with contextlib.ExitStack() as stack:
        if args.create:
            url = stack.enter_context(named_database(config.database_url, args.create))
            target = targets.Target(targets.Kind.DATABASE, url)
        else:
            target = targets.given(config)
        loaded = load_schema(config, target, args.file)
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

"""The ``dbci`` command: parse arguments, build the Config, run one subcommand, map errors."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from ci.config import Config
from ci.database import password
from ci.errors import DbciError
from ci.findings import Finding, Printer, annotation
from ci.scripts.roundtrip import parse_shard

#: subcommand -> (module under ci.scripts, one-line help)
COMMANDS = {
    "new": ("new", "write the next numbered revision on the current head"),
    "lint": ("lint", "naming, history and (with --base) lock-safety rules"),
    "renumber": ("renumber", "move this branch's new revisions after the base branch's head"),
    "roundtrip": ("roundtrip", "prove each revision's downgrade restores the schema exactly"),
    "drift": ("drift", "compare the ORM with the schema the migrations build, both ways"),
    "diff": ("diff", "the schema SQL this branch's revisions add over the base branch"),
    "check": ("check", "lint + roundtrip + drift + diff in one run, with a markdown report"),
}


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Flags accepted before or after the subcommand."""
    default = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    group.add_argument("--config", default="alembic.ini" if top else argparse.SUPPRESS,
                       metavar="PATH", help="the project's alembic.ini (default: ./alembic.ini)")
    group.add_argument("--database-url", default=default, metavar="URL",
                       help="PostgreSQL to use instead of the embedded one (env DATABASE_URL)")
    group.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                       help="print one JSON document")
    group.add_argument("--github", action="store_true",
                       default=False if top else argparse.SUPPRESS,
                       help="also print GitHub workflow annotations")
    group.add_argument("--debug", action="store_true",
                       default=False if top else argparse.SUPPRESS,
                       help="show tracebacks of expected failures")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dbci", description="Checks and migrations for Alembic + PostgreSQL projects.",
        epilog="exit codes: 0 ok, 1 a check found problems, 2 bad input or configuration, "
               "3 an outside system failed")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {name: sub.add_parser(name, help=text, description=text)
               for name, (_, text) in COMMANDS.items()}
    for p in parsers.values():
        _common(p, top=False)

    p = parsers["new"]
    p.add_argument("message", nargs="+", help="what the revision does, e.g. 'add links'")
    p.add_argument("--autogenerate", action="store_true",
                   help="fill it from the ORM's differences with a scratch database at head")
    parsers["lint"].add_argument(
        "--base", metavar="REF",
        help="also check that revisions at REF are unchanged, and lint new revisions' SQL")
    parsers["renumber"].add_argument(
        "--onto", metavar="REF",
        help="the branch to follow (default: [tool.dbci] base_ref, origin/main or main)")
    for name in ("diff", "check"):
        parsers[name].add_argument(
            "--base", metavar="REF",
            help="the branch to compare with (diff default: origin/main or main)")
    p = parsers["roundtrip"]
    p.add_argument("--from", dest="start", metavar="REV", help="first revision to check")
    p.add_argument("--to", dest="end", metavar="REV", help="last revision to check")
    p.add_argument("--shard", type=parse_shard, metavar="K/N",
                   help="check only the K-th of N equal slices of the range")
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run ``dbci``; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    printer = Printer(out=out, err=err, json=args.json, github=args.github)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)  # so scratch databases get dropped
    try:
        config = Config.load(args.config, args.database_url)
        secret = password(config.database_url) if config.database_url else None
        if args.github and secret:
            out.write(f"::add-mask::{secret}\n")
        module = importlib.import_module(f"ci.scripts.{COMMANDS[args.command][0]}")
        return int(module.run(config, args, printer))
    except DbciError as exc:
        if args.debug:
            traceback.print_exc(file=err)
        if args.json:
            out.write(json.dumps({"ok": False, "error": exc.message, "exit_code": exc.exit_code,
                                  "findings": []}) + "\n")
        if args.github:
            out.write(annotation(Finding(args.command, "error", exc.message)) + "\n")
        err.write(f"dbci {args.command}: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write(f"dbci {args.command}: interrupted; scratch databases were dropped\n")
        return 130


def entry() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `dbci lint | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)

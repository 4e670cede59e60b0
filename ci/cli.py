"""The ``dbci`` command: find the commands, parse arguments, run one, map errors to exit codes.

Commands declare themselves (``COMMAND`` in each module of ``ci.scripts``); this module names
none of them.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import pkgutil
import signal
import sys
import textwrap
import traceback
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn, TextIO

import ci.scripts
from ci import github, interrupts
from ci.command import Command, Group
from ci.config import Config
from ci.db import masking
from ci.db.runners import is_connection_lost, is_database_error
from ci.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    BadInput,
    DbciError,
    OutsideFailure,
    described,
    error_line,
    internal,
)
from ci.findings import Finding
from ci.launch import common, named
from ci.output import Printer


def discover(only: str | None = None) -> list[Command | Group]:
    """Every ``COMMAND`` declared by a module of ``ci.scripts``, by name; with ``only``, just
    the one of the module of that name, when there is one (imports cost start-up time)."""
    names = [info.name for info in pkgutil.iter_modules(ci.scripts.__path__)]
    found: list[Command | Group] = []
    for name in [only] if only in names else names:
        module = importlib.import_module(f"{ci.scripts.__name__}.{name}")
        declared = getattr(module, "COMMAND", None)
        if isinstance(declared, Command | Group) and declared.name in (only or declared.name,):
            found.append(declared)
    return sorted(found, key=lambda c: c.name) if found or only is None else discover()


class UsageError(BadInput):
    """Arguments the parser refused: exit 2, printed as every other expected failure."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse, but an argument error is raised to :func:`main`, which prints it in the form
    asked for (one JSON document under ``--json``), instead of exiting from inside."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def _add(sub: argparse._SubParsersAction[Any], command: Command | Group,
         prefix: str) -> None:
    parser = sub.add_parser(command.name, help=command.help, description=command.help)
    name = f"{prefix} {command.name}".strip()
    if isinstance(command, Group):
        inner = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
        for member in command.commands:
            _add(inner, member, name)
        return
    common(parser, top=False)
    command.arguments(parser)
    parser.set_defaults(command=command, command_name=name)


def _version() -> str:
    """dbci's version as installed (its package metadata)."""
    try:
        return metadata.version("dbci")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(commands: Sequence[Command | Group] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every command (``discover()``'s, unless given)."""
    parser = Parser(
        prog="dbci", description="Checks and migrations for Alembic + PostgreSQL projects.",
        epilog="exit codes: 0 ok, 1 a check found problems, 2 bad input or configuration, "
               "3 an outside system failed")
    common(parser, top=True)
    parser.add_argument("--version", action="version", version=f"dbci {_version()}")
    sub = parser.add_subparsers(dest="command_group", metavar="COMMAND", required=True)
    for command in discover() if commands is None else commands:
        _add(sub, command, "")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None, commands: Sequence[Command | Group] | None = None) -> int:
    """Run ``dbci``; returns the exit code."""
    if commands is None:
        known = named(argv)
        commands = discover(known.command if known else None)
    out, err = out or sys.stdout, err or sys.stderr
    with masking.scope():
        try:
            args = build_parser(commands).parse_args(argv)
        except UsageError as exc:
            words = list(sys.argv[1:] if argv is None else argv)
            printer = Printer(out=out, err=err, json="--json" in words,
                              github="--github" in words)
            if not printer.json:
                printer.err.write(exc.parser.format_usage())
            _fail(printer, exc, exc.parser.prog.removeprefix("dbci").strip())
            printer.close()
            return exc.exit_code
        return _main(args, out, err)


def _expected(error: BaseException) -> DbciError:
    """Any exception that reached the top, as the one-line error it stands for."""
    if isinstance(error, DbciError):
        return error
    if is_connection_lost(error):
        return OutsideFailure(f"lost the connection to the database server ({error_line(error)})")
    if is_database_error(error):  # dbci's own SQL: revisions' errors are findings already
        return OutsideFailure(f"the database server refused: {described(error)}")
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return OutsideFailure(f"{where}{error.strerror or error_line(error)}")
    if isinstance(error, SystemExit):
        return BadInput(f"the project's code exited (SystemExit: {error.code}) while dbci ran "
                        "it; dbci counts that as a failure, never a pass")
    if isinstance(error, KeyboardInterrupt):  # no signal behind it: raised by code
        return BadInput("the project's code raised KeyboardInterrupt (no Ctrl-C was pressed) "
                        "while dbci ran it; dbci counts that as a failure, never a pass")
    return internal(error)


def _fail(printer: Printer, error: DbciError, command: str) -> int:
    """Print an expected failure (one JSON document under --json, else its detail and one
    line on stderr), tell GitHub and the job summary; its exit code."""
    if printer.json:
        printer.document({"ok": False, "error": error.message, "exit_code": error.exit_code,
                          "findings": [], **({"detail": error.detail} if error.detail else {})})
    elif error.detail:
        printer.err.write(textwrap.indent(error.detail, "    ") + "\n")
    if printer.github:
        printer.annotations([Finding(command or "dbci", "error", error.message)])
    printer.err.write(f"{' '.join(['dbci', command]).strip()}: {error.message}\n")
    _summary(command, error.message)
    return error.exit_code


def _summary(command: str, why: str) -> None:
    """The job summary (when there is one) says why a command gave no result."""
    github.append_step_summary(f"## {' '.join(['dbci', command]).strip()}: ⚠️ could not "
                               f"run\n\n{why}\n")


def _main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    printer = Printer(out=out, err=err, json=args.json, github=args.github)
    interrupts.reset()
    with interrupts.handled():  # so every `with` block ends (UNDONE)
        return _run(args, printer)


def _run(args: argparse.Namespace, printer: Printer) -> int:
    """Run the command: its exit code, or that of the failure or interrupt that ended it."""
    config: Config | None = None
    try:
        config = Config.load(args.config, args.database_url) if args.command.project else \
            Config(Path(args.config).absolute())
        code = int(args.command.run(config, args, printer))
        if interrupts.by_signal():  # caught on the way, and turned into a result
            raise KeyboardInterrupt
        return code
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        if interrupts.by_signal():  # whatever the interrupt broke on its way out
            printer.err.write(f"dbci {args.command_name}: interrupted; {interrupts.UNDONE}\n")
            _summary(args.command_name, "interrupted")
            return EXIT_TERMINATED if signal.SIGTERM in interrupts.RECEIVED else \
                EXIT_INTERRUPTED
        error = _expected(exc)
        if args.debug:
            traceback.print_exc(file=printer.err)
        return _fail(printer, error, args.command_name)
    finally:
        if config is not None:  # an SSM tunnel: ended on every exit, signals included
            config.resources.close()
        printer.close()


def entry() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `dbci lint | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    # The process ends: the collector need not walk the heap (a loaded history, captured schemas)
    # once more on the way out, which took up to half a second after a long check.
    gc.disable()
    gc.freeze()
    sys.exit(code)

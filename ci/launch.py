"""The ``dbci`` console script. It reads which command runs before importing one (Python's
imports take a third of a second), so that the database server can meanwhile make the scratch
databases that command starts with."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from ci import interrupts
from ci.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from ci.scripts import SCRATCH_AHEAD


def common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Flags accepted before or after the subcommand."""
    default = None if top else argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    group.add_argument("-c", "--config", default="alembic.ini" if top else argparse.SUPPRESS,
                       metavar="PATH", help="the project's alembic.ini (default: ./alembic.ini)")
    group.add_argument("--database-url", default=default, metavar="URL",
                       help="PostgreSQL to use instead of the embedded one (env DATABASE_URL)")
    for flag, text in (("--json", "print one JSON document"),
                       ("--github", "also print GitHub workflow annotations"),
                       ("--debug", "show tracebacks of expected failures")):
        group.add_argument(flag, action="store_true", default=False if top else argparse.SUPPRESS,
                           help=text)


def named(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The global options, whether help is asked for, and the command ``argv`` names, read past
    the rest (None: the full parser says what is wrong)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    common(parser, top=True)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("command", nargs="?")
    try:
        known, _ = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        return None
    return known


@contextlib.contextmanager
def _ahead(argv: Sequence[str]) -> Iterator[None]:
    """Where the command makes scratch databases on a server given by URL as it starts, have
    the server make them while the command is imported (see ``SCRATCH_AHEAD``). Meanwhile
    SIGINT and SIGTERM interrupt (``ci.cli`` keeps that), so those made are dropped."""
    known = named(argv)
    count = SCRATCH_AHEAD.get(known.command or "", 0) if known and not known.help else 0
    url = known and (known.database_url or os.environ.get("DATABASE_URL"))
    if not (known and count and url and Path(known.config).is_file()):
        yield
        return
    from ci.db.scratch import made_ahead  # sqlalchemy, which connecting needs: 0.15 s

    with interrupts.handled(), made_ahead(url, count):
        yield


#: The collector's first threshold while a command runs (Python's default is 700): dbci makes
#: many short-lived objects that form no cycles (rows, SQL text, Alembic's operations), and at
#: 700 allocations a collection came every few statements.
COLLECT_AFTER = 50_000


def entry() -> None:
    """Console-script entry point: ``ci.cli``'s, with the scratch databases made ahead. An
    interrupt that ``ci.cli`` did not handle (as dbci starts or ends) is one line too.

    The collector is off while the commands are imported (what they import lives on: walking
    it took a tenth of the imports' time), then collects less often (:data:`COLLECT_AFTER`)."""
    interrupts.reset()
    gc.disable()
    try:
        with _ahead(sys.argv[1:]):
            from ci.cli import entry as run  # the commands' imports, while the server works

            gc.set_threshold(COLLECT_AFTER, *gc.get_threshold()[1:])
            gc.enable()
            run()
    except KeyboardInterrupt:
        sys.stderr.write(f"dbci: interrupted; {interrupts.UNDONE}\n")
        sys.exit(EXIT_TERMINATED if signal.SIGTERM in interrupts.RECEIVED else EXIT_INTERRUPTED)

"""How a command declares itself: its name, help, arguments and ``run``; groups of commands.

Each module under ``ci/scripts/`` holds one ``COMMAND`` (a Command or a Group); ``ci.cli``
finds them there and knows none by name.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci.config import Config
from ci.db.urls import normalize_url
from ci.errors import BadInput
from ci.output import Printer
from ci.settings import MAX_PORT, STAGE_NAME

Run = Callable[[Config, argparse.Namespace, Printer], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For commands that take only the global flags."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): the K-th of N slices."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError(f"--shard takes K/N with 1 <= K <= N, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def stage_name(text: str, flag: str = "--stage") -> str:
    """A stage's name as ``[tool.dbci.stages]`` can hold it: letters, digits, ``_.-`` (given
    to ``flag``)."""
    if not re.fullmatch(STAGE_NAME, text):
        shown = text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"
        raise argparse.ArgumentTypeError(f"{flag} takes a stage's name (letters, digits, _.-; "
                                         f"at most 63), not {shown!r}")
    return text


def tunnel_port(text: str) -> int:
    """A TCP port, 1 to 65535, for ``--tunnel-port`` (argparse names the flag before the
    refusal)."""
    shown = text if len(text) <= 20 else f"{text[:20]}..."
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {shown!r} (a TCP port, 1 to "
                                         f"{MAX_PORT})") from None
    if not 1 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{shown!r} is not a TCP port (1 to {MAX_PORT})")
    return port


def stage_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--stage``, ``--tunnel`` and ``--tunnel-port``, for the commands that work on a
    deployed stage."""
    parser.add_argument("--stage", required=required, metavar="STAGE", type=stage_name,
                        help="the deployed stage ([tool.dbci.stages]; default ones: dev, "
                             "staging, prod, test, rdev)")
    parser.add_argument("--tunnel", choices=["ssm"],
                        help="ssm: open an AWS SSM port forward to the secret's host and port "
                             "through the stage's ssm_target (needs the AWS CLI and its "
                             "session-manager plugin), and end it when dbci ends (default: "
                             "the stage's tunnel setting)")
    parser.add_argument("--tunnel-port", type=tunnel_port, metavar="PORT",
                        help="reach the stage through 127.0.0.1:PORT (a port forward already "
                             "open, e.g. by make db/tunnel), keeping the secret's user, "
                             "password and database")


#: Where ``--base`` points when it is not given (:func:`ci.gitrefs.default_base`).
DEFAULT_BASE = ("[tool.dbci] base_ref, else the first of origin/main, main, origin/master, "
                "master that exists")


def base_argument(parser: argparse.ArgumentParser, what: str, *, defaulted: bool = True,
                  hidden: tuple[str, ...] = ()) -> None:
    """``--base REF``, the git ref to compare with, in ``args.base``; ``what`` says what the
    command does with it; ``hidden`` are old spellings still accepted, not shown."""
    parser.add_argument("--base", metavar="REF", help=f"{what} (default: {DEFAULT_BASE})"
                        if defaulted else f"{what}; without it, nothing is compared")
    for flag in hidden:
        parser.add_argument(flag, dest="base", metavar="REF", help=argparse.SUPPRESS)


def shard_argument(parser: argparse.ArgumentParser, after: str = "") -> None:
    """``--shard K/N``: round-trip only the K-th of N equal slices of the history."""
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="round-trip only the K-th of N equal slices of the history" + after)


def comment_argument(parser: argparse.ArgumentParser) -> None:
    """``--comment FILE``: the report also written as a pull request comment's body."""
    parser.add_argument("--comment", type=output_file, metavar="FILE",
                        help="also write the report as a pull request comment's body")


def output_file(text: str) -> Path:
    """A file dbci will write: refused as it is parsed, before any work, when it names a
    folder, a device or pipe, or lies in a folder that does not exist."""
    path = Path(text)
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; name the file to write")
    if path.exists() and not path.is_file():  # /dev/null, a pipe: a rename would replace it
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file; dbci writes files "
                                         "whole, by renaming a new one over the old")
    if not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: the folder {str(path.parent)!r} does not "
                                         "exist; make it first")
    return path


def scratch_url(text: str) -> str:
    """A scratch server's URL, read (its password masked) and checked as it is parsed."""
    try:
        return normalize_url(text, "--scratch-url (or DBCI_SCRATCH_URL)")
    except BadInput as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def scratch_argument(parser: argparse.ArgumentParser) -> None:
    """``--scratch-url``: where a stage command may build scratch databases."""
    parser.add_argument("--scratch-url", default=os.environ.get("DBCI_SCRATCH_URL") or None,
                        type=scratch_url, metavar="URL",
                        help="server for scratch databases (env DBCI_SCRATCH_URL; default: the "
                        "embedded one); never the stage's")


@dataclass(frozen=True)
class Command:
    """One subcommand: ``dbci NAME ...`` calls ``run(config, args, printer)``, an exit code."""

    name: str
    help: str
    run: Run
    arguments: Arguments = no_arguments
    project: bool = True  # False: reads no alembic.ini (``run`` gets the settings' defaults)


@dataclass(frozen=True)
class Group:
    """Subcommands under one name: ``dbci db dump``, ``dbci seed upload``."""

    name: str
    help: str
    commands: tuple[Command, ...]

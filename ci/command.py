"""How a command declares itself: its name, help, arguments and ``run``; groups of commands.

Each module under ``ci/scripts/`` holds one ``COMMAND`` (a Command or a Group); ``ci.cli``
finds them there and knows none by name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ci.config import Config
from ci.output import Printer

Run = Callable[[Config, argparse.Namespace, Printer], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For commands that take only the global flags."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``dbci NAME ...`` calls ``run(config, args, printer)``, an exit code."""

    name: str
    help: str
    run: Run
    arguments: Arguments = no_arguments


@dataclass(frozen=True)
class Group:
    """Subcommands under one name: ``dbci db dump``, ``dbci seed upload``."""

    name: str
    help: str
    commands: tuple[Command, ...]

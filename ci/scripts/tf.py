"""``dbci tf bump``: point the rdev stack's ``data_load_path`` at the head's seed."""

from __future__ import annotations

import argparse

from ci import github
from ci import rdev_seed as seed
from ci.command import Command, Group
from ci.config import Config
from ci.findings import Result
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when the file would change")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Bump ``data_load_path``'s file name to the head's seed (uploaded first)."""
    done = seed.bump(config, check=args.check)
    line = (f"tf bump: {done.file}:{done.line}: {done.was} -> {done.now}" if done.changed
            else f"tf bump: {done.file} already names {done.now}")
    if not args.check:
        github.append_step_summary(f"## dbci tf bump\n\n{line.removeprefix('tf bump: ')}\n")
    printer.result(Result(findings=done.findings, lines=[line] if done.ok else [], data={
        "file": done.file, "from": done.was, "to": done.now, "changed": done.changed}))
    return done.exit_code


COMMAND = Group("tf", "the rdev stack's Terraform", (
    Command("bump", "set data_load_path to the head's seed, changing only its file name", run,
            arguments),
))

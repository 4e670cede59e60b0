"""``dbci tf bump``: point the rdev stack's ``data_load_path`` at the head's seed."""

from __future__ import annotations

import argparse

from ci import aws, github, terraform
from ci import rdev_seed as seed
from ci.command import Command, Group
from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK, BadInput
from ci.findings import Result, display_path
from ci.history import load_history
from ci.output import Printer
from ci.rules.seed import SEED_NOT_AT_HEAD


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when the file would change")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Bump ``data_load_path``'s file name to the head's seed (uploaded first)."""
    history = load_history(config)
    head = history.head()
    if head is None:
        raise BadInput(f"{display_path(history.versions_dir)}: no revisions, so no seed")
    name = seed.seed_name(config, head.id)
    path = config.project_dir / config.settings.terraform_file
    if not args.check:
        terraform.find(path)  # a broken file says so before AWS is asked anything
        key = seed.seed_key(config, head.id)
        if aws.stored_digest(config.settings.seed_bucket, key) is None:
            raise BadInput(f"s3://{config.settings.seed_bucket}/{key} is not uploaded: run "
                           "dbci seed build and dbci seed upload first; nothing was changed")
    found, changes = terraform.bump(path, name, check=args.check)
    shown = display_path(path)
    findings = [SEED_NOT_AT_HEAD.at_file(
        shown, f"local.data_load_path names {found.file_name}, not the head's seed {name}",
        line=found.line)] if args.check and changes else []
    line = (f"tf bump: {shown}:{found.line}: {found.file_name} -> {name}" if changes
            else f"tf bump: {shown} already names {name}")
    if not args.check:
        github.append_step_summary(f"## dbci tf bump\n\n{line.removeprefix('tf bump: ')}\n")
    printer.result(Result(findings=findings, lines=[] if findings else [line], data={
        "file": shown, "from": found.file_name, "to": name, "changed": changes}))
    return EXIT_FINDINGS if findings else EXIT_OK


COMMAND = Group("tf", "the rdev stack's Terraform", (
    Command("bump", "set data_load_path to the head's seed, changing only its file name", run,
            arguments),
))

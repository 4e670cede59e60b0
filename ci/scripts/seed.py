"""``dbci seed build|upload|load``: the rdev seed at head, in S3, and on a stack's first boot."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci import github
from ci import rdev_seed as seed
from ci.command import Command, Group, output_file, stage_arguments
from ci.config import Config
from ci.errors import EXIT_OK
from ci.findings import Result, display_path
from ci.output import Printer


def build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=output_file, metavar="FILE",
                        help="the seed to write (plain SQL)")
    parser.add_argument("--source", metavar="FILE_OR_S3_URL",
                        help="the seed to start from (default: the one data_load_path names)")
    parser.add_argument("--from", dest="source", help=argparse.SUPPRESS)  # its old spelling


def run_build(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Build the seed at head."""
    built = seed.build(config, args.out, args.source)
    printer.result(Result(
        lines=[f"seed build: {display_path(built.path)} at {built.revision}, from {built.source} "
               f"(at {built.source_revision}); sha256 {built.digest}"],
        data={"file": display_path(built.path), "revision": built.revision,
              "source": built.source, "source_revision": built.source_revision,
              "sha256": built.digest}))
    return EXIT_OK


def upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a seed built by seed build")
    parser.add_argument("--dry-run", action="store_true", help="print the key; upload nothing")


def run_upload(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Upload a seed under its revision's name; never over another object."""
    done = seed.upload(config, args.file, args.dry_run)
    github.append_step_summary(f"## dbci seed upload: {'✅' if done.ok else '❌'} "
                               f"`{done.url}` ({done.outcome})\n")
    printer.result(Result(findings=done.findings, data={"url": done.url, "outcome": done.outcome},
                          summary=[f"seed upload: {done.url} ({done.outcome})"] if done.ok else []))
    return done.exit_code


def run_load(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Seed an empty rdev database, then migrate; or only migrate."""
    done = seed.load(config, args.stage, args.tunnel_port, args.tunnel, log=printer.log)
    migration = done.migration
    printer.result(Result(findings=migration.findings, summary=[
        f"seed load: stage {migration.stage} "
        + (f"seeded from {done.loaded}, " if done.loaded else "already had a schema, ")
        + f"now at {', '.join(migration.end) or 'base'}"],
        data={"stage": migration.stage, "seeded_from": done.loaded,
              "from": list(migration.start), "to": list(migration.end),
              "applied": [s.revision for s in migration.applied]}))
    return migration.exit_code


COMMAND = Group("seed", "rdev seed data: build it at head, upload it, load it on a stack's boot", (
    Command("build", "the seed SQL at head, from the current seed and the seed patches",
            run_build, build_arguments),
    Command("upload", "upload a seed as seed_data_<NN>_<rev>.sql; never over another object",
            run_upload, upload_arguments),
    Command("load", "an rdev stack's boot: seed an empty database, then migrate", run_load,
            stage_arguments),
))

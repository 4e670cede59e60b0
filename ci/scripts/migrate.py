"""``dbci migrate --stage STAGE``: migrate a deployed database, one run at a time, verified."""

from __future__ import annotations

import argparse

from ci import targets
from ci.command import Command, scratch_argument, stage_arguments
from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK
from ci.findings import Result, count
from ci.migrate import Migration, migrate, pending_sql
from ci.output import Printer


def arguments(parser: argparse.ArgumentParser) -> None:
    stage_arguments(parser)
    parser.add_argument("--revision", default="heads", metavar="REV",
                        help="the target: head (default), a revision, or relative (-1, +2)")
    parser.add_argument("--sql", action="store_true",
                        help="print the SQL the pending revisions run (captured on a scratch "
                             "database at the stage's revision); change nothing")
    parser.add_argument("--allow-downgrade", action="store_true",
                        help="allow a target below the stage's revision")
    scratch_argument(parser)


def _json(migration: Migration) -> dict[str, object]:
    doc: dict[str, object] = {
        "stage": migration.stage, "from": list(migration.start), "to": list(migration.end),
        "applied": [{"revision": s.revision, "direction": s.direction, "seconds": s.seconds}
                    for s in migration.applied]}
    if migration.sql is not None:
        doc["sql"] = migration.sql
    return doc


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Migrate (or, with --sql, print the plan); exit 1 when a revision failed there."""
    target = targets.stage(config, args.stage, args.tunnel_port)
    if args.sql:
        planned = pending_sql(config, target, args.revision, args.allow_downgrade,
                              args.scratch_url)
        printer.result(Result(lines=[f"-- dbci migrate --sql: stage {planned.stage} from "
                                     f"{', '.join(planned.start) or 'base'} to "
                                     f"{', '.join(planned.end) or 'base'}",
                                     *(planned.sql or ["-- nothing to run"])],
                              data=_json(planned)))
        return EXIT_OK
    settings = config.settings.stages[args.stage]
    done = migrate(config, target, settings, args.revision, args.allow_downgrade,
                   log=printer.log)
    moved = (f"from {', '.join(done.start) or 'base'} to {', '.join(done.end) or 'base'} "
             f"({count(len(done.applied), 'revision')})" if done.applied else
             f"already at {', '.join(done.end) or 'base'}")
    printer.result(Result(findings=done.findings, data=_json(done), summary=[
        f"migrate: stage {done.stage} {moved}" if done.ok else
        f"migrate: stage {done.stage} stopped at {', '.join(done.end) or 'base'}"]))
    return EXIT_OK if done.ok else EXIT_FINDINGS


COMMAND = Command("migrate", "migrate a deployed stage (lock, short lock waits, retries, verify)",
                  run, arguments)

"""``dbci migrate --stage STAGE``: migrate a deployed database, one run at a time, verified;
``--sql --plan-out FILE`` writes a plan and ``--plan FILE`` runs exactly that plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci import github
from ci.command import Command, output_file, scratch_argument, stage_arguments
from ci.config import Config
from ci.errors import EXIT_OK, BadInput
from ci.findings import Result, count, display_path
from ci.history import load_history
from ci.output import Printer
from ci.stages import plan, targets
from ci.stages.migrate import Migration, migrate, pending_sql, resolve, shown


def arguments(parser: argparse.ArgumentParser) -> None:
    stage_arguments(parser)
    parser.add_argument("--revision", default="heads", metavar="REV",
                        help="the target: head (default), a revision, or relative (-1, +2)")
    parser.add_argument("--sql", action="store_true",
                        help="print the SQL the pending revisions run (captured on a scratch "
                             "database at the stage's revision); change nothing")
    parser.add_argument("--plan-out", type=output_file, metavar="FILE",
                        help="with --sql: also write the plan (stage, from and to revisions, "
                             "the SQL, sha256 of each file) for --plan")
    parser.add_argument("--plan", type=Path, metavar="FILE",
                        help="run exactly the plan --plan-out wrote, or nothing (exit 1) when "
                             "the stage moved or a file changed since")
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
        doc["pending"] = len(migration.steps)
    return doc


def _flag_errors(args: argparse.Namespace) -> None:
    """Flags that do not go together, refused before anything is read."""
    if args.plan_out is not None and not args.sql:
        raise BadInput("--plan-out writes the plan of --sql; pass --sql too")
    if args.plan is not None and (args.sql or args.revision != "heads" or args.allow_downgrade):
        raise BadInput("--plan runs the plan as it was made: it takes no --sql, --revision or "
                       "--allow-downgrade")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Migrate (with --sql, print the plan; with --plan, run one); exit 1 when a revision
    failed there or a plan no longer holds."""
    _flag_errors(args)
    bound = plan.read(args.plan) if args.plan is not None else None
    resolve(load_history(config), args.revision)  # local input first: no AWS to refuse it
    target = targets.stage(config, args.stage, args.tunnel_port, args.tunnel, printer.log)
    if args.sql:
        return _plan(config, target, args, printer)
    settings = config.settings.stages[args.stage]
    done = migrate(config, target, settings, args.revision, args.allow_downgrade,
                   log=printer.log, bound=bound)
    moved = (f"from {shown(done.start)} to {shown(done.end)} "
             f"({count(len(done.applied), 'revision')})" if done.applied else
             f"already at {shown(done.end)}")
    line = (f"migrate: stage {done.stage} {moved}" if done.ok else
            f"migrate: stage {done.stage} stopped at {shown(done.end)}")
    github.append_step_summary(_markdown(done, line))
    printer.result(Result(findings=done.findings, data=_json(done), summary=[line]))
    return done.exit_code


def _plan(config: Config, target: targets.Target, args: argparse.Namespace,
          printer: Printer) -> int:
    """``--sql``: the SQL on stdout, the plan file when asked, a summary section."""
    planned = pending_sql(config, target, args.revision, args.allow_downgrade, args.scratch_url)
    sql = planned.sql or []
    head = (f"-- dbci migrate --sql: stage {planned.stage} from {shown(planned.start)} "
            f"to {shown(planned.end)}")
    data = _json(planned)
    if args.plan_out is not None:
        data["plan"] = display_path(args.plan_out)
        data["sql_sha256"] = plan.write_plan(config, planned.stage, planned.start, planned.end,
                                             planned.steps, sql, args.plan_out).sql_sha256
    github.append_step_summary(f"## Migration plan for {planned.stage}\n\n"
             f"From `{shown(planned.start)}` to `{shown(planned.end)}`: "
             f"{count(len(planned.steps), 'revision')} to run.\n\n```sql\n"
             + "\n".join(sql or ["-- nothing to run"]) + "\n```\n")
    printer.result(Result(lines=[head, *(sql or ["-- nothing to run"])], data=data))
    return EXIT_OK


def _markdown(done: Migration, line: str) -> str:
    """The job summary's section of a run: where the stage went, or where it stopped and why."""
    mark = "✅" if done.ok else "❌"
    out = [f"## dbci migrate: {mark} stage {done.stage}", "", line.removeprefix("migrate: ")]
    if done.applied:
        out += ["", "| revision | direction | seconds |", "|---|---|---|"]
        out += [f"| `{s.revision}` | {s.direction} | {s.seconds:.2f} |" for s in done.applied]
    for finding in done.findings:
        out += ["", f"**[{finding.rule}]({finding.doc_url})**: {finding.message.splitlines()[0]}"]
    return "\n".join(out) + "\n"


COMMAND = Command("migrate", "migrate a deployed stage (lock, short lock waits, retries, verify)",
                  run, arguments)

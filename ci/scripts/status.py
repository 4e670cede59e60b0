"""``dbci status --stage STAGE``: a stage's revision, what is pending, and drift made by hand."""

from __future__ import annotations

import argparse

from ci import github
from ci.command import Command, output_file, scratch_argument, stage_arguments
from ci.config import Config
from ci.findings import Result
from ci.output import Printer
from ci.stages import targets
from ci.stages.status import StageStatus, status


def arguments(parser: argparse.ArgumentParser) -> None:
    stage_arguments(parser)
    scratch_argument(parser)
    parser.add_argument("--fail-on-pending", action="store_true",
                        help="exit 1 also when revisions are pending on the stage")
    parser.add_argument("--stats-out", type=output_file, metavar="FILE",
                        help="also write each table's row estimate and size on the stage (JSON, "
                             "for check --stats), read in the same read-only session")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Print the stage's status; exit 1 when its schema is not the migrations' (or, with
    --fail-on-pending, when revisions are pending)."""
    target = targets.stage(config, args.stage, args.tunnel_port, args.tunnel, printer.log)
    found = status(config, target, args.scratch_url, args.fail_on_pending,
                   stats_out=args.stats_out)
    github.append_step_summary(_markdown(found))
    printer.result(Result(findings=found.findings, summary=[f"status: {found.summary}"], data={
        "stage": found.stage, "revision": list(found.revision), "pending": found.pending,
        "compared": found.compared}))
    return found.exit_code


def _markdown(found: StageStatus) -> str:
    """The job summary's section: the stage's revision, what is pending, what differs."""
    out = [f"## dbci status: {'✅' if found.ok else '❌'} stage {found.stage}", "",
           found.summary]
    if found.pending:
        out += ["", "Pending: " + ", ".join(f"`{rev}`" for rev in found.pending)]
    out += [f"- **[{f.rule}]({f.doc_url})** {f.message}" for f in found.findings]
    return "\n".join(out) + "\n"


COMMAND = Command("status", "a stage's revision, the pending ones, and changes made by hand",
                  run, arguments)

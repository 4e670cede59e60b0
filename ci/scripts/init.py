"""``dbci init``: adopt dbci in an Alembic project as it stands: ``[tool.dbci]`` that lint
passes with, env.py checked, the workflows and the Makefile include written."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ci.about import ACTION
from ci.alembic_env import HONOUR_THE_CONNECTION
from ci.atomic_files import replace_files
from ci.command import Command, stage_name
from ci.config import Config
from ci.errors import EXIT_FINDINGS, EXIT_OK
from ci.findings import Finding, Result, count, display_path
from ci.init.adoption import Adoption, FileChange, Wanted, deploy_jobs_problem, plan
from ci.output import Printer
from ci.rules.init import ENV_IGNORES_CONNECTION, INIT_FILE_DIFFERS, INIT_WOULD_CHANGE
from ci.settings import COMMIT_SHA

#: What each state of a file is called once written, and before.
DONE = {"new": "wrote", "changed": "updated", "differs": "replaced"}
TO_DO = {"new": "would write", "changed": "would update", "differs": "would replace"}


def stage_list(text: str) -> tuple[str, ...]:
    """``dev,staging,prod``: stage names, each once, in the order deploys go through them, each
    one a job of deploy-migrations.yml."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        stage_name(name, "--stages")
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"--stages names a stage twice: {text!r}")
    problem = deploy_jobs_problem(names)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return names


def requirement_list(text: str) -> tuple[str, ...]:
    """``requirements.txt,.``: the entries, each once (``''``: none)."""
    return tuple(dict.fromkeys(entry.strip() for entry in text.split(",") if entry.strip()))


def commit_sha(text: str) -> str:
    """A full commit SHA (40 lowercase hex digits), as workflows pin an action by."""
    if not re.fullmatch(COMMIT_SHA, text):
        raise argparse.ArgumentTypeError(f"--action-ref takes a full commit SHA (40 lowercase "
                                         f"hex digits), not {text[:60]!r}")
    return text


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stages", type=stage_list, metavar="STAGE,...",
                        help="the deployed stages, in the order deploys go through them "
                             "(default: [tool.dbci.workflows] stages, else dev,staging,prod); "
                             "a stage dbci does not know gets a [tool.dbci.stages.NAME] table")
    parser.add_argument("--action-ref", type=commit_sha, metavar="SHA",
                        help=f"the commit of {ACTION} whose action the workflows use (kept in "
                             "[tool.dbci.workflows] action_ref, so running init again needs "
                             "no flag)")
    parser.add_argument("--orm", type=Path, metavar="PATH",
                        help="the ORM's folder, where env.py's imports do not tell it (kept in "
                             "[tool.dbci.workflows] orm)")
    parser.add_argument("--requirements", type=requirement_list, metavar="FILE,...",
                        help="the project's pip requirement files (or folders to install as "
                             "projects, . the project itself), relative to alembic.ini's folder, "
                             "that the workflows install after dbci; '' for none (default: "
                             "requirements.txt or the app's requirements/*.txt, and . when "
                             "pyproject.toml's [project] has dependencies; kept in "
                             "[tool.dbci.workflows] requirements)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when init would change a file")
    parser.add_argument("--force", action="store_true",
                        help="replace files and [tool.dbci] values that differ from what init "
                             "writes (without it, init then changes nothing)")


def run(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Write what adopting dbci takes; exit 1 when a file was kept, --check found one to
    change, or env.py ignores the connection dbci hands it."""
    adoption = plan(config, Wanted(args.stages, args.action_ref, args.orm, args.requirements))
    to_change = [f for f in adoption.files if f.state != "unchanged"]
    refused = [] if args.force else [f for f in to_change if f.state == "differs"]
    written = [] if args.check or refused else to_change
    if written:
        for change in written:
            change.path.parent.mkdir(parents=True, exist_ok=True)  # .github/workflows/
        replace_files({f.path: f.text for f in written})
    findings = [*_env_findings(adoption), *[_differs(f) for f in refused],
                *[INIT_WOULD_CHANGE.at_file(display_path(f.path), f"dbci init {TO_DO[f.state]} "
                                            "it") for f in to_change
                  if args.check and f not in refused]]
    printer.result(Result(findings=findings, lines=_lines(adoption, written, refused), data={
        "settings": {"keys": adoption.settings.keys, "reasons": adoption.settings.reasons,
                     "revisions": adoption.settings.revisions},
        "env": {"file": display_path(adoption.env_file), "honours": adoption.env.honours,
                "why": adoption.env.why, "line": adoption.env.line,
                "patch": adoption.patch_file and display_path(adoption.patch_file),
                "apply": adoption.apply},
        "files": [{"path": display_path(f.path), "state": f.state, "written": f in written}
                  for f in adoption.files],
        "include": adoption.include},
        summary=_summary(adoption, to_change, written, refused, args.check)))
    return EXIT_FINDINGS if findings else EXIT_OK


def _lines(adoption: Adoption, written: list[FileChange], refused: list[FileChange]
           ) -> list[str]:
    env = adoption.env
    shown = display_path(adoption.env_file)
    lines = [*(f"init: {reason}" for reason in adoption.settings.reasons),
             f"init: lint passes on {count(adoption.settings.revisions, 'revision')} with "
             "these settings",
             f"init: {shown}{f':{env.line}' if env.line else ''}: {env.why}"]
    for change in adoption.files:
        state = change.state
        verb = ("unchanged" if state == "unchanged" else "kept" if change in refused
                else DONE[state] if change in written else TO_DO[state])
        lines.append(f"{verb} {display_path(change.path)}")
    return lines


def _env_findings(adoption: Adoption) -> list[Finding]:
    env, patch = adoption.env, adoption.patch_file
    if env.honours is not None:
        return []
    hint = (f"{adoption.apply}, then merge that change before the workflows" if patch else
            "make env.py use config.attributes['connection'] when it is set, as the lines "
            "below do (dbci cannot write the patch for this env.py)")
    return [ENV_IGNORES_CONNECTION.at_file(
        display_path(adoption.env_file), f"env.py does not run on the database dbci hands it: "
        f"{env.why}; dbci refuses to run it"
        + (f"; the patch in {display_path(patch)} makes it" if patch else ""),
        line=env.line, hint=hint, detail=None if patch else HONOUR_THE_CONNECTION)]


def _differs(change: FileChange) -> Finding:
    what = (f"holds {', '.join(change.replaced)}, which init would replace" if change.replaced
            else "differs from what init writes")
    return INIT_FILE_DIFFERS.at_file(display_path(change.path),
                                     f"{display_path(change.path)} {what}; init changed no file")


def _summary(adoption: Adoption, to_change: list[FileChange], written: list[FileChange],
             refused: list[FileChange], check: bool) -> list[str]:
    patch = [f for f in adoption.files if f.path == adoption.patch_file
             and (f in written or f.state == "unchanged")]  # there to apply
    apply = [f"init: {display_path(adoption.env_file)} needs the patch in "
             f"{display_path(patch[0].path)}: {adoption.apply} (then delete the file)",
             "init: merge that env.py change first, in a pull request of its own, then the "
             "workflows: the pull request check builds the base branch's schema with the base's "
             "env.py, which ignores dbci's database until the change is merged"] if patch else []
    include = f"init: add `{adoption.include}` to the Makefile at the repository's root for " \
              "the make db/... recipes"
    if written:
        last = f"init: wrote {count(len(written), 'file')}"
    elif refused:
        last = (f"init: changed nothing: {count(len(refused), 'file')} "
                f"differ{'s' if len(refused) == 1 else ''} from what init writes; --force "
                "replaces them")
    elif to_change:
        last = f"init: would change {count(len(to_change), 'file')}; --check changed nothing"
    else:
        last = "init: nothing to change"
    return [*apply, *([include] if not _included(adoption) else []), last]


def _included(adoption: Adoption) -> bool:
    """Whether the Makefile at the root already has the include line."""
    makefile = adoption.root / "Makefile"
    return makefile.is_file() and adoption.include in makefile.read_text().splitlines()


COMMAND = Command("init", "adopt dbci here: [tool.dbci] that lint passes with, env.py checked, "
                  "the workflows and a Makefile include written", run, arguments)

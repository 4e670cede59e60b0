"""The ``dbci`` console script as a user runs it: flags, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import ast
import io
import json
import runpy
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from conftest import (
    REPO,
    Run,
    dbci,
    dbci_process,
    edit_revision,
    folder_state,
    git,
)

from ci import cli
from ci.command import Command, Group
from ci.config import Config
from ci.errors import OutsideFailure
from ci.output import Printer
from ci.scripts import SCRATCH_AHEAD
from ci.stages.targets import Kind, Target


def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    run = dbci_process("--help", cwd=tmp_path)
    assert run.code == 0
    for command in ("new", "lint", "renumber"):
        assert f"    {command} " in run.out


def test_python_dash_m_ci_is_dbci(project: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m ci", "lint"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("ci", run_name="__main__")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.endswith("lint: ok\n")


def test_a_missing_subcommand_is_a_usage_error() -> None:
    run = dbci()
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("usage: dbci")
    assert run.err.splitlines()[-1] == "dbci: the following arguments are required: COMMAND"


@pytest.mark.parametrize("args", [
    ["roundtrip", "--shard", "0/3"], ["migrate"], ["nosuch"], ["lint", "--no-such-flag"],
    ["migrate", "--stage", "dev", "--tunnel-port", "abc"]])
def test_argument_errors_under_json_are_one_document(args: list[str]) -> None:
    run = dbci("--json", *args)
    assert run.code == 2
    doc = run.json()
    assert (doc["ok"], doc["exit_code"], doc["findings"]) == (False, 2, [])
    assert doc["error"] and "usage:" not in run.out + run.err


def test_lint_a_project_that_is_not_ours_from_another_folder(alembic_project: Path,
                                                             tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ini = str(alembic_project / "alembic.ini")
    run = dbci_process("--config", ini, "lint", cwd=elsewhere)
    assert (run.code, run.err) == (0, "")
    assert run.out.endswith("lint: ok\n")

    path = alembic_project / "migrations" / "versions" / "02_bbbbbbbbbbbb_add_name.py"
    path.write_text(path.read_text().replace("Revises: 01_aaaaaaaaaaaa", "Revises: 01"))
    run = dbci_process("lint", "--config", ini, "--json", cwd=elsewhere)  # flags after it too
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["file"]) == ("docstring-revises", str(path))


def break_ini(project: Path) -> None:
    (project / "alembic.ini").write_text("not ini\n")


def break_revision(project: Path) -> None:
    edit_revision(project, "03", "def upgrade() -> None:", "def upgrade() -> None")


def on_a_branch(project: Path) -> None:
    git(project, "checkout", "-q", "-b", "feature")


@pytest.mark.parametrize(("prepare", "args", "code", "says"), [
    (None, ["lint", "--config", "missing/alembic.ini"], 2, "no such alembic.ini"),
    (break_ini, ["lint"], 2, "malformed alembic.ini"),
    (break_revision, ["lint"], 2, "syntax error"),
    (None, ["new", "!!!"], 2, "has no letters or digits"),
    (on_a_branch, ["lint", "--base", "nope"], 2, "unknown git ref 'nope'"),
], ids=["no-ini", "bad-ini", "bad-revision", "new-bad-message", "lint-bad-ref"])
def test_expected_failures_print_one_line_and_no_traceback(
        git_project: Path, prepare: Callable[[Path], None] | None, args: list[str], code: int,
        says: str) -> None:
    if prepare:
        prepare(git_project)
    before = folder_state(git_project)
    run = dbci_process(*args, cwd=git_project)
    assert run.code == code
    assert "Traceback" not in run.err
    assert run.err.count("\n") == 1 and says in run.err
    assert run.err.startswith(f"dbci {args[0]}: ")
    assert folder_state(git_project) == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    run = dbci("--debug", "--config", str(tmp_path / "alembic.ini"), "lint")
    assert run.code == 2
    assert "Traceback (most recent call last)" in run.err
    assert run.err.endswith("no such alembic.ini; pass --config PATH\n")


def test_github_masks_the_database_password(project: Path) -> None:
    run = dbci("--github", "--database-url", "postgresql://u:s3cret@db.example/app", "lint")
    assert run.code == 0
    assert run.err.startswith("::add-mask::s3cret\n")  # workflow commands: stderr only
    assert "s3cret" not in run.out + run.err.split("\n", 1)[1] and "::" not in run.out


def test_json_errors_are_one_document(project: Path) -> None:
    run = dbci("--json", "new", "!!!")
    assert run.code == 2
    doc = run.json()
    assert doc["ok"] is False and doc["exit_code"] == 2 and doc["findings"] == []
    assert "has no letters or digits" in doc["error"]


# -- commands declare themselves; groups; a URL learned after start-up is masked ---------------


def _grp_show(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    """Reads a stage's URL only now (as a secret from AWS would arrive), prints and fails."""
    target = Target(Kind.STAGE, Path(args.url_file).read_text().strip(), stage="dev")
    printer.out.write(f"connecting to {target.url}\n")
    raise OutsideFailure(f"cannot reach {target.url}; the stage is {target.display}")


def _grp_ok(config: Config, args: argparse.Namespace, printer: Printer) -> int:
    printer.out.write(f"ok {args.name}\n")
    return 0


GROUP = Group("grp", "a group made for this test", (
    Command("show", "read a URL late", _grp_show,
            lambda p: p.add_argument("url_file")),
    Command("ok", "succeed", _grp_ok, lambda p: p.add_argument("--name", default="x")),
))


def grp(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err, commands=[*cli.discover(), GROUP])
    return Run(code, out.getvalue(), err.getvalue())


def test_every_module_of_ci_scripts_declares_one_command() -> None:
    modules = {p.stem for p in (REPO / "ci" / "scripts").glob("*.py") if p.stem != "__init__"}
    assert {c.name for c in cli.discover()} >= modules - {"__init__"}
    assert len(cli.discover()) == len(modules)


def test_a_group_runs_its_commands_with_global_flags_anywhere(project: Path) -> None:
    assert grp("grp", "ok", "--name", "y") == Run(0, "ok y\n", "")
    assert grp("--json", "grp", "ok").code == 0
    assert grp("grp", "ok", "--config", "alembic.ini").out == "ok x\n"


def test_a_url_learned_after_start_up_is_masked_everywhere(project: Path) -> None:
    url_file = project / "url.txt"
    url_file.write_text("postgresql://app:L8te-Secret@db.internal:5432/portal\n")
    run = grp("--github", "grp", "show", str(url_file))
    assert run.code == 3
    mask, *rest = run.err.splitlines()
    assert mask == "::add-mask::L8te-Secret"  # on stderr, before any line that could hold it
    assert "L8te-Secret" not in run.out + "\n".join(rest)
    assert "connecting to postgresql://app:***@db.internal:5432/portal" in run.out
    assert rest[-1] == ("dbci grp show: cannot reach postgresql://app:***@db.internal:5432/"
                        "portal; the stage is stage dev (db.internal:5432/portal)")
    doc = grp("--json", "grp", "show", str(url_file))
    assert "L8te-Secret" not in doc.out + doc.err
    assert "app:***@db.internal" in json.loads(doc.out.split("\n", 1)[1])["error"]
    debug = grp("--debug", "grp", "show", str(url_file))
    assert "Traceback" in debug.err and "L8te-Secret" not in debug.out + debug.err


def test_the_console_script_makes_scratch_databases_ahead_for_commands_that_exist() -> None:
    assert set(SCRATCH_AHEAD) <= {c.name for c in cli.discover()}
    (script,) = metadata.entry_points(group="console_scripts", name="dbci")
    assert script.value == "ci.launch:entry"


def _names(tree: ast.AST) -> set[str]:
    """Every identifier, attribute and string constant in a module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def test_cli_names_no_command_and_no_command_imports_another() -> None:
    names = {c.name for c in cli.discover()}
    for module in ("cli.py", "launch.py"):
        assert not names & _names(ast.parse((REPO / "ci" / module).read_text())), module
    for path in (REPO / "ci" / "scripts").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("ci.scripts"), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("ci.scripts") for a in node.names), path


@pytest.mark.parametrize("command", [["lint"], ["check"], ["diff"], ["renumber"],
                                     ["roundtrip"], ["report"], ["seed", "build"]])
def test_shared_flags_mean_one_thing_and_say_their_true_default(command: list[str],
                                                                 tmp_path: Path) -> None:
    """``--base``, ``--shard`` and ``--comment`` are defined once (ci.command): one help text
    each, the default ``--base`` really takes; old spellings are accepted but not shown."""
    shown = " ".join(dbci_process(*command, "--help", cwd=tmp_path).out.split())
    if "--base" in shown:
        assert ("the first of origin/main, main, origin/master, master" in shown
                or "without it, nothing is compared" in shown)
    for old in ("--onto", "--from FILE"):
        assert old not in shown
    if command == ["seed", "build"]:
        assert "--source FILE_OR_S3_URL" in shown

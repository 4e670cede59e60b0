"""``dbci renumber``: two branches each added revision 15; this one moves after main's head."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    HEAD,
    Run,
    commit_all,
    dbci,
    dbci_process,
    folder_state,
    git,
    versions,
    write_revision,
)


def new(message: str) -> Path:
    run = dbci("new", message)
    assert run.code == 0, run.err
    return Path(run.out.strip())


def revision_of(path: Path) -> str:
    """``15_<rev12>`` from a default-scheme file name."""
    return "_".join(path.name.split("_")[:2])


def diverge(project: Path, ours: list[str], theirs: list[str], how: str = "merge") -> None:
    """Branch ``feature`` adds revisions ``ours`` with dbci new, ``main`` adds ``theirs``; then
    main comes into feature by ``how`` (merge or rebase)."""
    git(project, "checkout", "-q", "-b", "feature")
    for message in ours:
        new(message)
    commit_all(project, "feature revisions")
    git(project, "checkout", "-q", "main")
    for message in theirs:
        new(message)
    commit_all(project, "main revisions")
    git(project, "checkout", "-q", "feature")
    if how == "merge":
        git(project, "merge", "-q", "--no-edit", "main")
    else:
        git(project, "rebase", "-q", "main")


@pytest.fixture(params=["merge", "rebase"])
def diverged(request: pytest.FixtureRequest, git_project: Path) -> Path:
    """``feature`` added two revisions, ``main`` one; then main came in."""
    diverge(git_project, ["feature one", "feature two"], ["main one"], request.param)
    return git_project


def main_files(project: Path) -> dict[str, str]:
    """The revision files on main, by name, with their text."""
    names = git(project, "ls-tree", "--name-only", "main", "database/versions/").split()
    return {Path(n).name: git(project, "show", f"main:{n}") for n in names}


def renumber(*args: str) -> Run:
    run = dbci("--json", "renumber", *args)
    assert run.err == ""
    return run


def test_the_branch_is_broken_before(diverged: Path) -> None:
    assert [n[:3] for n in versions(diverged)][-4:] == ["14_", "15_", "15_", "16_"]
    rules = dbci("--json", "lint").rules()
    assert {"duplicate-number", "multiple-heads", "branch-point"} <= rules


def test_renumber_puts_the_branch_after_main_and_lint_passes(diverged: Path) -> None:
    (main_one,) = [n for n in main_files(diverged) if n.endswith("_main_one.py")]
    run = renumber("--base", "main")
    assert run.code == 0 and run.json()["ok"] is True
    names = versions(diverged)
    assert names[-3] == main_one
    assert [n[:3] for n in names[-3:]] == ["15_", "16_", "17_"]
    assert names[-2].endswith("_feature_one.py") and names[-1].endswith("_feature_two.py")
    lint = dbci("lint")
    assert lint.code == 0, lint.out


def test_renumber_rewrites_ids_parents_and_docstrings(diverged: Path) -> None:
    renumber("--base", "main")
    folder = diverged / "database" / "versions"
    main_one, one, two = (folder / n for n in versions(diverged)[-3:])
    text = two.read_text()
    assert f"revision = '{revision_of(two)}'" in text
    assert f"down_revision = '{revision_of(one)}'" in text
    assert f"Revision ID: {revision_of(two)}\nRevises: {revision_of(one)}\n" in text
    assert f"Revises: {revision_of(main_one)}\n" in one.read_text()


def test_renumber_never_renames_a_revision_of_main(diverged: Path) -> None:
    on_main = main_files(diverged)
    renumber("--base", "main")
    folder = diverged / "database" / "versions"
    assert {n: (folder / n).read_text() for n in on_main} == on_main


def test_json_lists_the_renames(diverged: Path) -> None:
    before = set(versions(diverged))
    doc = renumber("--base", "main").json()
    renamed = doc["renamed"]
    assert [Path(r["from"]).name[:3] for r in renamed] == ["15_", "16_"]
    assert [Path(r["to"]).name[:3] for r in renamed] == ["16_", "17_"]
    for move in renamed:
        assert Path(move["from"]).name in before and not Path(move["from"]).exists()
        assert Path(move["to"]).is_file()
        assert move["revision_from"] == revision_of(Path(move["from"]))
        assert move["revision_to"] == revision_of(Path(move["to"]))
        assert move["revision_from"][3:] == move["revision_to"][3:]  # the hex part is kept


def test_text_output_lists_the_renames(diverged: Path) -> None:
    run = dbci("renumber", "--base", "main")
    lines = run.out.splitlines()
    assert run.code == 0 and len(lines) == 2
    assert all(line.startswith("renamed database/versions/") for line in lines)
    assert " -> database/versions/16_" in lines[0] and " -> database/versions/17_" in lines[1]


def test_a_second_run_has_nothing_to_move(diverged: Path) -> None:
    renumber("--base", "main")
    before = folder_state(diverged)
    run = dbci("renumber", "--base", "main")
    assert run.code == 0
    assert run.out == "renumber: nothing to move, this branch already follows main\n"
    assert folder_state(diverged) == before


def test_the_default_base_is_main(diverged: Path) -> None:
    run = renumber()
    assert run.code == 0 and len(run.json()["renamed"]) == 2
    assert dbci("lint").code == 0


@pytest.mark.db
def test_the_renumbered_branch_passes_lint_against_main(diverged: Path) -> None:
    renumber("--base", "main")
    commit_all(diverged, "renumbered")
    assert dbci("--json", "lint", "--base", "main").json() == {"ok": True, "findings": []}


# -- refusals: nothing written


def refused(project: Path, *args: str) -> Run:
    before = folder_state(project)
    run = dbci("renumber", *args)
    assert run.out == "" and run.err.count("\n") == 1, run.err
    assert run.err.startswith("dbci renumber: ")
    assert folder_state(project) == before
    return run


def test_an_unknown_ref_is_bad_input(diverged: Path) -> None:
    run = refused(diverged, "--base", "nope")
    assert run.code == 2 and "unknown git ref 'nope'" in run.err


def test_main_not_merged_yet(git_project: Path) -> None:
    diverge(git_project, ["feature one"], ["main one"])
    git(git_project, "reset", "-q", "--hard", "HEAD^")  # undo the merge
    run = refused(git_project, "--base", "main")
    assert run.code == 1 and "is not in this tree; merge or rebase onto main first" in run.err


def test_a_branch_that_is_not_one_line(git_project: Path) -> None:
    folder = git_project / "database" / "versions"
    write_revision(folder, "15_aaaaaaaaaaaa_a.py", "15_aaaaaaaaaaaa", HEAD)
    write_revision(folder, "15_bbbbbbbbbbbb_b.py", "15_bbbbbbbbbbbb", HEAD)
    run = refused(git_project, "--base", "main")
    assert run.code == 1 and "must start from one revision of the base history" in run.err


@pytest.mark.parametrize("args", [["--base", "main"], []])
def test_outside_git(project: Path, args: list[str]) -> None:
    run = refused(project, *args)
    assert run.code == 2 and "not a git repository" in run.err


def in_git(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "start")
    return project


def test_the_slug_scheme(slug_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diverge(in_git(slug_project, monkeypatch), ["add links"], ["add genetic perturbations"])
    doc = renumber("--base", "main").json()
    assert [(Path(r["from"]).name, Path(r["to"]).name) for r in doc["renamed"]] == [
        ("03_add_links.py", "04_add_links.py")]
    assert doc["renamed"][0]["revision_to"] == "04_add_links"
    assert dbci("lint").code == 0


def test_alembic_init_template_with_annotations(alembic_project: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    diverge(in_git(alembic_project, monkeypatch), ["add colour"], ["add size"])
    (move,) = renumber("--base", "main").json()["renamed"]
    text = Path(move["to"]).read_text()
    (theirs,) = (alembic_project / "migrations" / "versions").glob("03_*_add_size.py")
    assert f"revision: str = '{move['revision_to']}'" in text
    assert f"down_revision: Union[str, Sequence[str], None] = '{revision_of(theirs)}'" in text
    assert dbci("lint").code == 0


def test_a_hand_written_revision_keeps_its_quotes(git_project: Path) -> None:
    write_revision(git_project / "database" / "versions", "15_aaaaaaaaaaaa_by_hand.py",
                   "15_aaaaaaaaaaaa", HEAD)  # committed on feature by diverge()
    diverge(git_project, [], ["main one"])
    (move,) = renumber("--base", "main").json()["renamed"]
    assert Path(move["to"]).name == "16_aaaaaaaaaaaa_by_hand.py"
    text = Path(move["to"]).read_text()
    assert 'revision = "16_aaaaaaaaaaaa"\ndown_revision = "15_' in text
    assert dbci("lint").code == 0


def test_the_old_spelling_onto_still_moves_the_branch(diverged: Path) -> None:
    """``--onto`` is ``--base`` under its old name: kept, and hidden from the help."""
    run = renumber("--onto", "main")
    assert run.code == 0 and run.json()["ok"] is True
    assert [n[:3] for n in versions(diverged)[-3:]] == ["15_", "16_", "17_"]
    shown = dbci_process("renumber", "--help", cwd=diverged).out
    assert "--base REF" in shown and "--onto" not in shown

"""``dbci new``: the next numbered revision on the head, lint-clean, or nothing written."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from conftest import (
    HEAD,
    copy_project,
    dbci,
    dbci_process,
    edit_revision,
    empty_history,
    folder_state,
    set_dbci,
    unprivileged,
    versions,
    write_revision,
)

NEW_FILE = re.compile(r"database/versions/(\d+)_([0-9a-f]{12})_(\w+)\.py\n")


def new(*args: str) -> Path:
    """Run ``dbci new``; the file it wrote (its printed path)."""
    run = dbci("new", *args)
    assert (run.code, run.err) == (0, ""), run.err
    path = Path(run.out.strip())
    assert path.is_file()
    return path


def assert_lint_clean() -> None:
    run = dbci("lint")
    assert run.code == 0, run.out


def test_new_twice_writes_two_consecutive_lint_clean_revisions(project: Path) -> None:
    first = dbci("new", "Add links to datasets")
    second = dbci("new", "add", "a", "GIN", "index")  # the words need no quotes
    one, two = NEW_FILE.fullmatch(first.out), NEW_FILE.fullmatch(second.out)
    assert one and two
    assert (one[1], one[3]) == ("15", "add_links_to_datasets")
    assert (two[1], two[3]) == ("16", "add_a_gin_index")
    text = Path(second.out.strip()).read_text()
    assert f"revision = '16_{two[2]}'\ndown_revision = '15_{one[2]}'\n" in text
    assert f"Revision ID: 16_{two[2]}\nRevises: 15_{one[2]}\n" in text
    assert text.startswith('"""add a GIN index\n')
    assert_lint_clean()


def test_the_new_revision_is_empty_and_lint_clean(project: Path) -> None:
    text = new("nothing yet").read_text()
    assert "def upgrade() -> None:\n    pass" in text
    assert "def downgrade() -> None:\n    pass" in text
    assert_lint_clean()


def test_json_output_names_the_file(project: Path) -> None:
    run = dbci("--json", "new", "add links")
    doc = run.json()
    assert doc["ok"] is True and doc["findings"] == []
    assert NEW_FILE.fullmatch(doc["path"] + "\n")
    assert Path(doc["path"]).is_file()


def test_an_empty_versions_folder_gets_revision_01(project: Path) -> None:
    empty_history(project)
    path = new("create schema")
    match = NEW_FILE.fullmatch(f"{path}\n")
    assert match and match[1] == "01"
    assert "down_revision = None" in path.read_text()
    assert versions(project) == [path.name]
    assert_lint_clean()
    assert NEW_FILE.fullmatch(f"{new('second')}\n")[1] == "02"  # type: ignore[index]


def test_numbers_grow_past_99(project: Path) -> None:
    set_dbci(project, 'first_revision = "99_0123456789ab"')
    write_revision(project / "database" / "versions", "99_0123456789ab_late.py",
                   "99_0123456789ab", HEAD)
    assert_lint_clean()
    assert new("one hundred").name.startswith("100_")
    assert_lint_clean()


def test_new_in_a_project_that_is_not_ours(alembic_project: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own script.py.mako (annotated assignments), run from another folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = str(alembic_project / "alembic.ini")
    run = dbci("--config", config, "new", "add colour")
    assert run.code == 0, run.err
    path = Path(run.out.strip())  # absolute: it is not below the working directory
    assert path.parent == alembic_project / "migrations" / "versions"
    assert re.fullmatch(r"03_[0-9a-f]{12}_add_colour\.py", path.name)
    assert "down_revision: Union[str, Sequence[str], None] = '02_bbbbbbbbbbbb'" in \
        path.read_text()
    assert dbci("--config", config, "lint").code == 0


def test_the_slug_scheme(slug_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(slug_project)
    first, second = new("add genetic perturbations"), new("add links")
    assert (first.name, second.name) == ("03_add_genetic_perturbations.py", "04_add_links.py")
    text = second.read_text()
    assert "revision: str = '04_add_links'" in text
    assert "down_revision: Union[str, Sequence[str], None] = '03_add_genetic_perturbations'" \
        in text
    assert_lint_clean()


# -- nothing written


def refuse(*args: str, project: Path) -> str:
    """Run ``dbci new`` expecting exit 2 and an unchanged project; its one-line message."""
    before = folder_state(project)
    run = dbci("new", *args)
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("dbci new: ") and run.err.count("\n") == 1, run.err
    assert folder_state(project) == before
    return run.err


def test_a_message_without_letters_or_digits(project: Path) -> None:
    assert refuse("!!!", project=project) == (
        "dbci new: message '!!!' has no letters or digits to name the file; describe the "
        "change, e.g. 'add links to datasets'\n")


def test_several_heads(project: Path) -> None:
    write_revision(project / "database" / "versions", "14_aaaaaaaaaaaa_x.py", "14_aaaaaaaaaaaa",
                   "13_77685f96deb5")
    assert "several heads (" in refuse("add links", project=project)


def test_an_unknown_parent(project: Path) -> None:
    edit_revision(project, "05", 'down_revision = "04_af7d7e1617c9"',
                  'down_revision = "04_ffffffffffff"')
    assert "the history is broken; run `dbci lint`" in refuse("add links", project=project)


def test_a_syntax_error(project: Path) -> None:
    path = edit_revision(project, "09", "def upgrade() -> None:", "def upgrade() -> None")
    assert f"database/versions/{path.name}:" in refuse("add links", project=project)


def test_no_alembic_ini(project: Path) -> None:
    (project / "alembic.ini").unlink()
    assert "no such alembic.ini" in refuse("add links", project=project)


def test_an_unwritable_versions_folder(shared_tmp: Path) -> None:
    project = copy_project(shared_tmp / "project")
    folder = project / "database" / "versions"
    folder.chmod(0o555)
    if os.geteuid() != 0 and os.access(folder, os.W_OK):
        pytest.skip("this file system ignores the folder mode")
    before = folder_state(project)
    run = dbci_process("new", "add links", cwd=project, **unprivileged())
    assert run.code == 2, run.err
    assert run.err == ("dbci new: database/versions: cannot write here (Permission denied); "
                       "nothing was written\n")
    assert folder_state(project) == before


# -- --autogenerate against an embedded database at head


@pytest.mark.db
def test_autogenerate_writes_the_orm_difference(project: Path) -> None:
    models = project / "orm" / "models.py"
    marker = "    tombstoned: Mapped[bool] = "
    text = models.read_text()
    assert marker in text
    models.write_text(text.replace(
        marker, "    doi: Mapped[str | None] = mapped_column(sa.String(64))\n" + marker, 1))
    path = new("--autogenerate", "add doi")
    assert path.name.startswith("15_")
    body = path.read_text()
    assert "op.add_column('CollectionCanonical', sa.Column('doi', sa.String(length=64)" in body
    assert "op.drop_column('CollectionCanonical', 'doi'" in body
    assert_lint_clean()


@pytest.mark.db
def test_autogenerate_on_the_reference_project_finds_nothing_and_says_so(project: Path) -> None:
    run = dbci("new", "--autogenerate", "no change")
    assert run.code == 0
    path = Path(run.out.strip())
    assert run.err == ("dbci new: autogenerate found no difference between the ORM and the "
                       f"migrations at head; {path} is an empty revision\n")
    assert dbci("--json", "new", "--autogenerate", "again").json()["empty"] is True
    functions = {node.name: node.body for node in ast.parse(path.read_text()).body
                 if isinstance(node, ast.FunctionDef)}
    assert [type(s) for s in functions["upgrade"]] == [ast.Pass]
    assert [type(s) for s in functions["downgrade"]] == [ast.Pass]
    assert_lint_clean()

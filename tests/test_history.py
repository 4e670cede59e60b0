"""The revision history over Alembic's ScriptDirectory, on real project copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import HEAD, edit_revision, empty_history, revision_path, set_dbci, write_revision

from ci.config import Config
from ci.errors import BadInput
from ci.history import History, load_history


def history_of(project: Path) -> History:
    return load_history(Config.load(project / "alembic.ini"))


def test_the_reference_history_is_one_line_of_fourteen(project: Path) -> None:
    history = history_of(project)
    chain = history.order()
    assert history.head() == chain[-1]
    assert [r.id[:2] for r in chain] == [f"{n:02d}" for n in range(1, 15)]
    assert [h.id for h in history.heads] == [HEAD]
    assert chain[0].down_revisions == ()
    assert chain[1].down_revisions == (chain[0].id,)
    assert not (history.duplicates or history.unknown_down or history.cycle)
    assert history.exempt == set()


def test_revision_knows_where_things_are_in_its_source(project: Path) -> None:
    rev = history_of(project).get(HEAD)
    assert rev.path == revision_path(project, "14")
    assert rev.display == "database/versions/" + rev.path.name  # relative to the cwd
    assert rev.assignment_line("revision") == 13
    assert rev.assignment_line("down_revision") == 14
    assert rev.assignment_line("nothing") is None
    assert rev.docstring_field("Revision ID") == (HEAD, 3)
    assert rev.docstring_field("Revises") == ("13_77685f96deb5", 4)
    downgrade = rev.function("downgrade")
    assert downgrade is not None and downgrade.name == "downgrade"
    assert rev.function("_nothing") is None


def test_the_first_revision_has_an_empty_revises_line(project: Path) -> None:
    assert history_of(project).get("01_2d1455f47d8e").docstring_field("Revises") == ("", 4)


def test_annotated_assignments_are_found(alembic_project: Path) -> None:
    path = alembic_project / "migrations" / "versions" / "01_aaaaaaaaaaaa_create_things.py"
    path.write_text(path.read_text().replace("revision = ", "revision: str = "))
    rev = history_of(alembic_project).get("01_aaaaaaaaaaaa")
    assert rev.assignment_line("revision") == 12


def test_get_an_unknown_revision_is_bad_input(project: Path) -> None:
    with pytest.raises(BadInput, match="unknown revision '99_000000000000'"):
        history_of(project).get("99_000000000000")


def test_ancestors(project: Path) -> None:
    history = history_of(project)
    assert history.ancestors("03_26c94fd74e68") == {"01_2d1455f47d8e", "02_68d31c2c7907"}
    assert history.ancestors("01_2d1455f47d8e") == set()


def test_first_revision_exempts_the_revisions_before_it(project: Path) -> None:
    set_dbci(project, 'first_revision = "03_26c94fd74e68"')
    assert history_of(project).exempt == {"01_2d1455f47d8e", "02_68d31c2c7907"}


def test_exempt_through_exempts_the_revision_and_those_before_it(project: Path) -> None:
    set_dbci(project, 'exempt_through = "02_68d31c2c7907"')
    assert history_of(project).exempt == {"01_2d1455f47d8e", "02_68d31c2c7907"}


def test_an_unknown_first_revision_is_bad_input(project: Path) -> None:
    set_dbci(project, 'first_revision = "03_000000000000"')
    with pytest.raises(BadInput, match="first_revision '03_000000000000'"):
        history_of(project).exempt  # noqa: B018


def test_duplicate_ids_are_collected(project: Path) -> None:
    versions = project / "database" / "versions"
    copy = versions / "15_3a5e33b5fa4a_copy.py"
    copy.write_text(revision_path(project, "14").read_text())
    history = history_of(project)
    assert {r.path.name for r in history.duplicates[HEAD]} == {
        revision_path(project, "14").name, copy.name}
    with pytest.raises(BadInput, match="the history is broken"):
        history.order()


def test_an_unknown_parent_is_collected_and_no_graph_built(project: Path) -> None:
    edit_revision(project, "05", 'down_revision = "04_af7d7e1617c9"',
                  'down_revision = "04_ffffffffffff"')
    history = history_of(project)
    assert [(r.id, d) for r, d in history.unknown_down] == [("05_5a3c600990c9", "04_ffffffffffff")]
    assert history.graph is None and history.heads == []


def test_a_cycle_is_collected(project: Path) -> None:
    edit_revision(project, "01", "down_revision = None", f'down_revision = "{HEAD}"')
    history = history_of(project)
    assert HEAD in history.cycle and "01_2d1455f47d8e" in history.cycle
    assert history.graph is None


def test_several_heads_have_an_order_but_no_head(project: Path) -> None:
    write_revision(project / "database" / "versions", "15_aaaaaaaaaaaa_a.py", "15_aaaaaaaaaaaa",
                   "13_77685f96deb5")
    history = history_of(project)
    assert len(history.order()) == 15
    with pytest.raises(BadInput, match="several heads"):
        history.head()


def test_a_merge_comes_after_both_its_parents(project: Path) -> None:
    versions = project / "database" / "versions"
    write_revision(versions, "15_aaaaaaaaaaaa_a.py", "15_aaaaaaaaaaaa", "13_77685f96deb5")
    write_revision(versions, "16_bbbbbbbbbbbb_m.py", "16_bbbbbbbbbbbb",
                   (HEAD, "15_aaaaaaaaaaaa"))
    history = history_of(project)
    ids = [r.id for r in history.order()]
    assert ids[-1] == "16_bbbbbbbbbbbb" and len(ids) == 16
    assert ids.index("15_aaaaaaaaaaaa") > ids.index("13_77685f96deb5")
    assert history.head() is not None and history.head().id == "16_bbbbbbbbbbbb"


def test_an_empty_folder_has_an_empty_order(project: Path) -> None:
    empty_history(project)
    history = history_of(project)
    assert history.revisions == [] and history.order() == [] and history.head() is None


def test_a_syntax_error_names_file_and_line(project: Path) -> None:
    edit_revision(project, "07", "def downgrade() -> None:", "def downgrade() -> None")
    path = revision_path(project, "07")
    line = path.read_text().splitlines().index("def downgrade() -> None") + 1
    with pytest.raises(BadInput, match=rf"^database/versions/{path.name}:{line}: syntax error"):
        history_of(project)


def test_a_file_without_revision_is_bad_input(project: Path) -> None:
    path = edit_revision(project, "07", 'revision = "07_2e805208407e"', "")
    with pytest.raises(BadInput, match=rf"^database/versions/{path.name}: no `revision"):
        history_of(project)


def test_a_file_failing_on_import_is_bad_input(project: Path) -> None:
    path = edit_revision(project, "07", "from alembic import op",
                         "from alembic import op\nimport no_such_module")
    with pytest.raises(BadInput, match=rf"{path.name}: cannot be imported \(ModuleNotFoundError"):
        history_of(project)


def test_a_history_is_loaded_once_until_a_file_changes(project: Path) -> None:
    config = Config.load("alembic.ini")
    first = load_history(config)
    assert load_history(config) is first  # dbci check asks in each of its steps
    edit_revision(project, "14", "CANCELED did not exist", "CANCELED was not there")
    second = load_history(config)
    assert second is not first
    assert "CANCELED was not there" in second.get(HEAD).source

"""``dbci lint``: the reference project, copies broken each way, and ``--base`` in real git."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    HEAD,
    Run,
    commit_all,
    copy_project,
    dbci,
    dbci_process,
    edit_revision,
    empty_history,
    folder_state,
    git,
    revision_path,
    set_dbci,
    unprivileged,
    write_revision,
)

from ci.about import absolute


def versions_dir(project: Path) -> Path:
    return project / "database" / "versions"


def lint(*args: str) -> Run:
    """``dbci --json lint``, with its text form checked to say the same."""
    text = dbci("lint", *args)
    run = dbci("--json", "lint", *args)
    assert run.code == text.code
    for finding in run.json()["findings"]:
        assert f"[lint/{finding['rule']}]" in text.out and finding["file"] in text.out
        assert f"    doc: {absolute(finding['doc'])}\n" in text.out  # links its rule's doc
    return run


def files_with(run: Run, rule: str) -> set[str]:
    """The file names (no folder) that a rule's findings name."""
    return {Path(f["file"]).name for f in run.json()["findings"] if f["rule"] == rule}


def test_the_reference_project_is_clean(project: Path) -> None:
    run = dbci("lint")
    assert (run.code, run.err) == (0, "")
    assert run.out == "lint: 14 revisions in database/versions\nlint: ok\n"
    assert dbci("--json", "lint").json() == {"ok": True, "findings": []}


# -- broken copies: each function breaks the project and returns the file a finding must name.

def _new_revision(project: Path, filename: str, revision: str,
                  down: str | tuple[str, ...] | None = HEAD, *, upgrade: str = "pass",
                  downgrade: str | None = "pass") -> Path:
    return write_revision(versions_dir(project), filename, revision, down, upgrade=upgrade,
                          downgrade=downgrade)


def unknown_parent(project: Path) -> Path:
    return edit_revision(project, "05", 'down_revision = "04_af7d7e1617c9"',
                         'down_revision = "04_ffffffffffff"')


def duplicate_id(project: Path) -> Path:
    copy = versions_dir(project) / "15_3a5e33b5fa4a_copy.py"
    shutil.copy(revision_path(project, "14"), copy)
    return copy


def cycle(project: Path) -> Path:
    return edit_revision(project, "01", "down_revision = None", f'down_revision = "{HEAD}"')


def bad_file_name(project: Path) -> Path:
    path = revision_path(project, "05")
    return path.rename(path.with_name("05-5a3c600990c9-add-dataset-artifacts.py"))


def bad_revision_id(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_CCCCCCCCCCCC")


def id_disagrees_with_file(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_dddddddddddd")


def number_gap(project: Path) -> Path:
    return _new_revision(project, "16_cccccccccccc_x.py", "16_cccccccccccc")


def number_written_wide(project: Path) -> Path:
    return _new_revision(project, "015_cccccccccccc_x.py", "015_cccccccccccc")


def duplicate_number(project: Path) -> Path:
    _new_revision(project, "15_bbbbbbbbbbbb_y.py", "15_bbbbbbbbbbbb", "15_aaaaaaaaaaaa")
    return _new_revision(project, "15_aaaaaaaaaaaa_x.py", "15_aaaaaaaaaaaa")


def docstring_id(project: Path) -> Path:
    return edit_revision(project, "14", f"Revision ID: {HEAD}", "Revision ID: 14_000000000000")


def docstring_revises(project: Path) -> Path:
    return edit_revision(project, "14", "Revises: 13_77685f96deb5", "Revises: 12_7cd45af4a41d")


def second_head(project: Path) -> Path:
    return _new_revision(project, "14_aaaaaaaaaaaa_other.py", "14_aaaaaaaaaaaa", "13_77685f96deb5")


def branch_point(project: Path) -> Path:
    second_head(project)
    return revision_path(project, "13")


def merge(project: Path) -> Path:
    second_head(project)
    return _new_revision(project, "15_bbbbbbbbbbbb_merge.py", "15_bbbbbbbbbbbb",
                         (HEAD, "14_aaaaaaaaaaaa"))


DOES_SOMETHING = 'op.execute("CREATE TABLE t (id int)")'


def pass_downgrade(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=DOES_SOMETHING, downgrade="pass")


def no_downgrade(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=DOES_SOMETHING, downgrade=None)


def irreversible_without_reason(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=f"# dbci: irreversible\n{DOES_SOMETHING}")


def allow_without_reason(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=f"# dbci: allow missing-downgrade\n{DOES_SOMETHING}")


def commit_outside_a_block(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=f"op.get_bind().commit()\n{DOES_SOMETHING}",
                         downgrade='op.execute("DROP TABLE t")')


def raise_without_reason(project: Path) -> Path:
    return _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc",
                         upgrade=DOES_SOMETHING, downgrade="raise NotImplementedError")


@pytest.mark.parametrize(("rule", "breaks"), [
    ("unknown-down-revision", unknown_parent),
    ("duplicate-revision-id", duplicate_id),
    ("revision-cycle", cycle),
    ("file-name", bad_file_name),
    ("revision-id", bad_revision_id),
    ("revision-id", id_disagrees_with_file),
    ("revision-number", number_gap),
    ("revision-number", number_written_wide),
    ("duplicate-number", duplicate_number),
    ("docstring-revision-id", docstring_id),
    ("docstring-revises", docstring_revises),
    ("multiple-heads", second_head),
    ("branch-point", branch_point),
    ("merge-revision", merge),
    ("missing-downgrade", pass_downgrade),
    ("missing-downgrade", no_downgrade),
    ("marker-without-reason", irreversible_without_reason),
    ("marker-without-reason", allow_without_reason),
    ("marker-without-reason", raise_without_reason),
    ("commit-outside-autocommit-block", commit_outside_a_block),
], ids=lambda v: getattr(v, "__name__", v))
def test_a_broken_copy_fails_naming_rule_and_file(project: Path, rule: str,
                                                  breaks: Callable[[Path], Path]) -> None:
    named = breaks(project)
    before = folder_state(project)
    run = lint()
    assert run.code == 1
    assert named.name in files_with(run, rule)
    assert run.json()["ok"] is False
    assert folder_state(project) == before


def test_findings_name_the_line(project: Path) -> None:
    docstring_id(project)
    run = dbci("lint")
    assert run.out.splitlines()[1].startswith(
        f"database/versions/{revision_path(project, '14').name}:3: [lint/docstring-revision-id] "
        "docstring says '14_000000000000'; revision is '14_3a5e33b5fa4a'")
    assert run.out.splitlines()[2].startswith("    fix: ")


def test_a_duplicate_id_names_both_files(project: Path) -> None:
    copy = duplicate_id(project)
    assert files_with(lint(), "duplicate-revision-id") == {copy.name,
                                                           revision_path(project, "14").name}


def test_a_cycle_names_the_revisions_in_it(project: Path) -> None:
    cycle(project)
    assert len(files_with(lint(), "revision-cycle")) == 14


def test_two_heads_name_both_and_the_shared_number(project: Path) -> None:
    head = revision_path(project, "14")
    other = second_head(project)
    run = lint()
    both = {other.name, head.name}
    assert files_with(run, "multiple-heads") == both
    assert files_with(run, "duplicate-number") == both


def test_the_file_name_hint_names_the_expected_file(project: Path) -> None:
    bad_file_name(project)
    (finding,) = lint().json()["findings"]
    assert finding["hint"] == "rename the file to 05_5a3c600990c9_add_dataset_artifacts.py"


def test_the_json_document_has_the_contract_shape(project: Path) -> None:
    docstring_revises(project)
    doc = lint().json()
    assert doc["ok"] is False
    (finding,) = doc["findings"]
    assert finding["check"] == "lint"
    assert finding["rule"] == "docstring-revises"
    assert finding["revision"] == HEAD
    assert finding["file"] == f"database/versions/{revision_path(project, '14').name}"
    assert finding["line"] == 4
    assert finding["message"] == ("docstring says '12_7cd45af4a41d'; down_revision is "
                                  "'13_77685f96deb5'")
    assert finding["doc"] == "docs/rules.md#docstring-revises"
    assert set(finding) <= {"check", "rule", "revision", "file", "line", "object", "message",
                            "hint", "detail", "doc"}


def test_github_annotations(project: Path) -> None:
    path = docstring_id(project)
    run = dbci("--github", "lint")
    assert "::" not in run.out  # workflow commands go to stderr
    annotations = [line for line in run.err.splitlines() if line.startswith("::")]
    assert annotations == [
        f"::error file=database/versions/{path.name},line=3,"
        "title=dbci lint%3A docstring-revision-id::docstring says '14_000000000000'; "
        "revision is '14_3a5e33b5fa4a'%0Afix: make the docstring's Revision ID line equal the "
        "revision variable"]
    assert run.code == 1


def test_no_annotations_when_clean(project: Path) -> None:
    run = dbci("--github", "lint")
    assert run.code == 0 and "::" not in run.out + run.err


# -- downgrades that are accepted


@pytest.mark.parametrize(("upgrade", "downgrade"), [
    ("pass", "pass"),                                              # as `dbci new` writes it
    ('"""Nothing yet."""', '"""Nothing yet."""\n...'),
    (DOES_SOMETHING, 'op.execute("DROP TABLE t")'),
    (f"# dbci: irreversible -- the old rows are gone\n{DOES_SOMETHING}", "pass"),
    (f"# dbci: irreversible: the old rows are gone\n{DOES_SOMETHING}", None),
    (DOES_SOMETHING, 'raise NotImplementedError("the old rows are gone")'),
    (f"# dbci: allow missing-downgrade -- throwaway table\n{DOES_SOMETHING}", "pass"),
    (f"with op.get_context().autocommit_block():\n    op.get_bind().commit()\n{DOES_SOMETHING}",
     'op.execute("DROP TABLE t")'),
], ids=["empty", "docstrings", "real", "marked", "marked-colon", "raises", "allowed",
        "commit-in-a-block"])
def test_accepted_downgrades(project: Path, upgrade: str, downgrade: str | None) -> None:
    _new_revision(project, "15_cccccccccccc_x.py", "15_cccccccccccc", upgrade=upgrade,
                  downgrade=downgrade)
    run = lint()
    assert (run.code, run.json()["findings"]) == (0, [])


# -- bad input: exit 2, one line naming what is wrong, nothing written


def no_ini(project: Path) -> str:
    (project / "alembic.ini").unlink()
    return r"alembic.ini: no such alembic.ini"


def malformed_ini(project: Path) -> str:
    (project / "alembic.ini").write_text("this is not ini syntax\n")
    return r"alembic.ini: malformed alembic.ini"


def ini_without_script_location(project: Path) -> str:
    (project / "alembic.ini").write_text("[alembic]\nprepend_sys_path = .\n")
    return r"alembic.ini: no script_location"


def syntax_error(project: Path) -> str:
    path = edit_revision(project, "07", "def upgrade() -> None:", "def upgrade() -> None")
    line = path.read_text().splitlines().index("def upgrade() -> None") + 1
    return rf"database/versions/{path.name}:{line}: syntax error"


def no_revision_variable(project: Path) -> str:
    path = edit_revision(project, "07", 'revision = "07_2e805208407e"', "")
    return rf"database/versions/{path.name}: no `revision"


def no_down_revision_variable(project: Path) -> str:
    path = edit_revision(project, "07", 'down_revision = "06_5783d1c6787b"', "")
    return rf"database/versions/{path.name}: .*down_revision"


def bad_number_width(project: Path) -> str:
    set_dbci(project, "number_width = 0")
    return r"pyproject.toml: \[tool.dbci\] number_width = 0: must be between 1 and 9"


@pytest.mark.parametrize("breaks", [no_ini, malformed_ini, ini_without_script_location,
                                    syntax_error, no_revision_variable,
                                    no_down_revision_variable, bad_number_width],
                         ids=lambda f: f.__name__)
def test_bad_input_is_one_line_and_exit_2(project: Path, breaks: Callable[[Path], str]) -> None:
    pattern = breaks(project)
    before = folder_state(project)
    run = dbci("lint")
    assert run.code == 2 and run.out == ""
    assert re.fullmatch(rf"dbci lint: (/.*/)?{pattern}[^\n]*\n", run.err), run.err
    assert folder_state(project) == before
    doc = dbci("--json", "lint").json()
    assert (doc["ok"], doc["exit_code"], doc["findings"]) == (False, 2, [])
    assert re.search(pattern, doc["error"])


def test_a_history_may_start_at_00(project: Path) -> None:
    empty_history(project)
    _new_revision(project, "00_aaaaaaaaaaaa_start.py", "00_aaaaaaaaaaaa", None)
    _new_revision(project, "01_bbbbbbbbbbbb_next.py", "01_bbbbbbbbbbbb", "00_aaaaaaaaaaaa")
    assert lint().json() == {"ok": True, "findings": []}


def test_a_history_may_not_start_at_02(project: Path) -> None:
    empty_history(project)
    first = _new_revision(project, "02_aaaaaaaaaaaa_start.py", "02_aaaaaaaaaaaa", None)
    assert files_with(lint(), "revision-number") == {first.name}


# -- configured naming


def test_first_revision_exempts_earlier_revisions_from_naming(project: Path) -> None:
    """A project adopting dbci: its old revisions carry Alembic's plain ids."""
    edit_revision(project, "01", "01_2d1455f47d8e", "2d1455f47d8e",
                  rename="2d1455f47d8e_create_persistence_schema.py")
    edit_revision(project, "02", 'down_revision = "01_2d1455f47d8e"',
                  'down_revision = "2d1455f47d8e"')
    edit_revision(project, "02", "Revises: 01_2d1455f47d8e", "Revises: 2d1455f47d8e")
    run, legacy = lint(), {"2d1455f47d8e_create_persistence_schema.py"}
    assert files_with(run, "revision-id") == files_with(run, "file-name") == legacy

    set_dbci(project, 'first_revision = "02_68d31c2c7907"')
    assert lint().json() == {"ok": True, "findings": []}


def test_first_revision_leaves_later_revisions_checked(project: Path) -> None:
    set_dbci(project, 'first_revision = "05_5a3c600990c9"')
    edit_revision(project, "03", "Revision ID: 03_", "Revision ID: 3_")
    assert lint().code == 0
    path = edit_revision(project, "05", "Revision ID: 05_", "Revision ID: 5_")
    assert files_with(lint(), "docstring-revision-id") == {path.name}


def test_an_unknown_first_revision_is_bad_input(project: Path) -> None:
    set_dbci(project, 'first_revision = "05_000000000000"')
    run = dbci("lint")
    assert run.code == 2
    assert run.err == ("dbci lint: first_revision '05_000000000000' in [tool.dbci] is not a "
                       "revision in database/versions\n")


def test_the_slug_scheme(slug_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(slug_project)
    assert lint().json() == {"ok": True, "findings": []}
    versions = slug_project / "migrations" / "versions"
    write_revision(versions, "03_add_genetic_perturbations.py", "03_add_genetic_perturbation",
                   "02_add_name")
    write_revision(versions, "04-add-x.py", "04_add_x", "03_add_genetic_perturbation")
    run = lint()
    assert files_with(run, "revision-id") == {"03_add_genetic_perturbations.py"}
    assert files_with(run, "file-name") == {"04-add-x.py"}


def test_a_history_of_another_scheme_is_told_once_how_to_adopt_dbci(project: Path) -> None:
    set_dbci(project, 'revision_format = "{number}_{slug}"', 'file_format = "{revision}.py"')
    run = lint()
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "adopt-naming-scheme" and finding["file"] == "database/versions"
    assert finding["message"].startswith("14 of 14 revisions do not follow the naming scheme")
    assert f'exempt_through = "{HEAD}"' in finding["hint"]
    set_dbci(project, f'exempt_through = "{HEAD}"')  # the hint passes as it is
    assert lint().json() == {"ok": True, "findings": []}


def test_the_slug_scheme_after_a_first_revision(project: Path) -> None:
    set_dbci(project, 'revision_format = "{number}_{slug}"', 'file_format = "{revision}.py"',
             'first_revision = "15_add_genetic_perturbations"')
    _new_revision(project, "15_add_genetic_perturbations.py", "15_add_genetic_perturbations")
    assert lint().json() == {"ok": True, "findings": []}


# -- --base: the deployed history in a real git repository


@pytest.fixture
def feature(git_project: Path) -> Path:
    """The reference project on a branch ``feature`` of ``main``."""
    git(git_project, "checkout", "-q", "-b", "feature")
    return git_project


def test_an_unchanged_branch_passes(feature: Path) -> None:
    run = dbci("lint", "--base", "main")
    assert run.code == 0
    assert "squawk: no revisions added since main" in run.out


def test_editing_a_revision_of_main_fails(feature: Path) -> None:
    path = edit_revision(feature, "05", "def downgrade() -> None:\n",
                         "def downgrade() -> None:\n    # tidier\n")
    commit_all(feature, "edit 05")
    run = lint("--base", "main")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "edited-deployed-revision"
    assert finding["file"] == f"database/versions/{path.name}"
    assert finding["line"] == path.read_text().splitlines().index("    # tidier") + 1


def test_an_uncommitted_edit_counts_too(feature: Path) -> None:
    path = edit_revision(feature, "14", "CANCELED did not exist", "CANCELED was not there")
    assert files_with(lint("--base", "main"), "edited-deployed-revision") == {path.name}


def test_renaming_or_deleting_a_revision_of_main_fails(feature: Path) -> None:
    path = revision_path(feature, "14")
    path.rename(path.with_name(f"{HEAD}_renamed.py"))
    run = lint("--base", "main")
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "edited-deployed-revision"
    assert "moved to database/versions/14_3a5e33b5fa4a_renamed.py" in finding["message"]

    revision_path(feature, "14").unlink()
    assert "was deleted" in lint("--base", "main").json()["findings"][0]["message"]


def test_an_absolute_script_location_compares_with_the_base_checkout(git_project: Path
                                                                    ) -> None:
    """``alembic init /abs/path`` writes an absolute script_location; the base is still main's."""
    ini = git_project / "alembic.ini"
    ini.write_text(ini.read_text().replace("%(here)s/database", str(git_project / "database")))
    commit_all(git_project, "absolute script_location")
    git(git_project, "checkout", "-q", "-b", "feature")
    path = edit_revision(git_project, "05", "def downgrade() -> None:\n",
                         "def downgrade() -> None:\n    # tidier\n")
    assert files_with(lint("--base", "main"), "edited-deployed-revision") == {path.name}


def test_a_project_below_the_repository_root(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    project = copy_project(repo / "backend")
    monkeypatch.chdir(repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "start")
    git(repo, "checkout", "-q", "-b", "feature")
    path = edit_revision(project, "14", "CANCELED did not exist", "CANCELED was not there")
    run = dbci("--json", "--config", "backend/alembic.ini", "lint", "--base", "main")
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "edited-deployed-revision"
    assert finding["file"] == f"backend/database/versions/{path.name}"


def test_a_base_without_the_project_is_bad_input(feature: Path) -> None:
    git(feature, "checkout", "-q", "--orphan", "empty")
    git(feature, "rm", "-rq", "--cached", ".")
    git(feature, "commit", "-q", "--allow-empty", "-m", "nothing")
    git(feature, "checkout", "-q", "-f", "feature")
    run = dbci("lint", "--base", "empty")
    assert run.code == 2
    assert run.err == "dbci lint: alembic.ini does not exist at empty; is empty the right base?\n"


def test_an_unknown_base_ref_is_bad_input(feature: Path) -> None:
    run = dbci("lint", "--base", "nope")
    assert run.code == 2
    assert run.err == ("dbci lint: unknown git ref 'nope'; fetch it (git fetch origin) or "
                       "name another\n")


def test_base_outside_a_git_repository_is_bad_input(project: Path) -> None:
    run = dbci("lint", "--base", "main")
    assert run.code == 2
    assert run.err == (f"dbci lint: {project}: not a git repository (or any of the parent "
                       "directories): .git; --base needs a git repository\n")


def test_a_repository_git_refuses_is_named(shared_tmp: Path) -> None:
    """As in CI containers where the checkout belongs to another user."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run dbci as a user that does not own the repository")
    project = copy_project(shared_tmp / "project")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "start")
    run = dbci_process("lint", "--base", "main", cwd=project, **unprivileged())
    assert run.code == 2
    assert run.err == (f"dbci lint: {project}: detected dubious ownership in repository at "
                       f"'{project}'; --base needs a git repository\n")


# -- --base: squawk on the SQL each new revision executes (a real PostgreSQL)

INDEX = ('op.create_index("ix_owner", "CollectionVersion", ["owner"], '
         'schema="persistence_schema"{concurrently})')
DROP_INDEX = ('op.drop_index("ix_owner", table_name="CollectionVersion", '
              'schema="persistence_schema"{concurrently})')
CONCURRENTLY = ", postgresql_concurrently=True"
SQUAWK_RULE = "require-concurrent-index-creation"


def index_revision(project: Path, *, concurrently: bool = False, comment: str = "") -> Path:
    """A new revision 15 indexing an existing table."""
    if concurrently:
        upgrade = ("with op.get_context().autocommit_block():\n    "
                   + INDEX.format(concurrently=CONCURRENTLY))
        downgrade = ("with op.get_context().autocommit_block():\n    "
                     + DROP_INDEX.format(concurrently=CONCURRENTLY))
    else:
        upgrade, downgrade = INDEX.format(concurrently=""), DROP_INDEX.format(concurrently="")
    return _new_revision(project, "15_0123456789ab_index_owner.py", "15_0123456789ab",
                         upgrade=comment + upgrade, downgrade=downgrade)


@pytest.mark.db
def test_an_index_without_concurrently_fails(feature: Path) -> None:
    path = index_revision(feature)
    commit_all(feature, "index")
    run = lint("--base", "main")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == SQUAWK_RULE
    assert finding["file"] == f"database/versions/{path.name}"
    assert finding["revision"] == "15_0123456789ab"
    assert 'CREATE INDEX ix_owner ON persistence_schema."CollectionVersion"' in finding["message"]
    assert finding["doc"] == f"https://squawkhq.com/docs/{SQUAWK_RULE}"  # squawk's own page


@pytest.mark.db
def test_a_concurrent_index_in_an_autocommit_block_passes(feature: Path) -> None:
    index_revision(feature, concurrently=True)
    run = dbci("lint", "--base", "main")
    assert run.code == 0, run.out
    assert "squawk: 1 revision added since main" in run.out


@pytest.mark.db
def test_an_allow_comment_with_a_reason_suppresses_the_squawk_rule(feature: Path) -> None:
    index_revision(feature, comment=f"# dbci: allow {SQUAWK_RULE} -- table is tiny\n")
    assert lint("--base", "main").json() == {"ok": True, "findings": []}


@pytest.mark.db
def test_an_allow_comment_without_a_reason_does_not(feature: Path) -> None:
    path = index_revision(feature, comment=f"# dbci: allow {SQUAWK_RULE}\n")
    run = lint("--base", "main")
    assert run.code == 1
    assert files_with(run, "marker-without-reason") == {path.name}
    assert files_with(run, SQUAWK_RULE) == {path.name}


def test_migrations_beside_the_ini_folder_come_from_the_base_checkout(
        git_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """alembic.ini in config/, the migrations in database/: both are read at the base ref."""
    (git_project / "config").mkdir()
    ini = (git_project / "alembic.ini").read_text()
    (git_project / "config" / "alembic.ini").write_text(
        ini.replace("%(here)s/database", "%(here)s/../database")
           .replace("prepend_sys_path = %(here)s", "prepend_sys_path = %(here)s/.."))
    (git_project / "alembic.ini").unlink()
    commit_all(git_project, "alembic.ini in config/")
    git(git_project, "checkout", "-q", "-b", "feature")
    path = edit_revision(git_project, "05", "def downgrade() -> None:\n",
                         "def downgrade() -> None:\n    # tidier\n")
    run = dbci("--json", "--config", "config/alembic.ini", "lint", "--base", "main")
    assert run.code == 1
    assert {f["file"] for f in run.json()["findings"]} == {f"database/versions/{path.name}"}

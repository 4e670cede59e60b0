"""``dbci diff``: migra's SQL of what a branch adds over its base, or over an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import add_revision, commit_all, dbci, git

from ci.findings import count

pytestmark = pytest.mark.db

LINK = ('op.create_table("DatasetLink", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("url", sa.Text, nullable=False), schema="persistence_schema")')


def branch_with_link(project: Path) -> None:
    """A ``feature`` branch whose one new revision creates ``persistence_schema.DatasetLink``."""
    git(project, "checkout", "-q", "-b", "feature")
    add_revision(project, "create_dataset_link", LINK,
                 'op.drop_table("DatasetLink", schema="persistence_schema")')
    commit_all(project, "add DatasetLink")


def diff(*args: str, over: str) -> list[str]:
    """``dbci diff ARGS``: its statements; the text form says ``over`` (a ref, or "an empty
    database") and prints the same statements."""
    run = dbci("--json", "diff", *args)
    assert run.code == 0
    assert run.json()["base"] == (None if over == "an empty database" else over)
    statements: list[str] = run.json()["sql"]
    text = dbci("diff", *args)
    assert (text.code, text.err) == (0, "")
    assert text.out == "".join(f"{line}\n" for line in [
        f"-- dbci diff: {count(len(statements), 'statement')} over {over}", *statements])
    return statements


def creates(statements: list[str], table: str) -> bool:
    return any(s.startswith(f'create table "persistence_schema"."{table}"') for s in statements)


def test_a_branch_shows_the_sql_its_revision_adds_over_main(git_project: Path) -> None:
    branch_with_link(git_project)
    statements = diff(over="main")
    assert creates(statements, "DatasetLink")
    assert all("DatasetLink" in s for s in statements)  # only what the branch adds
    assert diff("--base", "main", over="main") == statements


def test_uncommitted_revisions_count_too(git_project: Path) -> None:
    add_revision(git_project, "create_dataset_link", LINK,
                 'op.drop_table("DatasetLink", schema="persistence_schema")')
    assert creates(diff("--base", "main", over="main"), "DatasetLink")


def test_main_over_itself_is_empty(git_project: Path) -> None:
    assert diff(over="main") == []


def test_an_unknown_base_is_bad_input(git_project: Path) -> None:
    run = dbci("diff", "--base", "no-such-branch")
    assert run.code == 2 and "no-such-branch" in run.err and len(run.err.splitlines()) == 1


def test_outside_git_the_diff_is_over_an_empty_database(project: Path) -> None:
    statements = diff(over="an empty database")
    assert 'create schema if not exists "persistence_schema";' in statements
    for table in ("CollectionCanonical", "CollectionVersion", "DatasetArtifact",
                  "DatasetCanonical", "DatasetVersion", "DatasetVersionToArtifact"):
        assert creates(statements, table)
    assert not any("alembic_version" in s for s in statements)

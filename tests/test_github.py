"""Annotations name their file as GitHub reads it: relative to the repository's root, also from
a step that runs in a project's folder below it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.findings import Finding
from ci.github import annotation

FINDING = Finding("lint", "missing-downgrade", "no downgrade", file="migrations/versions/x.py",
                  line=3)


@pytest.mark.parametrize(("workspace", "cwd", "shown"), [
    (None, "backend", "migrations/versions/x.py"),
    (".", ".", "migrations/versions/x.py"),
    (".", "backend", "backend/migrations/versions/x.py"),
    ("other", "backend", "migrations/versions/x.py"),  # not below the workspace: as it is
], ids=["outside-github", "at-the-root", "in-a-folder", "elsewhere"])
def test_an_annotation_names_its_file_from_the_repository_s_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: str | None, cwd: str,
        shown: str) -> None:
    for folder in ("backend", "other"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / cwd)
    if workspace is not None:
        monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / workspace))
    assert annotation(FINDING) == (f"::error file={shown},line=3,title=dbci lint%3A "
                                   "missing-downgrade::no downgrade")

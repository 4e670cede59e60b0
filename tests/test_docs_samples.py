"""docs/sample-pr-comment.md: the comment of a real run, checked in, and never a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from ci import docs_samples
from ci.docs_samples import SampleFailed, main, sample_comment

pytestmark = pytest.mark.db


def test_the_checked_in_page_is_a_real_runs_comment() -> None:
    page = sample_comment(REPO)
    assert page == (REPO / docs_samples.PAGE).read_text(), (
        f"{docs_samples.PAGE} is not what a run gives now: run `make docs` "
        f"(python -m ci.docs_samples {docs_samples.PAGE}) and commit the page")
    comment = page.split("\n---\n", 1)[1]
    assert comment.startswith("\n<!-- dbci check -->\n## dbci check: ❌ 2 problems\n")
    assert "in N.Ns" in comment and "](rules.md#downgrade-leaves-objects)" in comment


def test_a_scenario_that_shows_no_fault_writes_no_page(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The downgrade fixed: the round trip's finding is gone, so the sample would not show
    what its page says; make docs fails and leaves the page as it was."""
    monkeypatch.setattr(docs_samples, "REVISION", docs_samples.REVISION + (
        '    op.drop_column("DatasetVersion", "notes", schema="persistence_schema")\n'))
    monkeypatch.chdir(REPO)
    page = tmp_path / "page.md"
    assert main([str(page)]) == 1
    assert not page.exists()


def test_outside_dbcis_repository_it_says_where_to_run_it(tmp_path: Path) -> None:
    with pytest.raises(SampleFailed, match="no alembic.ini; run this at dbci's repository root"):
        sample_comment(tmp_path)

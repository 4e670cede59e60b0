"""bench/__main__.py: a new run's tables replace the old ones; the paired figures kept by hand
below them stay."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import KEPT, kept


def test_the_section_kept_by_hand_is_what_follows_its_heading(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    assert kept(results) == ""
    results.write_text("# old tables\n\n| N |\n" + KEPT + "\n\n| change | ratio |\n")
    assert kept(results) == KEPT + "\n\n| change | ratio |\n"
    results.write_text("# tables alone\n")
    assert kept(results) == ""

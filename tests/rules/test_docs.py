"""docs/rules.md: generated from the registry, checked in, one ``## <rule-id>`` section each."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

from conftest import REPO

from ci.rules import RULES
from ci.rules.__main__ import main
from ci.rules.docs import described, markdown


def test_the_checked_in_page_is_the_generated_one() -> None:
    checked_in = (REPO / "docs" / "rules.md").read_text()
    assert checked_in == markdown(), (
        "docs/rules.md differs from the rules in ci/rules/: run `make docs` "
        "(python -m ci.rules docs/rules.md) and commit the page")


def test_each_rule_has_a_section_whose_anchor_is_its_id() -> None:
    page = markdown()
    headings = re.findall(r"^## (.+)$", page, re.MULTILINE)
    assert headings == [r.id for r in RULES]  # GitHub's anchor: the id less a family's "/"
    for each in RULES:
        section = page.split(f"\n## {each.id}\n", 1)[1].split("\n## ", 1)[0]
        assert f"**Fix:** {each.fix}" in section.replace("&lt;", "<")
        assert f"**Check:** `{each.check}`" in section
        assert each.link == f"docs/rules.md#{each.id.replace('/', '')}"


def test_a_tag_like_word_outside_code_stays_text() -> None:
    seed = next(r for r in RULES if r.id == "seed-upgrade-fails")
    assert "<script_location>" in seed.fix
    assert "&lt;script_location>/seed/&lt;revision>.sql" in markdown()


def test_python_dash_m_ci_rules_writes_or_prints_the_page(tmp_path: Path) -> None:
    assert main([str(tmp_path / "rules.md")]) == 0
    assert (tmp_path / "rules.md").read_text() == markdown()
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main([]) == 0
    assert printed.getvalue() == markdown()


def test_one_rule_as_text_holds_its_summary_doc_fix_and_link() -> None:
    each = next(r for r in RULES if r.id == "downgrade-changes-rows")
    lines = described(each)
    assert lines[0] == f"downgrade-changes-rows (roundtrip): {each.summary}"
    assert " ".join(line.strip() for line in lines[2:-3]) == each.doc
    assert all(len(line) <= 100 for line in lines[2:-3])
    assert lines[-2:] == [f"    fix: {each.fix}", "    doc: https://github.com/dbci-dev/dbci/blob/main/docs/rules.md#downgrade-changes-rows"]

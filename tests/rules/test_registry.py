"""The rule registry: every rule id dbci emits, defined once, documented in the README."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from ci.rules import RULES
from ci.rules.base import rule


def readme_rules() -> dict[str, set[str]]:
    """Rule id -> the checks the README's rule table names for it (squawk's row aside)."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("| rule | check |"):].split("\n\n", 1)[0]
    out = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ids = re.findall(r"^`([a-z-]+)`$", cells[0])
        if ids:
            out[ids[0]] = {c.strip() for c in cells[1].split(",")}
    return out


def test_every_rule_has_a_kebab_case_id_a_doc_and_a_hint() -> None:
    for each in RULES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", each.id)
        assert each.doc and each.hint and each.checks


def test_each_id_is_defined_once() -> None:
    ids = [each.id for each in RULES]
    assert len(ids) == len(set(ids))
    with pytest.raises(ValueError, match="rule 'upgrade-fails' is defined twice"):
        rule("upgrade-fails", "again", "no")


def test_the_readme_table_and_the_registry_agree() -> None:
    assert readme_rules() == {each.id: set(each.checks) for each in RULES}


def test_a_finding_at_a_file_or_at_a_stage() -> None:
    drift = next(r for r in RULES if r.id == "drift-differs")
    at_env = drift.at_file("database/env.py", "differs", object="s.t.c")
    assert (at_env.where, at_env.check, at_env.hint) == ("database/env.py", "drift", drift.hint)
    at_stage = drift.at_stage("prod", "differs")
    assert (at_stage.where, at_stage.stage, at_stage.to_json()["stage"]) == (
        "stage prod", "prod", "prod")

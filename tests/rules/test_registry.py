"""The rule registry: every rule id dbci emits, defined once, named after its id, in the table
of docs/rules-overview.md; the families hold definitions only, and every finding comes from a
rule."""

from __future__ import annotations

import ast
import inspect
import pkgutil
import re

import pytest
from conftest import REPO

import ci.rules
from ci.rules import FAMILIES, REGISTRY, RULES, Rule
from ci.rules.base import rule

#: The modules of ``ci.rules`` that are no family: the rule type, the docs, ``python -m``.
NOT_FAMILIES = {"base", "docs", "__main__"}


def overview_rules() -> dict[str, set[str]]:
    """Rule id -> the checks the rule table of docs/rules-overview.md names for it (squawk's row
    aside)."""
    text = (REPO / "docs" / "rules-overview.md").read_text()
    table = text[text.index("| rule | check |"):].split("\n\n", 1)[0]
    out = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ids = re.findall(r"^`([a-z/-]+)`$", cells[0])
        if ids:
            out[ids[0]] = {c.strip() for c in cells[1].split(",")}
    return out


def test_every_rule_has_a_kebab_case_id_a_summary_a_doc_and_a_fix() -> None:
    for each in RULES:
        assert re.fullmatch(r"([a-z]+/)?[a-z]+(-[a-z]+)*", each.id)  # a family/ prefix at most
        assert each.summary and each.doc and each.fix and each.checks, each.id
        assert "\n" not in each.summary and each.summary.endswith("."), each.id


def test_each_id_is_defined_once() -> None:
    ids = [each.id for each in RULES]
    assert len(ids) == len(set(ids))
    with pytest.raises(ValueError, match="rule 'upgrade-fails' is defined twice"):
        rule("upgrade-fails", summary="again.", doc="again", fix="no")


def test_each_constant_is_named_after_its_id() -> None:
    """``DOWNGRADE_LEAVES_OBJECTS = rule("downgrade-leaves-objects", ...)``: a grep for either
    spelling finds the definition and every place the rule fires."""
    named = [(name, value) for family in FAMILIES for name, value in vars(family).items()
             if isinstance(value, Rule)]
    for name, each in named:
        expected = each.id.upper().replace("-", "_").replace("/", "_")
        assert name == expected, f"{name} = rule({each.id!r}, ...)"
    assert sorted(each.id for _, each in named) == sorted(REGISTRY)  # one constant each


def test_every_module_of_ci_rules_is_a_family_of_definitions_only() -> None:
    modules = {info.name for info in pkgutil.iter_modules(ci.rules.__path__)} - NOT_FAMILIES
    assert modules == {family.__name__.rsplit(".", 1)[1] for family in FAMILIES}
    for family in FAMILIES:
        own = [name for name, value in vars(family).items()
               if (inspect.isfunction(value) or inspect.isclass(value))
               and value.__module__ == family.__name__]
        assert own == [], f"{family.__name__} detects: move {own} into the check that owns it"


def imports(path: str) -> set[str]:
    """The ``ci`` modules a source file imports."""
    tree = ast.parse((REPO / path).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "ci"}


@pytest.mark.parametrize("path", sorted(str(p.relative_to(REPO))
                                        for p in (REPO / "ci" / "rules").glob("*.py")))
def test_the_rules_import_no_higher_layer(path: str) -> None:
    higher = ("ci.checks", "ci.roundtrip", "ci.stages", "ci.scripts", "ci.cli", "ci.output",
              "ci.report")
    assert not {m for m in imports(path) if m.startswith(higher)}


def calls_of(name: str) -> list[tuple[str, ast.Call]]:
    """Every call of ``name(...)`` in ci/, with its file."""
    found = []
    for path in sorted((REPO / "ci").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == name:
                found.append((str(path.relative_to(REPO)), node))
    return found


def test_every_finding_comes_from_a_rule_or_from_squawk_and_links_its_doc() -> None:
    """A finding of a rule that is neither in the registry nor squawk's cannot be made: only a
    Rule (ci/rules/base.py) and squawk's report (ci/checks/squawk.py) build findings, and both
    give the doc link. (The CLI's one-line error annotation is no finding of a rule.)"""
    built = {(path, "doc" in {k.arg for k in call.keywords})
             for path, call in calls_of("Finding") if path != "ci/cli.py"}
    assert built == {("ci/rules/base.py", True), ("ci/checks/squawk.py", True)}
    assert {path for path, _ in calls_of("Rule")} == {"ci/rules/base.py"}  # rule() registers


def test_the_overview_table_and_the_registry_agree() -> None:
    assert overview_rules() == {each.id: set(each.checks) for each in RULES}


def test_a_finding_at_a_file_or_at_a_stage() -> None:
    drift = next(r for r in RULES if r.id == "drift-differs")
    at_env = drift.at_file("database/env.py", "differs", object="s.t.c")
    assert (at_env.where, at_env.check, at_env.hint) == ("database/env.py", "drift", drift.fix)
    assert at_env.doc == drift.link == "docs/rules.md#drift-differs"
    at_stage = drift.at_stage("prod", "differs")
    assert (at_stage.where, at_stage.stage, at_stage.to_json()["stage"]) == (
        "stage prod", "prod", "prod")
    assert at_stage.to_json()["doc"] == "docs/rules.md#drift-differs"


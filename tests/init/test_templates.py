"""``python -m ci.init.templates``: a workflow's change carried into its template, or left as a
conflict where it meets the template's own lines."""

from __future__ import annotations

import pytest
from conftest import REPO

from ci.init.adoption import WORKFLOWS
from ci.init.render import render, template
from ci.init.templates import derive, own_values

CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"


def workflow(name: str) -> str:
    return (REPO / ".github" / "workflows" / name).read_text()


@pytest.mark.parametrize("name", WORKFLOWS)
def test_a_workflow_in_step_leaves_its_template_as_it_is(name: str) -> None:
    derived = derive(template(f"workflows/{name}"), workflow(name), own_values())
    assert (derived.text, derived.conflicts) == (template(f"workflows/{name}"), 0)


def test_a_change_to_shared_lines_lands_in_the_template() -> None:
    """A pin bumped in every job, and a line added next to nothing of the template's own."""
    changed = workflow("pr-checks.yml").replace(CHECKOUT, "actions/checkout@" + "1" * 40 +
                                                " # v5.1.0").replace(
        "    timeout-minutes: 5\n", "    timeout-minutes: 5 # git diff only\n")
    derived = derive(template("workflows/pr-checks.yml"), changed, own_values())
    assert derived.conflicts == 0
    assert render(derived.text, own_values()) == changed
    assert derived.text.count("1" * 40) == changed.count("1" * 40) == 4
    assert "{dbci:action}" in derived.text and "timeout-minutes: 5 # git diff only" in derived.text


def test_a_change_that_meets_a_placeholder_is_a_conflict_to_resolve() -> None:
    changed = workflow("schema-drift.yml").replace("stage: [dev, staging, prod]",
                                                   "stage: [dev, prod]")
    derived = derive(template("workflows/schema-drift.yml"), changed, own_values())
    assert derived.conflicts == 1
    assert ("<<<<<<< template\n        stage: [{dbci:stage_list}]\n=======\n        stage: "
            "[dev, prod]\n>>>>>>> the workflow\n") in derived.text

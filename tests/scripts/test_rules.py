"""``dbci rules [ID]``: every rule (id, check, summary), or one rule's whole doc."""

from __future__ import annotations

from conftest import REPO, dbci

from ci.rules import REGISTRY, RULES

CONFIG = ("--config", str(REPO / "alembic.ini"))  # rules read no project; any alembic.ini does


def test_rules_lists_every_rule_with_its_check_and_summary() -> None:
    run = dbci(*CONFIG, "rules")
    assert (run.code, run.err) == (0, "")
    lines = run.out.splitlines()
    assert len(lines) == len(RULES) + 1
    for line, each in zip(lines, RULES, strict=False):
        assert line.split()[:2] == [each.id, each.checks[0] + ("," if each.checks[1:] else "")]
        assert line.endswith(f"  {each.summary}")
    assert lines[-1].startswith(f"{len(RULES)} rules; `dbci rules ID` prints one's doc")


def test_rules_id_prints_the_whole_doc() -> None:
    run = dbci(*CONFIG, "rules", "downgrade-leaves-objects")
    assert (run.code, run.err) == (0, "")
    each = REGISTRY["downgrade-leaves-objects"]
    assert run.out.splitlines()[0] == f"downgrade-leaves-objects (roundtrip): {each.summary}"
    assert " ".join(run.out.split()).count(" ".join(each.doc.split())) == 1
    assert run.out.endswith("    fix: drop the object in downgrade()\n"
                            "    doc: https://github.com/dbci-dev/dbci/blob/main/docs/rules.md#downgrade-leaves-objects\n")


def test_an_unknown_id_is_exit_2_with_one_line() -> None:
    run = dbci(*CONFIG, "rules", "no-such-rule")
    assert (run.code, run.out) == (2, "")
    assert run.err == "dbci rules: no rule 'no-such-rule'; `dbci rules` lists them all\n"


def test_json_lists_the_rules_or_gives_one() -> None:
    every = dbci(*CONFIG, "--json", "rules").json()
    assert (every["ok"], every["findings"]) == (True, [])
    assert [r["id"] for r in every["rules"]] == [r.id for r in RULES]
    one = dbci(*CONFIG, "--json", "rules", "drift-differs").json()["rule"]
    drift = REGISTRY["drift-differs"]
    assert one == {"id": "drift-differs", "checks": ["drift"], "summary": drift.summary,
                   "doc": drift.doc, "fix": drift.fix, "link": "docs/rules.md#drift-differs"}
    unknown = dbci(*CONFIG, "--json", "rules", "nope")
    assert unknown.code == 2 and unknown.json()["error"].startswith("no rule 'nope'")

"""The rules as people read them: ``dbci rules`` (a listing, one rule's whole doc, JSON) and
``docs/rules.md``, all from the registry."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from ci import about
from ci.rules import RULES
from ci.rules.base import DOCS, Rule, squawk_link

#: squawk's page listing its rules.
SQUAWK_RULES = squawk_link("rules")
#: How ``docs/rules.md`` is written again after a rule changed.
REGENERATE = "make docs"
#: A code span: backticks, its text, as many backticks.
CODE_SPAN = re.compile(r"(`+).+?\1")


def as_json(rule: Rule) -> dict[str, Any]:
    """One rule as ``dbci rules --json`` gives it."""
    return {"id": rule.id, "checks": list(rule.checks), "summary": rule.summary,
            "doc": rule.doc, "fix": rule.fix, "link": rule.link}


def listing() -> list[str]:
    """Every rule on one line each: its id, the checks that report it, its summary."""
    width = max(len(r.id) for r in RULES)
    checks = {r.id: ", ".join(r.checks) for r in RULES}
    check_width = max(len(c) for c in checks.values())
    return [f"{r.id:<{width}}  {checks[r.id]:<{check_width}}  {r.summary}" for r in RULES]


def described(rule: Rule, width: int = 100) -> list[str]:
    """One rule's whole doc as text: its summary, the doc paragraph, the fix, the link."""
    return [f"{rule.id} ({', '.join(rule.checks)}): {rule.summary}", "",
            *textwrap.wrap(rule.doc, width, initial_indent="    ", subsequent_indent="    "),
            "", f"    fix: {rule.fix}", f"    doc: {about.absolute(rule.link)}"]


def markdown() -> str:
    """``docs/rules.md``: a table of every rule, then one ``## <rule-id>`` section each (its
    anchor is ``#<rule-id>``, the link every finding carries)."""
    out = ["# dbci rules", "",
           f"<!-- Generated from ci/rules/ by `{REGENERATE}` (python -m ci.rules {DOCS}); "
           "do not edit by hand. -->", "",
           "Every rule dbci reports, by the id its findings carry (`[check/rule-id]` in text, "
           "`\"rule\"` in JSON). Its check is the command that reports it: `dbci lint`, "
           "`roundtrip`, `drift`, `status`, `migrate`; `seed` is the seed step of `dbci check` "
           "and `dbci seed upload` or `tf bump`; `dbci check` runs lint, roundtrip, drift and "
           "seed together. `dbci rules ID` prints a rule's doc in the terminal. Allow a rule in "
           "one revision with a comment and a reason: `# dbci: allow <rule-id> -- <reason>`.",
           "",
           f"With `--base`, lint also reports squawk's lock-safety rules under squawk's own ids; "
           f"squawk documents them: {SQUAWK_RULES}.", "",
           "| rule | check | summary |", "| --- | --- | --- |"]
    out += [f"| [`{r.id}`](#{r.anchor}) | {', '.join(r.checks)} | "
            f"{_cell(r.summary)} |" for r in RULES]
    for rule in RULES:
        out += ["", f"## {rule.id}", "", _prose(rule.summary), "", _prose(rule.doc), "",
                f"**Fix:** {_prose(rule.fix)}", "",
                f"**Check:** {', '.join(f'`{c}`' for c in rule.checks)}"]
    return "\n".join(out) + "\n"


def _prose(text: str) -> str:
    """Text as markdown shows it as written: ``<`` outside code spans escaped, so a
    ``<revision>`` is not taken for an HTML tag."""
    out, at = [], 0
    for span in CODE_SPAN.finditer(text):
        out += [text[at:span.start()].replace("<", "&lt;"), span.group(0)]
        at = span.end()
    return "".join([*out, text[at:].replace("<", "&lt;")])


def _cell(text: str) -> str:
    """Text for a table cell: prose, its ``|`` escaped."""
    return _prose(text).replace("|", "\\|")

"""The deployed-history rule: revisions that exist on the base branch are never edited."""

from __future__ import annotations

from ci.rules.base import rule

EDITED_DEPLOYED_REVISION = rule(
    "edited-deployed-revision",
    summary="With `--base`: a revision that exists on the base branch changed, moved or "
    "disappeared.",
    doc="""A revision that exists on the base branch changed, moved or disappeared. Databases
    already ran it, so an edit never reaches them, and a rename orphans every database stamped
    with the old id. Change the schema in a new revision instead. Adding or changing whole-line
    ``# dbci:`` marker comments (allow, irreversible) is not an edit: that is how an old
    revision is marked when dbci is adopted.""",
    fix="restore the file as it is on the base branch and put the change in a new revision "
    "(dbci new)",
)

"""Compatibility rules: the release running on the base branch keeps working while the new
revisions are deployed under it."""

from __future__ import annotations

from ci.rules.base import rule

COMPAT_RUNNING_RELEASE_BREAKS = rule(
    "compat/running-release-breaks",
    summary="The release running on the base branch breaks on the new schema: a table or "
    "column its ORM maps is gone, or a new NOT NULL column without a default is one it does "
    "not write.",
    doc="""During a deploy the migrations run first and the base branch's code keeps serving
    until the new release replaces it. dbci loads the base branch's ORM (env.py's
    ``target_metadata`` at the base ref) and, on the migrated database inside a transaction
    it rolls back, selects every column of every table it maps (``LIMIT 0``) and looks for
    NOT NULL columns without a default that it does not map: either breaks the running
    release's queries or INSERTs for the length of the deploy.""",
    fix="expand, then contract: ship the code that stops using the table or column first and "
    "drop it in a later release; give a new NOT NULL column a server default (or add it "
    "nullable) until the code writes it",
    check="check")

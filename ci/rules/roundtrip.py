"""Round-trip rules: each revision's downgrade restores exactly what was there before its
upgrade, schema and rows."""

from __future__ import annotations

from ci.rules.base import rule

UPGRADE_FAILS = rule(
    "upgrade-fails",
    summary="The upgrade raised; later revisions are not checked.",
    doc="""The revision's upgrade raised on a database at the previous revision, so the
    revisions after it were not checked (by the round trip, or by lint's capture of the SQL
    each new revision runs).""",
    fix="run `alembic upgrade` to this revision locally and fix the error shown",
    check=("roundtrip", "lint"))
DOWNGRADE_FAILS = rule(
    "downgrade-fails",
    summary="The downgrade raised (a `NotImplementedError` too, unless the revision's own "
    "downgrade raised it with a reason).",
    doc="""The revision's downgrade raised right after its upgrade (a NotImplementedError raised
    by Alembic, SQLAlchemy or other code it calls, too). A downgrade that cannot work must say
    so: raise NotImplementedError("<reason>") in it, or mark it `# dbci: irreversible --
    <reason>`.""",
    fix="fix downgrade() so it undoes upgrade()",
    check="roundtrip")
DOWNGRADE_LEAVES_OBJECTS = rule(
    "downgrade-leaves-objects",
    summary="After upgrade then downgrade an object exists that did not before.",
    doc="""After upgrade then downgrade, an object exists that did not exist before: the
    downgrade forgot to drop it (a column, index, constraint, enum type...).""",
    fix="drop the object in downgrade()",
    check="roundtrip")
DOWNGRADE_DROPS_OBJECTS = rule(
    "downgrade-drops-objects",
    summary="After upgrade then downgrade an object that existed is gone.",
    doc="""After upgrade then downgrade, an object that existed before is gone: the downgrade
    drops too much.""",
    fix="drop only what upgrade() created",
    check="roundtrip")
DOWNGRADE_CHANGES_OBJECTS = rule(
    "downgrade-changes-objects",
    summary="After upgrade then downgrade an object differs (type, default, definition, enum "
    "labels).",
    doc="""After upgrade then downgrade, an object exists but differs from before (a type,
    default, nullability, definition or enum label).""",
    fix="restore the object's previous definition in downgrade()",
    check="roundtrip")
DOWNGRADE_CHANGES_ROWS = rule(
    "downgrade-changes-rows",
    summary="Rows present before the upgrade are not the same after upgrade then downgrade.",
    doc="""Rows that were in a table before the upgrade are not the same after upgrade then
    downgrade: the revision loses or rewrites data on the way back. Rows come from the data
    fixtures (`<script_location>/roundtrip_data/<revision>.sql`) and from data migrations.
    Allow it with `# dbci: allow downgrade-changes-rows -- <reason>` where losing data on
    downgrade is intended.""",
    fix="make downgrade() keep the rows, or allow the rule with a reason",
    check="roundtrip")

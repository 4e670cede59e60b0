"""Round-trip rules: each revision's downgrade restores exactly what was there before its
upgrade, schema and rows."""

from __future__ import annotations

from ci.rules.base import rule

UPGRADE_FAILS = rule(
    "upgrade-fails", """The revision's upgrade raised on a database at the previous revision, so
    the revisions after it were not checked (by the round trip, or by lint's capture of the SQL
    each new revision runs).""",
    "run `alembic upgrade` to this revision locally and fix the error shown",
    check=("roundtrip", "lint"))
DOWNGRADE_FAILS = rule(
    "downgrade-fails", """The revision's downgrade raised right after its upgrade (a
    NotImplementedError raised by Alembic, SQLAlchemy or other code it calls, too). A downgrade
    that cannot work must say so: raise NotImplementedError("<reason>") in it, or mark it
    `# dbci: irreversible -- <reason>`.""",
    "fix downgrade() so it undoes upgrade()", check="roundtrip")
LEAVES = rule(
    "downgrade-leaves-objects", """After upgrade then downgrade, an object exists that did not
    exist before: the downgrade forgot to drop it (a column, index, constraint, enum type...).""",
    "drop the object in downgrade()", check="roundtrip")
DROPS = rule(
    "downgrade-drops-objects", """After upgrade then downgrade, an object that existed before is
    gone: the downgrade drops too much.""",
    "drop only what upgrade() created", check="roundtrip")
CHANGES = rule(
    "downgrade-changes-objects", """After upgrade then downgrade, an object exists but differs
    from before (a type, default, nullability, definition or enum label).""",
    "restore the object's previous definition in downgrade()", check="roundtrip")
CHANGES_ROWS = rule(
    "downgrade-changes-rows", """Rows that were in a table before the upgrade are not the same
    after upgrade then downgrade: the revision loses or rewrites data on the way back. Rows come
    from the data fixtures (`<script_location>/roundtrip_data/<revision>.sql`) and from data
    migrations. Allow it with `# dbci: allow downgrade-changes-rows -- <reason>` where losing
    data on downgrade is intended.""",
    "make downgrade() keep the rows, or allow the rule with a reason", check="roundtrip")

#: The rule for each kind of schema difference a downgrade leaves.
BY_CHANGE = {"added": LEAVES, "removed": DROPS, "changed": CHANGES}

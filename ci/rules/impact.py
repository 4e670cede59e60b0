"""Impact rules: what a new revision, observed as it ran, does to the stage's tables, sized by
the stage's statistics (``check --stats``); without them, or below ``impact_rows`` and
``impact_bytes``, it is shown in the report and fails nothing."""

from __future__ import annotations

from ci.rules.base import rule

IMPACT_TABLE_REWRITE = rule(
    "impact/table-rewrite",
    summary="A new revision rewrites a table that is large on the stage, under ACCESS "
    "EXCLUSIVE for as long as the copy takes.",
    doc="""The revision's upgrade gave a table a new storage file (a type change such as int to
    bigint, a volatile default, SET LOGGED, VACUUM FULL): PostgreSQL copies every row while it
    holds ACCESS EXCLUSIVE, so every read and write of the table waits for the copy. The
    stage's statistics (``dbci status --stats-out``) say the table holds more rows or bytes
    than ``impact_rows`` or ``impact_bytes``.""",
    fix="change it without a rewrite (a new column, backfilled in batches, then swapped), or "
    "run it in a maintenance window and say so: `# dbci: allow impact/table-rewrite -- "
    "<reason>`",
    check="check")
IMPACT_LONG_EXCLUSIVE_LOCK = rule(
    "impact/long-exclusive-lock",
    summary="A new revision reads a whole table that is large on the stage while holding a "
    "lock that blocks its writes.",
    doc="""The revision's upgrade scanned a table in full (validating a constraint, SET NOT
    NULL, building an index without CONCURRENTLY) while holding SHARE or a stronger lock: the
    application's writes to that table (and, under ACCESS EXCLUSIVE, its reads) wait as long
    as the scan, which the stage's statistics say is long (more rows or bytes than
    ``impact_rows`` or ``impact_bytes``).""",
    fix="add constraints NOT VALID and VALIDATE them in a later revision; for NOT NULL, a "
    "CHECK (col IS NOT NULL) NOT VALID validated first; build indexes CONCURRENTLY in "
    "`op.get_context().autocommit_block()`; or allow it with a reason",
    check="check")

"""Stage rules: what a deployed database holds against what the migrations build, and a
migration that failed there."""

from __future__ import annotations

from ci.rules.base import rule

STAGE_UNKNOWN_REVISION = rule(
    "stage-unknown-revision",
    summary="The stage is at a revision this code does not have: the deployed code is ahead of "
    "this branch.",
    doc="""The stage's ``alembic_version`` names a revision this code does not have: the code
    deployed there is ahead of this branch, or the revision was deleted or renamed.""",
    fix="update this branch from the base branch; never rename or delete a deployed revision",
    check="status")
STAGE_EXTRA_OBJECT = rule(
    "stage-extra-object",
    summary="The stage holds an object the migrations do not build at its revision: added by "
    "hand.",
    doc="""The stage holds an object the migrations do not build at its revision: someone added
    it by hand (an index made in a console, a column added during an incident). The next
    revision that touches it may fail there, or the object is lost on the next rebuild.""",
    fix="write a revision that creates it (so every stage has it), or drop it from the stage",
    check="status")
STAGE_MISSING_OBJECT = rule(
    "stage-missing-object",
    summary="The migrations build an object the stage lacks: dropped by hand.",
    doc="""The migrations build an object at the stage's revision that the stage lacks: someone
    dropped it by hand.""",
    fix="recreate it on the stage as the migrations define it, or drop it in a new revision",
    check="status")
STAGE_OBJECT_DIFFERS = rule(
    "stage-object-differs",
    summary="An object differs between the stage and the migrations: changed by hand.",
    doc="""An object exists on the stage and in the migrations but differs (a type, default,
    definition): changed by hand.""",
    fix="make the stage match the migrations, or change it in a new revision",
    check="status")
STAGE_MIGRATION_FAILS = rule(
    "stage-migration-fails",
    summary="A revision raised while migrating a stage; the stage stays at the revision before "
    "it.",
    doc="""A revision raised while migrating a stage. Its transaction was rolled back: the stage
    stays at the revision before it, and the next run continues from there.""",
    fix="fix the revision (run it on a copy of the stage: db dump, then db load-schema) and "
    "migrate again",
    check="migrate")
STAGE_REVISIONS_PENDING = rule(
    "stage-revisions-pending",
    summary="With `status --fail-on-pending`: revisions of this branch have not reached the "
    "stage.",
    doc="""With ``status --fail-on-pending`` (the nightly check of prod): revisions merged into
    the branch have not reached the stage, so the code deployed there may run against an
    older schema than it was written for.""",
    fix="deploy them (the deploy-migrations workflow, or `dbci migrate --stage STAGE`)",
    check="status")
STAGE_PLAN_STALE = rule(
    "stage-plan-stale",
    summary="`migrate --plan` refused its plan: what was reviewed is no longer what would run; "
    "nothing ran.",
    doc="""``migrate --plan`` refused its plan: the stage is no longer at the plan's starting
    revision, a revision file or env.py changed since the plan was made, the history would run
    other steps, or the plan names another stage. What an approver read is no longer what would
    run, so nothing runs.""",
    fix="make a new plan (`dbci migrate --stage STAGE --sql --plan-out FILE`), have it "
    "reviewed, and apply that one",
    check="migrate")

"""Stage rules: what a deployed database holds against what the migrations build, and a
migration that failed there."""

from __future__ import annotations

from ci.rules.base import rule

STAGE_UNKNOWN_REVISION = rule(
    "stage-unknown-revision",
    """The stage's ``alembic_version`` names a revision this code does not have: the code
    deployed there is ahead of this branch, or the revision was deleted or renamed.""",
    "update this branch from the base branch; never rename or delete a deployed revision",
    check="status")
STAGE_EXTRA = rule(
    "stage-extra-object",
    """The stage holds an object the migrations do not build at its revision: someone added it
    by hand (an index made in a console, a column added during an incident). The next revision
    that touches it may fail there, or the object is lost on the next rebuild.""",
    "write a revision that creates it (so every stage has it), or drop it from the stage",
    check="status")
STAGE_MISSING = rule(
    "stage-missing-object",
    """The migrations build an object at the stage's revision that the stage lacks: someone
    dropped it by hand.""",
    "recreate it on the stage as the migrations define it, or drop it in a new revision",
    check="status")
STAGE_DIFFERS = rule(
    "stage-object-differs",
    """An object exists on the stage and in the migrations but differs (a type, default,
    definition): changed by hand.""",
    "make the stage match the migrations, or change it in a new revision",
    check="status")
STAGE_MIGRATION_FAILS = rule(
    "stage-migration-fails",
    """A revision raised while migrating a stage. Its transaction was rolled back: the stage
    stays at the revision before it, and the next run continues from there.""",
    "fix the revision (run it on a copy of the stage: db dump, then db load-schema) and migrate "
    "again",
    check="migrate")
STAGE_PENDING = rule(
    "stage-revisions-pending",
    """With ``status --fail-on-pending`` (the nightly check of prod): revisions merged into
    the branch have not reached the stage, so the code deployed there may run against an
    older schema than it was written for.""",
    "deploy them (the deploy-migrations workflow, or `dbci migrate --stage STAGE`)",
    check="status")
STAGE_PLAN_STALE = rule(
    "stage-plan-stale",
    """``migrate --plan`` refused its plan: the stage is no longer at the plan's starting
    revision, a revision file or env.py changed since the plan was made, the history would run
    other steps, or the plan names another stage. What an approver read is no longer what would
    run, so nothing runs.""",
    "make a new plan (`dbci migrate --stage STAGE --sql --plan-out FILE`), have it reviewed, "
    "and apply that one",
    check="migrate")

#: The rule for each difference, going from what the migrations build to what the stage holds.
BY_CHANGE = {"added": STAGE_EXTRA, "removed": STAGE_MISSING, "changed": STAGE_DIFFERS}

"""History rules: the graph Alembic builds must be one line from base to a single head."""

from __future__ import annotations

from ci.rules.base import rule

DUPLICATE_REVISION_ID = rule(
    "duplicate-revision-id",
    summary="Two files declare one `revision`; Alembic silently keeps one of them.",
    doc="""Two files declare one ``revision``: Alembic silently keeps one of them, so the other
    never runs. Usually a copied file whose id was not changed.""",
    fix="give one of the files a new id (dbci new writes one) or delete the copy",
)
UNKNOWN_DOWN_REVISION = rule(
    "unknown-down-revision",
    summary="`down_revision` names no revision; Alembic cannot build the history.",
    doc="""``down_revision`` names a revision that no file declares, so Alembic cannot build the
    history at all. Usually a parent renamed or deleted on another branch.""",
    fix="point down_revision at an existing revision (the current head, for a new one)",
)
REVISION_CYCLE = rule(
    "revision-cycle",
    summary="Following `down_revision` comes back to the same revisions.",
    doc="""Following ``down_revision`` from these revisions comes back to them: there is no
    base.""",
    fix="break the cycle: one of the revisions must build on a revision outside it",
)
MULTIPLE_HEADS = rule(
    "multiple-heads",
    summary="More than one head; `alembic upgrade head` refuses.",
    doc="""The history has more than one head: two branches each added a revision on the same
    parent. ``alembic upgrade head`` refuses to run.""",
    fix="run `dbci renumber --base <base branch>` to move this branch's revisions after the "
    "base head",
)
BRANCH_POINT = rule(
    "branch-point",
    summary="Several revisions build on one; dbci histories are one line.",
    doc="""Several revisions build on this one. dbci histories are one line, so each deployed
    database has exactly one place in it.""",
    fix="run `dbci renumber --base <base branch>` so the revisions follow one another",
)
MERGE_REVISION = rule(
    "merge-revision",
    summary="A merge revision joins branches; renumber instead.",
    doc="""A merge revision (``down_revision`` is a tuple) joins branches; dbci histories stay
    linear, so renumber instead of merging.""",
    fix="delete the merge revision and run `dbci renumber --base <base branch>`",
)

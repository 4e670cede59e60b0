"""History rules: the graph Alembic builds must be one line from base to a single head."""

from __future__ import annotations

from collections.abc import Iterator

from ci.findings import Finding
from ci.history import History
from ci.rules.base import rule

DUPLICATE_REVISION_ID = rule(
    "duplicate-revision-id",
    """Two files declare one ``revision``: Alembic silently keeps one of them, so the other never
    runs. Usually a copied file whose id was not changed.""",
    "give one of the files a new id (dbci new writes one) or delete the copy",
)
UNKNOWN_DOWN_REVISION = rule(
    "unknown-down-revision",
    """``down_revision`` names a revision that no file declares, so Alembic cannot build the
    history at all. Usually a parent renamed or deleted on another branch.""",
    "point down_revision at an existing revision (the current head, for a new one)",
)
REVISION_CYCLE = rule(
    "revision-cycle",
    """Following ``down_revision`` from these revisions comes back to them: there is no base.""",
    "break the cycle: one of the revisions must build on a revision outside it",
)
MULTIPLE_HEADS = rule(
    "multiple-heads",
    """The history has more than one head: two branches each added a revision on the same
    parent. ``alembic upgrade head`` refuses to run.""",
    "run `dbci renumber --onto <base branch>` to move this branch's revisions after the base head",
)
BRANCH_POINT = rule(
    "branch-point",
    """Several revisions build on this one. dbci histories are one line, so each deployed
    database has exactly one place in it.""",
    "run `dbci renumber --onto <base branch>` so the revisions follow one another",
)
MERGE_REVISION = rule(
    "merge-revision",
    """A merge revision (``down_revision`` is a tuple) joins branches; dbci histories stay
    linear, so renumber instead of merging.""",
    "delete the merge revision and run `dbci renumber --onto <base branch>`",
)


def check_graph(history: History) -> Iterator[Finding]:
    """Duplicate ids, unknown parents, cycles, heads, branch points and merges."""
    for rev_id, same in sorted(history.duplicates.items()):
        for rev in same:
            others = ", ".join(o.display for o in same if o is not rev)
            yield DUPLICATE_REVISION_ID.at(
                rev, f"revision {rev_id!r} is also declared by {others}",
                line=rev.assignment_line("revision"))
    for rev, missing in history.unknown_down:
        yield UNKNOWN_DOWN_REVISION.at(
            rev, f"down_revision {missing!r} is not a revision in this project",
            line=rev.assignment_line("down_revision"))
    if history.cycle:
        names = " -> ".join(history.cycle)
        for rev in (r for r in history.revisions if r.id in history.cycle):
            yield REVISION_CYCLE.at(rev, f"revisions form a cycle: {names}",
                                    line=rev.assignment_line("down_revision"))
    if history.graph is None:
        return
    heads = history.heads
    if len(heads) > 1:
        names = ", ".join(h.id for h in heads)
        for head in heads:
            yield MULTIPLE_HEADS.at(head, f"{head.id} is one of {len(heads)} heads ({names})",
                                    line=head.assignment_line("revision"))
    for rev in history.revisions:
        if rev.id in history.exempt:
            continue  # old branches and merges: their ids are stamped in databases
        children = history.children(rev.id)
        if len(children) > 1:
            names = ", ".join(c.id for c in children)
            yield BRANCH_POINT.at(rev, f"{len(children)} revisions build on {rev.id}: {names}",
                                  line=rev.assignment_line("revision"))
        if len(rev.down_revisions) > 1:
            yield MERGE_REVISION.at(
                rev, f"{rev.id} merges {', '.join(rev.down_revisions)}",
                line=rev.assignment_line("down_revision"))

"""Lint's history rules: the graph Alembic builds is one line from base to a single head
(rules: ``ci/rules/graph.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from ci.findings import Finding
from ci.history import History
from ci.rules.graph import (
    BRANCH_POINT,
    DUPLICATE_REVISION_ID,
    MERGE_REVISION,
    MULTIPLE_HEADS,
    REVISION_CYCLE,
    UNKNOWN_DOWN_REVISION,
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

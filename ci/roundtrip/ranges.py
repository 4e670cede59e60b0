"""Which revisions a round trip brings up unchecked and which it checks: a range of the history's
order, and the K-th of N shards of it."""

from __future__ import annotations

from ci.errors import BadInput
from ci.history import Revision


def select(order: list[Revision], start: str | None, end: str | None,
           shard: tuple[int, int] | None) -> tuple[list[Revision], list[Revision]]:
    """The revisions to bring up first without checks, and those to check: a range of the
    history's order (parents first), and the K-th of N equal slices of it."""
    ids = [r.id for r in order]
    for rev in (start, end):
        if rev is not None and rev not in ids:
            raise BadInput(f"unknown revision {rev!r}; `dbci lint` lists the history")
    lo = ids.index(start) if start else 0
    hi = ids.index(end) + 1 if end else len(order)
    if lo >= hi and (start or end):
        raise BadInput(f"--from {start} comes after --to {end}")
    if shard is not None:
        k, n = shard
        size, extra = divmod(hi - lo, n)
        first = lo + (k - 1) * size + min(k - 1, extra)
        lo, hi = first, first + size + (1 if k <= extra else 0)
    return order[:lo], order[lo:hi]

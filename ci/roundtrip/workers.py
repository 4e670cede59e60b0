"""The round trip's workers: this process, and on a long range a forked second worker that
checks the first part on a database of its own while this one brings it up unchecked and
checks the rest; their results joined in the history's order."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa

from ci import compat
from ci.config import Config
from ci.db.embedded import embedded_url
from ci.db.scratch import lent, never_lend
from ci.errors import BadInput
from ci.findings import display_path
from ci.history import History, Revision, load_history
from ci.roundtrip.engine import RoundTrip
from ci.roundtrip.fork import Child, in_fork
from ci.roundtrip.fork import available as beside_available
from ci.roundtrip.ranges import select
from ci.roundtrip.results import Outcome, RoundTripResult
from ci.stages import targets

#: The fewest revisions worth a second worker (a database of its own, env.py run once more,
#: the first part upgraded twice).
SPLIT_FROM = 40


#: The second worker's share of the range. Checking a revision (upgrade, downgrade, two reads)
#: costs about twice running it (upgrade and downgrade), so about four times its upgrade alone;
#: the first process upgrades through this part before it checks its own. Explaining a finding
#: costs more later in a history (migra reads the whole schema, larger by then), so the share
#: is a little over the 57% that balances histories without findings: measured side by side,
#: 60% took 0.94x to 1.00x the time of 57% on the real-shaped histories of ``make bench``.
FIRST_SHARE = 0.60


@dataclass
class Started:
    """A round trip under way: its range, the database this process checks on, and the second
    worker, if there is one, already checking the first ``first`` revisions of ``checked``."""

    history: History
    before: list[Revision]
    checked: list[Revision]
    target: targets.Target
    began: float
    first: int = 0
    child: Child[Part] | None = None
    also: Any = None  # what the second worker's ``also`` gave, once :func:`finish` has it


#: Work the second worker does beside its part: given a stack that closes after the handover,
#: what it makes ahead of its part (dropped then); then, given its connection
#: at the end of that part, what it hands over.
Also = Callable[[contextlib.ExitStack], Callable[[sa.Connection], Any]]


@dataclass
class Part:
    """What the second worker hands over: its round trip, and what its ``also`` gave."""

    result: RoundTripResult
    also: Any = None


@contextlib.contextmanager
def begin(config: Config, start: str | None = None, end: str | None = None,
          shard: tuple[int, int] | None = None, target: targets.Target | None = None,
          share: float | None = None, also: Also | None = None) -> Iterator[Started]:
    """Start a round trip over a range: on ``target`` (an empty scratch database), else on a new
    scratch database, dropped at the end. With two workers (see :func:`_split`), a forked child
    starts checking ``share`` of the range (:data:`FIRST_SHARE` unless given, read at the
    call) on a scratch database of its own at once, so the caller can do other work (lint)
    before :func:`roundtrip` checks the rest; then it does ``also`` (its value is
    ``Started.also`` after :func:`finish`; None without a child)."""
    history = load_history(config)
    for path in history.orphan_fixtures():
        raise BadInput(f"{display_path(path)}: names no revision of this history, so it would "
                       "never be loaded; rename it after its revision or delete it")
    before, checked = select(history.order(), start, end, shard)
    began = time.monotonic()
    with contextlib.ExitStack() as outer, contextlib.ExitStack() as stack:
        gc.freeze()  # the loaded modules and history: the collector need not walk them again
        outer.callback(gc.unfreeze)  # (in either process: the child starts from this heap)
        first = _split(config, checked, FIRST_SHARE if share is None else share)
        if target is None and config.database_url is None:
            embedded_url()  # the embedded server is up before the child starts
        elif target is None and not (first and targets.may_create(config)):
            target = stack.enter_context(targets.scratch(config))  # perhaps its one, lent
        if target is not None and lent(target.url):
            first = 0  # no second database to be had
        child = outer.enter_context(in_fork(partial(  # waited for once this run's work is done
            _first_part, config, history, before, checked[:first], also))) if first else None
        if target is None:  # made while the child makes its own
            target = stack.enter_context(targets.scratch(config))
        yield Started(history, before, checked, target, began, first, child)


def roundtrip(config: Config, start: str | None = None, end: str | None = None,
              shard: tuple[int, int] | None = None,
              progress: Callable[[str], None] | None = None,
              target: targets.Target | None = None, capture: frozenset[str] = frozenset(),
              schema_after: int | None = None, started: Started | None = None) -> RoundTripResult:
    """Check every revision in range (see :func:`begin`); or, of a round trip ``started``
    already, this process's part alone (:func:`finish` adds the second worker's).

    What else needs the revisions run comes along: the statements the upgrades of ``capture``
    sent (for squawk), and the whole schema once ``schema_after`` revisions of the history's
    order have run (the base branch's head, for the diff; None when a data fixture changed the
    schema). With two workers, this process upgrades through the child's part unchecked, then
    checks the rest, so its database ends at the range's end.
    """
    if started is None:
        with begin(config, start, end, shard, target) as started:
            return finish(started, roundtrip(config, progress=progress, capture=capture,
                                             schema_after=schema_after, started=started))
    before, checked, first = started.before, started.checked, started.first
    if not checked:
        return RoundTripResult([], [], 0.0, True)  # an empty history (or shard): nothing to do
    if schema_after is not None:
        compat.load_inspector()  # not in the middle of the run: see there
    trip = RoundTrip(config, started.history, progress, capture, schema_after)
    with targets.connect(started.target) as connection:
        trip.run(connection, before + checked[:first], checked[first:], others=first)
    return RoundTripResult(trip.found.items, trip.outcomes, time.monotonic() - started.began,
                           not trip.stopped, trip.statements, trip.schema, trip.impacts)


def finish(started: Started, own: RoundTripResult) -> RoundTripResult:
    """The whole round trip: this process's part (``own``) after the second worker's, whose
    failed upgrade, should there be one, stopped this process at the same revision."""
    if started.child is None:
        return own
    handed = started.child.result()
    part, started.also = handed.result, handed.also
    if part.reached_head:
        findings, outcomes = part.findings + own.findings, part.outcomes + own.outcomes
    else:
        findings = part.findings
        outcomes = part.outcomes + [Outcome(r.id, "not run", note=f"after {part.stopped_at} "
                                            "failed") for r in started.checked[started.first:]]
    return dataclasses.replace(own, findings=findings, outcomes=outcomes,
                               seconds=time.monotonic() - started.began,
                               reached_head=own.reached_head and part.reached_head)


def _split(config: Config, checked: list[Revision], share: float) -> int:
    """How many revisions, from the start of ``checked``, a second worker checks (0: none).

    Only where it pays: two workers asked for, a long enough range, Linux with two CPUs (and,
    as :func:`begin` sees to, a server where dbci may create a second database)."""
    if (config.settings.roundtrip_workers < 2 or len(checked) < SPLIT_FROM
            or not beside_available()):
        return 0
    return round(len(checked) * share)


@contextlib.contextmanager
def _first_part(config: Config, history: History, before: list[Revision],
                checked: list[Revision], also: Also | None) -> Iterator[Part]:
    """The second worker's run: ``checked`` on a scratch database of its own, then ``also``;
    what they made is dropped after the result is handed over."""
    trip = RoundTrip(config, history)
    never_lend()
    with contextlib.ExitStack() as stack:
        rest = also(stack) if also else None
        connection = stack.enter_context(targets.connect(stack.enter_context(
            targets.scratch(config))))
        trip.run(connection, before, checked)
        yield Part(RoundTripResult(trip.found.items, trip.outcomes, 0.0, not trip.stopped),
                   rest(connection) if rest and not trip.stopped else None)

"""The round trip's workers: this process, and on a long range a forked second worker that
checks the first part on a database of its own while this one brings it up unchecked and
checks the rest; their results joined in the history's order."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from ci import compat
from ci.config import Config
from ci.db.embedded import embedded_url
from ci.db.scratch import never_lend
from ci.errors import BadInput
from ci.findings import display_path
from ci.history import History, Revision, load_history
from ci.roundtrip.engine import RoundTrip
from ci.roundtrip.fork import Child, in_fork
from ci.roundtrip.fork import available as beside_available
from ci.roundtrip.ranges import select
from ci.roundtrip.results import Outcome, RoundTripResult
from ci.stages import targets

T = TypeVar("T")

#: The fewest revisions worth a second worker (a database of its own, env.py run once more,
#: the first part upgraded twice).
SPLIT_FROM = 40


#: The second worker's share of the range. Checking a revision (upgrade, downgrade, two reads)
#: costs several times running it, and the first process upgrades through this part unchecked
#: (about a seventh of checking it) before it checks its own: 57% ends both together. Timed in
#: each worker on the real-shaped histories of ``make bench`` (N=110 and N=300, with and
#: without defects), the second worker ended 0.04 to 0.2 s after the first at 60%, and within
#: 0.07 s either way at 57%.
FIRST_SHARE = 0.57


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


#: Work the second worker does beside its part: given a stack that closes after the handover
#: and an empty scratch database of its own, what it makes ahead of its part (dropped then);
#: then, given the worker's connection at the end of that part, what it hands over.
Also = Callable[[contextlib.ExitStack, targets.Target], Callable[[sa.Connection], Any]]


@dataclass
class Part:
    """What the second worker hands over: its round trip, and what its ``also`` gave."""

    result: RoundTripResult
    also: Any = None


@contextlib.contextmanager
def begin(config: Config, start: str | None = None, end: str | None = None,
          shard: tuple[int, int] | None = None, share: float | None = None,
          also: Also | None = None) -> Iterator[Started]:
    """Start a round trip over a range on a new scratch database, dropped at the end (where the
    role may not create databases, the one it gives is lent). With two workers (see
    :func:`_split`), a forked child starts checking ``share`` of the range
    (:data:`FIRST_SHARE` unless given, read at the call) at once, on a scratch database made
    together with this process's, so the caller can do other work (lint) before
    :func:`roundtrip` checks the rest; then it does ``also`` (its value is ``Started.also``
    after :func:`finish`; None without a child)."""
    history = load_history(config)
    for path in history.orphan_fixtures():
        raise BadInput(f"{display_path(path)}: names no revision of this history, so it would "
                       "never be loaded; rename it after its revision or delete it")
    before, checked = select(history.order(), start, end, shard)
    began = time.monotonic()
    with contextlib.ExitStack() as outer:
        gc.freeze()  # the loaded modules and history: the collector need not walk them again
        outer.callback(gc.unfreeze)  # (in either process: the child starts from this heap)
        first = _split(config, checked, FIRST_SHARE if share is None else share)
        if config.database_url is None:
            embedded_url()  # the embedded server is up before the threads make databases
        elif first and not targets.may_create(config):
            first = 0  # it lends the one database it has: there is no second to be had
        # made at once (the second worker's too), dropped once the second worker is gone
        count = 1 + (_databases(also) if first else 0)
        *theirs, target = outer.enter_context(_at_once(
            [targets.scratch(config, lend=not first) for _ in range(count)], meanwhile=_preload))
        child = outer.enter_context(in_fork(partial(  # waited for once this run's work is done
            _first_part, config, history, before, checked[:first], also, theirs))) \
            if first else None
        yield Started(history, before, checked, target, began, first, child)


def roundtrip(config: Config, start: str | None = None, end: str | None = None,
              shard: tuple[int, int] | None = None,
              progress: Callable[[str], None] | None = None, capture: frozenset[str] = frozenset(),
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
        with begin(config, start, end, shard) as started:
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
                checked: list[Revision], also: Also | None,
                given: list[targets.Target]) -> Iterator[Part]:
    """The second worker's run: ``checked`` on the first scratch database it was ``given``,
    then ``also`` on the second (its parent drops them); what ``also`` made is dropped after
    the result is handed over."""
    trip = RoundTrip(config, history)
    never_lend()
    with contextlib.ExitStack() as stack:
        mine, *more = given
        rest = also(stack, more[0]) if also else None
        connection = stack.enter_context(targets.connect(mine))
        trip.run(connection, before, checked)
        yield Part(RoundTripResult(trip.found.items, trip.outcomes, 0.0, not trip.stopped),
                   rest(connection) if rest and not trip.stopped else None)


def _databases(also: Also | None) -> int:
    """How many scratch databases the second worker works on: its own, and ``also``'s."""
    return 1 if also is None else 2


def _preload() -> None:
    """What env.py nearly always imports (the project's ORM models, and with them
    ``sqlalchemy.orm``: 60 ms), imported while the server makes the scratch databases; a
    second worker starts with it."""
    import sqlalchemy.orm  # noqa: F401


@contextlib.contextmanager
def _at_once(managers: list[contextlib.AbstractContextManager[T]],
             meanwhile: Callable[[], object]) -> Iterator[list[T]]:
    """Enter ``managers`` (scratch databases) each in a thread of its own while this one does
    ``meanwhile``, and exit them so afterwards: ``CREATE`` and ``DROP DATABASE`` are the
    server's work (its kernel making or removing files, a sync of its WAL: 0.05 to 0.4 s on
    the PostgreSQL 15 here), which two can do at once. No thread is left while the block
    runs (a fork must find none), and what was entered is exited whatever failed, an
    interrupt included."""
    interrupted: BaseException | None = None
    with ThreadPoolExecutor(len(managers)) as pool:
        entering = [pool.submit(m.__enter__) for m in managers]
        try:
            meanwhile()
        except BaseException as exc:  # noqa: BLE001 - raised below, once all are entered
            interrupted = exc
        while not all(f.done() for f in entering):
            try:
                wait(entering)
            except KeyboardInterrupt as exc:  # a signal meanwhile: what is made is dropped
                interrupted = interrupted or exc
    entered = [m for m, f in zip(managers, entering, strict=True) if f.exception() is None]
    try:
        failed = interrupted or next((f.exception() for f in entering if f.exception()), None)
        if failed is not None:
            raise failed
        yield [f.result() for f in entering]
    except BaseException as exc:
        _exit_all(entered, exc)
        raise
    _exit_all(entered, None)


def _exit_all(managers: list[contextlib.AbstractContextManager[Any]],
              error: BaseException | None) -> None:
    """Exit ``managers`` at once (as ``error`` ends the block, if one does); the first failure
    of their own is raised after all have ended, unless ``error`` is on its way already."""
    how = (None, None, None) if error is None else (type(error), error, error.__traceback__)
    with ThreadPoolExecutor(max(len(managers), 1)) as pool:
        exiting = [pool.submit(m.__exit__, *how) for m in managers]
    own = next((f.exception() for f in exiting if f.exception() not in (None, error)), None)
    if own is not None and error is None:
        raise own

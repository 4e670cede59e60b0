"""Migrating a deployed stage, as production teams do it.

- One run at a time: a session-level advisory lock on a connection of its own (a revision
  that uses ``autocommit_block()`` commits, which would release a transaction-level lock), so
  concurrent runs wait, bounded, and then name the holder.
- Never queue behind the live application: every statement runs under a short
  ``lock_timeout`` (and a ``statement_timeout``); a revision that hit one, or a deadlock,
  before anything of it committed is tried again with backoff and jitter, a bounded number of
  times, each retry logged.
- One transaction per revision, each timed; ``alembic_version`` read back and checked.
- Refuses what a user would not mean: a database at a revision this code does not know, a
  target that does not exist, a downgrade not asked for.
- Bound to a plan when given one (``--plan``): the stage must still be at the plan's revision,
  the revision files and env.py unchanged, and the steps the ones the plan lists; otherwise
  nothing runs (see :mod:`ci.stages.plan`).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from ci import compat
from ci.alembic_env import (
    Statement,
    VersionStamp,
    apply,
    capture_statements,
    commit_what_alembic_left,
    read_stamp,
    run_env,
)
from ci.config import Config
from ci.db.runners import is_connection_lost
from ci.errors import BadInput, DbciError, OutsideFailure, error_line
from ci.findings import Finding, Verdict
from ci.history import History, load_history
from ci.rules.stage import STAGE_MIGRATION_FAILS, STAGE_PLAN_STALE
from ci.settings import Stage
from ci.stages import targets
from ci.stages.lock import MIGRATION_LOCK, blockers, take
from ci.stages.plan import BoundPlan, changed_files

#: SQLSTATEs worth another try: lock_not_available (lock_timeout), deadlock_detected.
RETRYABLE = {"55P03": "lock_timeout", "40P01": "a deadlock"}
#: The longest pause between two tries, in seconds.
MAX_DELAY = 60.0


@dataclass(frozen=True)
class Step:
    """One revision a run applied (or undid), and how long it took."""

    revision: str
    direction: str  # "upgrade" or "downgrade"
    seconds: float


@dataclass
class Migration(Verdict):
    """What a migration of a stage did, or (``--sql``) would do."""

    stage: str
    start: tuple[str, ...]
    end: tuple[str, ...]
    applied: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sql: list[str] | None = None  # the plan: what the pending revisions execute
    steps: list[tuple[str, str]] = field(default_factory=list)  # planned (revision, direction)


@dataclass(frozen=True)
class Plan:
    """The revisions between a database's revision and the target, in the order they run."""

    start: tuple[str, ...]
    steps: list[Any]  # Alembic's RevisionStep objects
    direction: str

    @property
    def end(self) -> tuple[str, ...]:
        """The heads after the last step."""
        heads = set(self.start)
        for step in self.steps:
            info = step.info
            gone = set(info.down_revision_ids) if info.is_upgrade else set(info.up_revision_ids)
            came = set(info.up_revision_ids) if info.is_upgrade else set(info.down_revision_ids)
            heads = (heads - gone) | came
        return tuple(sorted(heads))


#: Where a migration goes: ``heads``, a revision, ``-1``, ``base``, or (a plan's) revision ids.
Destination = str | tuple[str, ...]


def plan(history: History, stage: str, start: tuple[str, ...], destination: Destination,
         allow_downgrade: bool) -> Plan:
    """What moving from ``start`` to ``destination`` (``head``, a revision, ``-1``, ``base``)
    means, in Alembic's own steps; refuses an unknown start, an unknown target and a downgrade
    not asked for."""
    script = history.script_dir
    known = {r.id for r in history.revisions}
    unknown = [head for head in start if head not in known]
    if unknown:
        raise BadInput(f"stage {stage}: the database is at {', '.join(unknown)}, which this code "
                       "does not know: the deployed code is ahead of this branch? Update it "
                       "from the base branch")
    direction = _direction(history, start, destination)
    if direction == "downgrade" and not allow_downgrade:
        raise BadInput(f"stage {stage}: {shown(destination)} is below the database's revision "
                       f"{shown(start)}; a downgrade must be asked for: "
                       "--allow-downgrade")
    # Alembic's own command.upgrade and command.downgrade plan with these two
    current: Any = start
    to: Any = destination  # Alembic's revision map takes a tuple of ids too
    try:
        steps = compat.steps(script, direction, to, current)
    except (CommandError, RevisionError) as exc:
        raise BadInput(f"stage {stage}: cannot move from {shown(start)} to "
                       f"{shown(destination)}: {error_line(exc)}") from exc
    return Plan(start, list(steps), direction)




#: ``+N`` / ``-N`` revisions from the database's own (N at least 1).
RELATIVE = re.compile(r"[+-][1-9][0-9]*")


def resolve(history: History, destination: Destination) -> set[str] | None:
    """The revisions a target names (None for ``head(s)``, ``base`` and relative ones, which
    depend on the database); BadInput for one this history cannot name. Needs no database, so
    a wrong ``--revision`` is refused before anything is read."""
    if isinstance(destination, str) and (destination in ("head", "heads", "base") or
                                         RELATIVE.fullmatch(destination)):
        return None
    try:  # Alembic asserts on some texts ('', '@') before it can say it knows no such revision
        wanted = {r.revision for r in history.script_dir.revision_map.get_revisions(destination)
                  if r is not None and not isinstance(r, str)}
    except (CommandError, RevisionError, AssertionError, ValueError):
        wanted = set()
    if not wanted:
        raise BadInput(f"--revision {shown(destination)!r}: no such revision in this history "
                       "(a revision id, head, base, or +N/-N); `dbci lint` lists them")
    return wanted


def _direction(history: History, start: tuple[str, ...], destination: Destination) -> str:
    """``upgrade`` or ``downgrade``, by where the target lies from the database's revision."""
    wanted = resolve(history, destination)
    if wanted is None:
        return "downgrade" if destination == "base" or str(destination).startswith("-") else \
            "upgrade"
    below = set(start) | {a for head in start for a in history.ancestors(head)}
    return "downgrade" if wanted <= below and wanted != set(start) else "upgrade"

class _Stale(Exception):
    """The stage is not where the plan starts, or would not run the plan's steps."""


def _stale(stage: str, at: tuple[str, ...], why: str) -> Migration:
    """A run that refused its plan: a finding, nothing changed."""
    return Migration(stage, at, at, findings=[STAGE_PLAN_STALE.at_stage(
        stage, f"the plan was not run on stage {stage}: {why}; nothing was changed")])


def migrate(config: Config, target: targets.Target, settings: Stage,
            destination: Destination = "heads", allow_downgrade: bool = False,
            log: Callable[[str], None] = print, bound: BoundPlan | None = None) -> Migration:
    """Migrate a stage to ``destination``, one revision per transaction, and verify it; with
    ``bound``, run exactly that plan or nothing."""
    stage = target.stage or "?"
    history = load_history(config)
    history.order()  # a broken history says so before anything touches the stage
    if bound is not None:
        start = bound.start
        if bound.stage != stage:
            return _stale(stage, start, f"it was made for stage {bound.stage}")
        changed = changed_files(config, history, bound)
        if changed:
            return _stale(stage, start, f"{', '.join(changed)} changed since it was made")
        destination = bound.end if len(bound.end) != 1 else bound.end[0]
        destination = destination or "base"
        allow_downgrade = any(step.direction == "downgrade" for step in bound.steps)
    name = f"dbci migrate {stage}"
    # A killed dbci leaves no session at work: the server checks every second, during a long
    # statement, that its client is still there, and rolls the revision back when it is not.
    timeouts = {"lock_timeout": settings.lock_timeout,
                "statement_timeout": settings.statement_timeout,
                "client_connection_check_interval": "1s"}
    with targets.connect(target, application_name=name) as lock, \
            targets.connect(target, application_name=name, settings=timeouts) as work:
        lock.execution_options(isolation_level="AUTOCOMMIT")
        take(lock, stage, settings.lock_wait, log)
        try:
            mine = (_pid(lock), _pid(work))
            work.rollback()  # env.py must find the connection outside a transaction
            outcome = _Run(config, history, work, stage, settings, log, mine, bound,
                           lock).run(destination, allow_downgrade)
        except BaseException:
            # What the run raised names the revision it lost; a lock session gone with the
            # server (its lock went with it) must not hide that.
            with contextlib.suppress(sa.exc.DBAPIError):
                _unlock(lock)
            raise
        _unlock(lock)
        return outcome


def _unlock(lock: sa.Connection) -> None:
    lock.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")


def _pid(connection: sa.Connection) -> int:
    return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() or 0)


class _Run:
    """One migration of a stage, tried again where a revision hit a lock timeout."""

    def __init__(self, config: Config, history: History, work: sa.Connection, stage: str,
                 settings: Stage, log: Callable[[str], None], mine: tuple[int, ...],
                 bound: BoundPlan | None, witness: sa.Connection) -> None:
        self.config, self.history, self.work = config, history, work
        self.stage, self.settings, self.log, self.mine = stage, settings, log, mine
        self.bound = bound
        self.witness = witness  # another session (the lock's): what it sees is committed
        self.applied: list[Step] = []
        self.tries: dict[str, int] = {}
        self.plans: list[Plan] = []  # one per try: what the database's revision called for
        self.where: VersionStamp | None = None
        self.clock = 0.0

    def body(self, context: MigrationContext, destination: Destination,
             allow_downgrade: bool) -> list[Any]:
        """Read the revision under the lock, plan (or check the bound plan), and hand Alembic
        the steps."""
        self.where = VersionStamp(tuple(context.get_current_heads()), context.version_table_schema,
                           context.version_table)
        bound = self.bound
        if bound is not None and set(self.where.heads) != set(bound.start):
            raise _Stale(f"the stage is at {shown(self.where.heads)}, the plan "
                         f"starts at {shown(bound.start)} (it moved since the "
                         "plan was made); make a new plan")
        todo = plan(self.history, self.stage, self.where.heads, destination, allow_downgrade)
        if bound is not None and _pairs(todo.steps) != [(s.revision, s.direction)
                                                        for s in bound.steps]:
            raise _Stale("its steps are not the ones this history runs from there to "
                         f"{shown(bound.end)}; make a new plan")
        self.plans.append(todo)
        self.clock = time.monotonic()
        return todo.steps

    def timed(self, ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic's callback after each revision: its time, and a line in the log."""
        now = time.monotonic()
        self.applied.append(Step(step.up_revision_id, "upgrade" if step.is_upgrade
                                 else "downgrade", round(now - self.clock, 3)))
        self.clock = now
        self.log(f"migrate: {self.applied[-1].direction} {self.applied[-1].revision} "
                 f"({self.applied[-1].seconds:.2f}s)")

    def run(self, destination: Destination, allow_downgrade: bool) -> Migration:
        """Try until done, a revision fails, or the retries of one are spent."""
        while True:
            done = len(self.applied)
            tried = len(self.plans)
            try:
                run_env(self.config, self.history, self.work,
                        lambda context: self.body(context, destination, allow_downgrade),
                        forced={"transaction_per_migration": True,
                                "on_version_apply": (self.timed,)})
            except _Stale as exc:
                self.work.rollback()
                at = self.where.heads if self.where is not None else ()
                return _stale(self.stage, at, str(exc))
            except Exception as exc:
                if isinstance(exc, DbciError) or len(self.plans) == tried:
                    raise
                failing = self.plans[-1].steps[len(self.applied) - done].info.up_revision_id
                if is_connection_lost(exc):
                    stands = shown(_heads_after(self.plans[0], self.applied))
                    raise OutsideFailure(
                        f"stage {self.stage}: lost the connection during revision {failing} "
                        f"({error_line(exc)}); the stage stands at {stands} or, if the commit "
                        f"was under way, at {failing}: see `dbci status --stage "
                        f"{self.stage}`") from exc
                self.work.rollback()
                failed = self._failed(failing, exc)
                if failed is not None:
                    return failed
                continue
            return self._verified()

    def _failed(self, failing: str, exc: Exception) -> Migration | None:
        """A revision's failure: a finding, or (a lock timeout, a deadlock) None after a pause
        before the next try; exit 3 once the tries are spent."""
        first = self.plans[0]
        stands = shown(_heads_after(first, self.applied))
        reason = RETRYABLE.get(getattr(getattr(exc, "orig", None), "pgcode", None) or "")
        if reason is not None and self.history.get(failing).commits_itself:
            reason = None  # part of it may have committed: running it again could fail
        if reason is None:
            finding = STAGE_MIGRATION_FAILS.at(
                self.history.get(failing), f"revision {failing} failed on stage {self.stage}: "
                f"{error_line(exc)}; the stage stays at {stands}", stage=self.stage,
                check="migrate")
            return Migration(self.stage, first.start, _heads_after(first, self.applied),
                             self.applied, [finding])
        self.tries[failing] = tries = self.tries.get(failing, 0) + 1
        who = blockers(self.work, self.mine)
        self.work.rollback()
        timeout = self.settings.lock_timeout
        if tries > self.settings.retries:
            raise OutsideFailure(
                f"stage {self.stage}: revision {failing} hit {reason} ({timeout}) {tries} times; "
                f"blocked by {who}. The stage stays at {stands}; run again when the "
                "application's long transactions are done") from exc
        delay = min(self.settings.retry_delay * 2 ** (tries - 1), MAX_DELAY)
        delay *= random.uniform(0.5, 1.5)
        self.log(f"migrate: {failing} hit {reason} ({timeout}), blocked by {who}; try "
                 f"{tries + 1} of {self.settings.retries + 1} in {delay:.1f}s")
        time.sleep(delay)
        return None

    def _verified(self) -> Migration:
        """The result, once ``alembic_version``, read by another session, says what the plan
        said it would."""
        assert self.where is not None
        expected = self.plans[-1].end
        commit_what_alembic_left(self.work)
        now = self.where.read(self.witness)
        if set(now) != set(expected):
            raise OutsideFailure(f"stage {self.stage}: after the run alembic_version says "
                                 f"{', '.join(now) or 'nothing'}, expected "
                                 f"{', '.join(expected) or 'nothing'}; look at the stage")
        return Migration(self.stage, self.plans[0].start, tuple(sorted(now)), self.applied)


def shown(revisions: Destination) -> str:
    """Revisions as messages name them: ``a, b``, ``base`` for none, a target as given."""
    return revisions if isinstance(revisions, str) else ", ".join(revisions) or "base"


def _pairs(steps: list[Any]) -> list[tuple[str, str]]:
    """Alembic's steps as (revision, direction)."""
    return [(step.revision.revision, "upgrade" if step.is_upgrade else "downgrade")
            for step in steps]


def _heads_after(plan_: Plan, applied: list[Step]) -> tuple[str, ...]:
    """Where the stage stands after the steps of ``plan_`` that were applied."""
    return Plan(plan_.start, plan_.steps[:len(applied)], plan_.direction).end


def pending_sql(config: Config, target: targets.Target, destination: str,
                allow_downgrade: bool, scratch_url: str | None) -> Migration:
    """The SQL the pending revisions would run on a stage, touching nothing there but reading
    its revision: captured on a scratch database brought to the stage's revision."""
    stage = target.stage or "?"
    history = load_history(config)
    order = history.order()
    with targets.connect(target, read_only=True, application_name=f"dbci migrate {stage}") as live:
        at = read_stamp(config, history, live)
    todo = plan(history, stage, at.heads, destination, allow_downgrade)
    reached = set(at.heads) | {a for head in at.heads for a in history.ancestors(head)}
    sql: list[str] = []
    with targets.scratch_on(scratch_url, beside=target) as scratch, \
            targets.connect(scratch) as connection:

        def body(context: MigrationContext) -> None:
            for rev in order:
                if rev.id in reached:
                    apply(rev, "upgrade")
            for step in todo.steps:
                direction = "upgrade" if step.is_upgrade else "downgrade"
                rev = history.get(step.revision.revision)
                with capture_statements(connection) as statements:
                    apply(rev, direction)
                sql.extend(_script(rev.id, direction, statements))

        run_env(config, history, connection, body)
    return Migration(stage, at.heads, todo.end, sql=sql, steps=_pairs(todo.steps))


def _script(revision: str, direction: str, statements: list[Statement]) -> list[str]:
    """One revision's statements as SQL text, under a comment naming it."""
    lines = [f"-- {direction} {revision}"]
    for statement in statements:
        text = statement.sql.strip().rstrip(";") + ";"
        lines.append(f"{text}  -- outside a transaction" if statement.autocommit else text)
    return lines

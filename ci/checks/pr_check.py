"""The full PR check: lint, round trip, drift and diff in one run, sharing one database at head,
composed into one Report."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from ci.alembic_env import upgrade
from ci.checks.diff import base_prefix, diff, resolve_base
from ci.checks.drift import drift, orm_schema
from ci.checks.impact_check import check_impact
from ci.checks.lint import Pending, lint_files, lock_safety
from ci.checks.running_release import check_running_release
from ci.checks.seed_check import seed_check
from ci.checks.squawk import CapturedSQL, capture_sql, server_version
from ci.config import Config
from ci.errors import BadInput, DbciError
from ci.gitrefs import load_base
from ci.history import History, load_history
from ci.report import Report, Step
from ci.roundtrip.workers import Started, begin, finish, roundtrip
from ci.rules.roundtrip import UPGRADE_FAILS
from ci.schemadiff import capture
from ci.stages import stats, targets
from ci.stages.stats import StageStats

#: The second worker's share of check's round trip, so both end together: this process also
#: lints (while the worker checks) and captures the schemas for the diff; the worker builds
#: the ORM's schema after its part (in a database this process made with the others). Measured
#: side by side against 55% on the generated histories, 60% took 0.95x the time at N=1000 and
#: 0.99x at N=200 (62%: 0.94x and 1.02x; 66%: more than 62%).
CHECK_SHARE = 0.60


def in_ci() -> bool:
    """Whether dbci runs in CI (GitHub Actions and most others set ``CI``)."""
    return bool(os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"))


def check(config: Config, base: str | None = None,
          progress: Callable[[str], None] | None = None,
          shard: tuple[int, int] | None = None, verify_seed: bool = False,
          stats_file: Path | None = None) -> Report:
    """Every check, the base-branch rules included whenever a base resolves; a step that cannot
    run says why, and the steps after it that need it skip. With ``shard``, the round trip
    checks one slice of the history (``join`` puts the slices' reports together). The new
    revisions' impact is sized by ``stats_file`` (else ``[tool.dbci] stats_file``).

    In CI a base must resolve: a shallow clone without the base branch would otherwise pass
    with the rules that protect deployed revisions switched off.
    """
    ref = resolve_base(config, base)
    if ref is None and in_ci():
        raise BadInput("no base branch to compare with (tried [tool.dbci] base_ref, origin/main, "
                       "main, origin/master, master); in CI, fetch it (actions/checkout with "
                       "fetch-depth: 0) or pass --base REF")
    sizes = _stats(config, stats_file)  # a bad file says so before anything runs
    report = Report([], [], base=ref, shard=f"{shard[0]}/{shard[1]}" if shard else None)
    with contextlib.ExitStack() as stack:
        started = _begin(config, shard, report, stack)  # a second worker starts checking now
        base_history = load_base(config, ref) if ref is not None else None
        linted, pending = lint_files(config, ref, base_history)
        if started is not None:  # the base's history too (the round trip unfreezes it all)
            gc.freeze()
        seeded = seed_check(config, ref, verify_seed)
        sql = _database_checks(config, report, ref, base_history, started, pending, progress,
                               sizes) if started is not None else None
    if pending is not None:
        lock_safety(config, linted, pending, sql or capture_sql(
            config, pending.history, pending.order, {r.id for r in pending.new}))
    report.steps.insert(0, Step("lint", linted.ok, linted.summary))
    report.findings[:0] = linted.findings
    report.steps.append(Step("seed", seeded.ok, seeded.summary))
    report.findings += seeded.findings
    if base_history is not None:
        _graph(report, base_history, pending)
    return report


def _begin(config: Config, shard: tuple[int, int] | None, report: Report,
           stack: contextlib.ExitStack) -> Started | None:
    """The round trip, begun (see :func:`begin`) before lint so its second worker works while
    this process lints; None when the history does not load (lint says why, and the round
    trip, drift and diff do not run)."""
    try:
        load_history(config).order()
    except DbciError as exc:
        report.steps += [Step(name, None, f"not run: {exc.message}")
                         for name in ("roundtrip", "drift", "diff")]
        if config.database_url:  # no scratch database to ask: the given server, read-only
            with targets.connect(targets.given(config), read_only=True) as connection:
                report.postgres = _major(connection)
        return None
    return stack.enter_context(begin(config, shard=shard, share=CHECK_SHARE,
                                     also=partial(orm_schema, config)))


def _database_checks(config: Config, report: Report, ref: str | None,
                     base_history: History | None, started: Started, pending: Pending | None,
                     progress: Callable[[str], None] | None,
                     sizes: StageStats | None) -> CapturedSQL | None:
    """The round trip, drift, diff, the new revisions' impact and the running release's fate,
    sharing one scratch database brought to head.

    Each revision runs once in this process: without a shard, or on the last one (whose run
    brings up every revision before it, the new ones included), the round trip also captures the
    new revisions' SQL for squawk (returned) and their impact; without a shard, where the base's
    revisions come first unchanged, the base head's schema for the diff.
    """
    steps, findings = report.steps, report.findings
    history, target, shard = started.history, started.target, report.shard
    order = history.order()
    whole = shard is None
    last_shard = shard is None or shard.split("/")[0] == shard.split("/")[1]
    new = frozenset(r.id for r in pending.new) if pending is not None and last_shard \
        else frozenset()
    prefix = base_prefix(config, history, base_history, ref) \
        if whole and ref is not None and base_history is not None else None
    own = roundtrip(config, progress=progress, capture=new, schema_after=prefix,
                    started=started)  # this process's part: its database is at head
    with targets.connect(target) as migrated:
        report.postgres = _major(migrated)
        # the head's schema while the second worker finishes (if the round trip got there)
        head = capture(migrated) if own.reached_head and whole else None
        trip = finish(started, own)  # the second worker's part, and the ORM's schema it built
        not_run = set(trip.with_status("not run"))
        observed = [i for i in own.impact if i.revision not in not_run]  # as one worker sees
        sql = CapturedSQL({r: s for r, s in own.statements.items() if r not in not_run}, [
            dataclasses.replace(f, check="lint") for f in trip.findings
            if f.rule == UPGRADE_FAILS.id and f.revision == trip.stopped_at],
            server_version(migrated)) if new else None
        if trip.reached_head and not whole:  # bring up what comes after this slice, unchecked
            ran = {o.revision for o in trip.outcomes}
            last = max((i for i, r in enumerate(order) if r.id in ran), default=-1)
            upgrade(config, history, migrated, order[last + 1:])
            migrated.commit()
            head = capture(migrated)
        drifted = drift(config, migrated, head, started.also) \
            if trip.reached_head and head is not None else None
        released = check_running_release(config, ref, migrated, pending.new, observed) \
            if drifted is not None and new and ref is not None and pending is not None else None
    findings += trip.findings
    steps.append(Step("roundtrip", trip.ok, trip.summary))
    if new:
        impacted = check_impact(config, history, observed, sizes)
        steps.append(Step("impact", impacted.ok, impacted.summary))
        findings += impacted.findings
        report.impact = [s.to_json() for s in impacted.sized]
    if released is not None:
        steps.append(Step("release", released.ok, released.summary))
        findings += released.findings
    elif new and ref is not None:
        steps.append(Step("release", None, "not run: the upgrade to head failed"))
    report.revisions = [dataclasses.asdict(o) for o in trip.outcomes]
    report.seconds = round(trip.seconds, 3)
    if drifted is None or head is None:
        steps += [Step(name, None, "not run: the upgrade to head failed")
                  for name in ("drift", "diff")]
        return sql
    findings += drifted.findings
    steps.append(Step("drift", drifted.ok, drifted.summary))
    changes = diff(config, base=ref, head=head, before=own.schema)
    report.diff_sql = changes.sql
    steps.append(Step("diff", True, changes.summary))
    return sql


def _stats(config: Config, given: Path | None) -> StageStats | None:
    """The stage statistics to size impact by: ``--stats``, else ``[tool.dbci] stats_file``."""
    named = config.settings.stats_file
    path = given or (config.project_dir / named if named else None)
    return stats.load(path) if path is not None else None


def _major(connection: sa.Connection) -> str | None:
    """The server's major version (``18``), as the dialect read it on connecting."""
    info = connection.dialect.server_version_info
    return str(info[0]) if info else None


def _graph(report: Report, base: History, pending: Pending | None) -> None:
    """The revisions this branch adds on the base head, for the mermaid graph."""
    report.base_head = ", ".join(h.id for h in base.heads) or None
    for rev in pending.new if pending is not None else []:
        doc = (rev.script.module.__doc__ or "").strip().splitlines()
        report.added.append((rev.id, doc[0] if doc else ""))

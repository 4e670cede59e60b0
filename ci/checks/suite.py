"""The full PR check: lint, round trip, drift and diff in one run, sharing one database at head,
composed into one Report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from ci import targets
from ci.checks.diff import diff, resolve_base
from ci.checks.drift import drift
from ci.checks.lint import lint, load_base
from ci.checks.roundtrip import Outcome, RoundTripResult, roundtrip
from ci.checks.seed import seed_check
from ci.config import Config
from ci.errors import BadInput, DbciError
from ci.findings import count
from ci.history import load_history
from ci.report import Report, Step
from ci.runner import upgrade
from ci.schemadiff import capture


def in_ci() -> bool:
    """Whether dbci runs in CI (GitHub Actions and most others set ``CI``)."""
    return bool(os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS"))


def check(config: Config, base: str | None = None,
          progress: Callable[[str], None] | None = None,
          shard: tuple[int, int] | None = None, verify_seed: bool = False) -> Report:
    """Every check, the base-branch rules included whenever a base resolves; a step that cannot
    run says why, and the steps after it that need it skip. With ``shard``, the round trip
    checks one slice of the history (``join`` puts the slices' reports together).

    In CI a base must resolve: a shallow clone without the base branch would otherwise pass
    with the rules that protect deployed revisions switched off.
    """
    ref = resolve_base(config, base)
    if ref is None and in_ci():
        raise BadInput("no base branch to compare with (tried [tool.dbci] base_ref, origin/main, "
                       "main, origin/master, master); in CI, fetch it (actions/checkout with "
                       "fetch-depth: 0) or pass --base REF")
    linted = lint(config, base=ref)
    report = Report([Step("lint", linted.ok, linted.summary)], list(linted.findings), base=ref,
                    shard=f"{shard[0]}/{shard[1]}" if shard else None)
    seeded = seed_check(config, ref, verify_seed)
    _database_checks(config, report, ref, shard, progress)
    report.steps.append(Step("seed", seeded.ok, seeded.summary))
    report.findings += seeded.findings
    if ref is not None:
        _graph(config, report, ref)
    return report


def _database_checks(config: Config, report: Report, ref: str | None,
                     shard: tuple[int, int] | None,
                     progress: Callable[[str], None] | None) -> None:
    """The round trip, drift and diff, sharing one scratch database brought to head."""
    steps, findings = report.steps, report.findings
    try:
        order = load_history(config).order()
    except DbciError as exc:
        steps += [Step(name, None, f"not run: {exc.message}")
                  for name in ("roundtrip", "drift", "diff")]
        return
    with targets.scratch(config) as target:
        trip = roundtrip(config, shard=shard, progress=progress, target=target)
        findings += trip.findings
        steps.append(Step("roundtrip", trip.ok, trip.summary))
        report.revisions = [dataclasses.asdict(o) for o in trip.outcomes]
        report.seconds = round(trip.seconds, 3)
        if not trip.reached_head:
            steps += [Step(name, None, "not run: the upgrade to head failed")
                      for name in ("drift", "diff")]
            return
        with targets.connect(target) as migrated:
            if shard is not None:  # bring up what comes after this slice, unchecked
                checked = {o.revision for o in trip.outcomes}
                last = max((i for i, r in enumerate(order) if r.id in checked), default=-1)
                upgrade(config, load_history(config), migrated, order[last + 1:])
                migrated.commit()
            head = capture(migrated)
            drifted = drift(config, migrated, head)
        findings += drifted.findings
        steps.append(Step("drift", drifted.ok, drifted.summary))
        changes = diff(config, base=ref, head=head)
    report.diff_sql = changes.sql
    steps.append(Step("diff", True, changes.summary))


def _graph(config: Config, report: Report, ref: str) -> None:
    """The revisions this branch adds on the base head, for the mermaid graph."""
    base = load_base(config, ref)
    base_ids = {r.id for r in base.revisions}
    report.base_head = ", ".join(h.id for h in base.heads) or None
    for rev in load_history(config).order():
        if rev.id not in base_ids:
            doc = (rev.script.module.__doc__ or "").strip().splitlines()
            report.added.append((rev.id, doc[0] if doc else ""))


def join(reports: list[Report]) -> Report:
    """One report from the reports of the shards of a round trip: every shard must be there
    (a missing one means revisions nobody checked); the round trip's outcomes and the findings
    of all of them, the other checks as the shards found them (they agree)."""
    if not reports:
        raise BadInput("no reports to join")
    total = {int(r.shard.split("/")[1]) if r.shard else 1 for r in reports}
    have = {int(r.shard.split("/")[0]) if r.shard else 1 for r in reports}
    if len(total) != 1 or have != set(range(1, max(total) + 1)):
        missing = sorted(set(range(1, max(total) + 1)) - have)
        raise BadInput(f"the reports cover shards {sorted(have)} of {max(total)}; missing "
                       f"{missing or 'none'}: their revisions were not checked (did a job fail "
                       "or get cancelled?)")
    first = reports[0]
    findings = list({(f.check, f.rule, f.revision, f.file, f.object, f.message): f
                     for r in reports for f in r.findings}.values())
    outcomes = [Outcome(**o) for r in reports for o in r.revisions]
    steps = []
    for step in first.steps:
        same = [s for r in reports for s in r.steps if s.name == step.name]
        ok = False if any(s.ok is False for s in same) else (
            None if any(s.ok is None for s in same) else True)
        if step.name == "roundtrip":
            trip = RoundTripResult([], outcomes, max(r.seconds for r in reports), ok is not None)
            summary = f"{trip.summary} ({count(len(reports), 'shard')})" if outcomes else \
                step.summary
            steps.append(Step(step.name, ok, summary))
        else:
            steps.append(Step(step.name, ok, step.summary))
    return Report(steps, findings, base=first.base, diff_sql=first.diff_sql,
                  base_head=first.base_head, added=first.added,
                  revisions=[dataclasses.asdict(o) for o in outcomes],
                  seconds=max(r.seconds for r in reports))

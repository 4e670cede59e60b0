"""Reports of ``dbci check`` joined: the shards of one server into one report, and the servers'
reports (one per PostgreSQL version) into the one most agree on, with what each other found."""

from __future__ import annotations

import dataclasses
import json

from ci.errors import BadInput
from ci.findings import count
from ci.report import Difference, Joined, Report, Step, distinct, finding_key
from ci.roundtrip.results import Outcome, RoundTripResult


def by_version(named: list[tuple[str, Report]]) -> Joined:
    """Each version's shards joined, and the report most versions (or the first) agree on."""
    if not named:
        raise BadInput("no reports to join")
    groups: dict[str | None, list[tuple[str, Report]]] = {}
    for name, report in named:
        groups.setdefault(report.postgres, []).append((name, report))
    order = sorted(groups, key=lambda v: (v is None, int(v or 0)))
    joined = {v: join(groups[v]) for v in order}
    verdicts = {v: _verdict(r) for v, r in joined.items()}
    most = max(verdicts.values(), key=list(verdicts.values()).count)  # a tie: the first's
    agree = [v for v in order if verdicts[v] == most]
    common = joined[agree[0]]
    return Joined(common, agree, [_difference(v, joined[v], common) for v in order
                                  if v not in agree])


def _verdict(report: Report) -> tuple[frozenset[tuple[str | None, ...]],
                                      tuple[tuple[str, bool | None], ...]]:
    """What two versions must share to agree: the findings and each check's verdict."""
    return (frozenset(map(finding_key, report.findings)),
            tuple((s.name, s.ok) for s in report.steps))


def _difference(postgres: str | None, report: Report, common: Report) -> Difference:
    """What ``report`` found that ``common`` did not, and the other way round."""
    here, there = set(map(finding_key, report.findings)), set(map(finding_key, common.findings))
    ok = {s.name: s.ok for s in common.steps}
    return Difference(postgres, report,
                      [f for f in report.findings if finding_key(f) not in there],
                      [f for f in common.findings if finding_key(f) not in here],
                      [s for s in report.steps if s.name not in ok or ok[s.name] != s.ok])


def _k_of_n(report: Report) -> tuple[int, int]:
    """The shard a report covers; a report of the whole history is shard 1 of 1."""
    k, n = report.shard.split("/") if report.shard else ("1", "1")
    return int(k), int(n)


def join(named: list[tuple[str, Report]]) -> Report:
    """The (file, report) pairs of one server's shards as one report; each shard exactly once.

    A missing shard means revisions nobody checked. The round trip's outcomes and the findings
    of all of them; the other checks as the shards found them (they agree).
    """
    if not named:
        raise BadInput("no reports to join")
    reports = [r for _, r in named]
    on = f"PostgreSQL {reports[0].postgres}: " if reports[0].postgres else ""
    shards = [(name, *_k_of_n(report)) for name, report in named]
    counts: dict[int, list[str]] = {}
    for name, _, n in shards:
        counts.setdefault(n, []).append(name)
    if len(counts) > 1:
        split = "; ".join(f"of {n}: {', '.join(names)}" for n, names in sorted(counts.items()))
        raise BadInput(f"{on}the reports split the history into different numbers of shards "
                       f"({split}); pass the reports of one run of check")
    total = next(iter(counts))
    files: dict[int, list[str]] = {}
    for name, k, _ in shards:
        files.setdefault(k, []).append(name)
    for k, names in sorted(files.items()):
        if len(names) > 1:
            raise BadInput(f"{on}shard {k}/{total} is given {len(names)} times "
                           f"({', '.join(names)}); pass each shard's report once")
    if set(files) != set(range(1, total + 1)):
        missing = sorted(set(range(1, total + 1)) - set(files))
        raise BadInput(f"{on}the reports cover shards {sorted(files)} of {total}; missing "
                       f"{missing}: their revisions were not checked (did a job fail or get "
                       "cancelled?)")
    first = reports[0]
    findings = distinct([f for r in reports for f in r.findings])
    outcomes = [Outcome(**o) for r in reports for o in r.revisions]
    steps = []
    shown: dict[str, Step] = {}  # each step as the first shard that ran it says it
    for each in (s for r in reports for s in r.steps):  # the last shard's own too (impact)
        shown.setdefault(each.name, each)
    for step in shown.values():
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
                  seconds=max(r.seconds for r in reports), postgres=first.postgres,
                  impact=list({json.dumps(i, sort_keys=True): i
                               for r in reports for i in r.impact}.values()))

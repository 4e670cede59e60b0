"""Status of a deployed stage: its revision, what is pending, and whether its live schema is the
one the migrations build at that revision (a change made by hand is the drift to catch).

The stage is only read, in read-only transactions; the schema to compare with is built on a
scratch database elsewhere (the embedded server, or ``--scratch-url``), never on the stage's
server.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ci import snapshot
from ci.alembic_env import read_stamp, upgrade
from ci.config import Config
from ci.findings import Finding, Verdict, count
from ci.history import load_history
from ci.rules.stage import (
    STAGE_EXTRA_OBJECT,
    STAGE_MISSING_OBJECT,
    STAGE_OBJECT_DIFFERS,
    STAGE_REVISIONS_PENDING,
    STAGE_UNKNOWN_REVISION,
)
from ci.schemadiff import capture, migra_sql
from ci.stages import stats, targets


@dataclass
class StageStatus(Verdict):
    """A stage's revision, the revisions pending to head, and what differs by hand."""

    stage: str
    revision: tuple[str, ...]
    pending: list[str]
    findings: list[Finding]
    compared: bool  # False when the stage's revision is unknown here: nothing to build

    @property
    def summary(self) -> str:
        """``stage dev at 14_3a5e33b5fa4a, 1 pending; its schema is the migrations'``."""
        at = ", ".join(self.revision) or "no revision (empty)"
        pending = f"{count(len(self.pending), 'revision')} pending" if self.pending else \
            "up to date"
        by_hand = [f for f in self.findings if f.rule != STAGE_REVISIONS_PENDING.id]
        verdict = ("its schema is the one the migrations build" if not by_hand else
                   "not compared" if not self.compared else
                   f"{count(len(by_hand), 'difference')} from the migrations")
        return f"stage {self.stage} at {at}, {pending}; {verdict}"


def status(config: Config, target: targets.Target, scratch_url: str | None,
           fail_on_pending: bool = False, stats_out: Path | None = None) -> StageStatus:
    """Read the stage; build its revision on a scratch database; compare the two. With
    ``fail_on_pending``, revisions not yet on the stage are a finding too; with
    ``stats_out``, its tables' sizes are written there (:mod:`ci.stages.stats`)."""
    stage = target.stage or "?"
    history = load_history(config)
    order = history.order()
    with targets.connect(target, read_only=True,
                         application_name=f"dbci status {stage}") as live:
        at = read_stamp(config, history, live)
        if stats_out is not None:
            stats.write(stats.read_live(live, stage), stats_out)
        known = {r.id for r in history.revisions}
        unknown = [head for head in at.heads if head not in known]
        if unknown:
            finding = STAGE_UNKNOWN_REVISION.at_stage(
                stage, f"stage {stage} is at {', '.join(unknown)}, which this code does not "
                "know: the deployed code is ahead of this branch?")
            return StageStatus(stage, at.heads, [], [finding], compared=False)
        version = (at.schema or "public", at.table)
        deployed = capture(live)
        deployed_units = snapshot.take(live, None, version)
        live.rollback()
    reached = set(at.heads) | {a for head in at.heads for a in history.ancestors(head)}
    with targets.scratch_on(scratch_url, beside=target) as scratch, \
            targets.connect(scratch) as built_on:
        upgrade(config, history, built_on, [r for r in order if r.id in reached])
        built_units = snapshot.take(built_on, None, version)
        built = capture(built_on)
    rev = ", ".join(at.heads) or "base"
    findings = []
    # NOT NULL constraints only exist from PostgreSQL 18 on: the stage and the scratch server
    # may be of different majors, and nullability is compared per column anyway
    for diff in snapshot.compare(snapshot.portable(built_units),
                                 snapshot.portable(deployed_units)):
        findings.append(_by_hand(stage, rev, diff))
    if findings:
        sql = migra_sql(deployed, built)
        if sql:
            findings[0] = dataclasses.replace(
                findings[0], detail="migra, stage -> migrations:\n" + "\n".join(sql))
    pending = [r.id for r in order if r.id not in reached]
    if fail_on_pending and pending:
        findings.append(STAGE_REVISIONS_PENDING.at_stage(
            stage, f"stage {stage} lacks {count(len(pending), 'revision')} of this branch: "
            f"{', '.join(pending)}"))
    return StageStatus(stage, at.heads, pending, findings, compared=True)


def _by_hand(stage: str, rev: str, diff: snapshot.Difference) -> Finding:
    """One difference from what the migrations build at ``rev`` to what the stage holds."""
    if diff.change == "added":
        return STAGE_EXTRA_OBJECT.at_stage(
            stage, f"{diff.kind} {diff.object} is on stage {stage} but the migrations at {rev} "
            "do not build it: added by hand?", object=diff.object)
    if diff.change == "removed":
        return STAGE_MISSING_OBJECT.at_stage(
            stage, f"the migrations at {rev} build {diff.kind} {diff.object}; stage {stage} "
            "lacks it: dropped by hand?", object=diff.object)
    return STAGE_OBJECT_DIFFERS.at_stage(
        stage, f"{diff.kind} {diff.object} differs on stage {stage}: {diff.before} in the "
        f"migrations, {diff.after} there", object=diff.object)

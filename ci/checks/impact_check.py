"""The impact check: each new revision's observed impact (:mod:`ci.impact`) sized by the stage's
statistics (``check --stats``, or ``[tool.dbci] stats_file``).

A table rewritten, or read in full under a lock that blocks its writes, is a finding where the
stage's statistics say the table is large (more rows than ``impact_rows`` or more bytes than
``impact_bytes``) and the revision does not allow it with a reason. Without statistics it is
shown as a warning in the report and fails nothing: an empty scratch table says nothing of how
long the lock lasts on the stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ci.config import Config
from ci.findings import Finding, Verdict, count
from ci.history import History
from ci.impact import Impact
from ci.rules import allowed
from ci.rules.base import Rule
from ci.rules.impact import IMPACT_LONG_EXCLUSIVE_LOCK, IMPACT_TABLE_REWRITE
from ci.stages.stats import StageStats, TableSize


@dataclass(frozen=True)
class Sized:
    """One observed impact as the report shows it: the table's size on the stage (None:
    unknown) and what dbci makes of it."""

    impact: Impact
    size: TableSize | None
    verdict: str  # "finding", "allowed: <reason>", "small on <stage>", "size unknown", ""
    rule: str | None = None

    def to_json(self) -> dict[str, object]:
        """The ``impact`` entry of ``check --json``."""
        out = self.impact.to_json() | {"verdict": self.verdict, "blocks": self.impact.blocks}
        if self.rule:
            out["rule"] = self.rule
        if self.size is not None:
            out |= {"rows": self.size.rows, "bytes": self.size.bytes,
                    "size": described(self.size)}
        return out


@dataclass
class ImpactCheck(Verdict):
    """Every new revision's impact, sized, and the findings among them."""

    sized: list[Sized] = field(default_factory=list)
    stage: str | None = None  # whose statistics sized it
    findings: list[Finding] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """``3 tables touched by 2 new revisions; 1 rewrite (sized by prod)``."""
        risky = [s for s in self.sized if s.rule]
        revisions = len({s.impact.revision for s in self.sized})
        head = (f"{count(len(self.sized), 'relation')} touched by "
                f"{count(revisions, 'new revision')}") if self.sized else \
            "no existing table touched by the new revisions"
        known = sum(s.size is not None for s in self.sized)
        sized = f"{known} of them sized by {self.stage}" if self.stage else \
            "no stage statistics: --stats"
        return f"{head}; {count(len(risky), 'risky change')} ({sized})"


def check_impact(config: Config, history: History, impact: list[Impact],
                 stats: StageStats | None) -> ImpactCheck:
    """Size each impact by ``stats`` and turn the large risky ones into findings."""
    settings = config.settings
    out = ImpactCheck(stage=stats.stage if stats else None)
    for each in impact:
        rule = _risk(each)
        size = stats.tables.get(each.relation) if stats else None
        if rule is None:
            out.sized.append(Sized(each, size, ""))
            continue
        rev = history.get(each.revision)
        reason = allowed(rev).get(rule.id)
        large = size is not None and ((size.rows or 0) > settings.impact_rows
                                      or size.bytes > settings.impact_bytes)
        if stats is None:
            verdict = "size unknown"
        elif size is None:
            verdict = f"not in {stats.stage}'s statistics"
        elif not large:
            verdict = f"small on {stats.stage}"
        elif reason is not None:
            verdict = f"allowed: {reason or 'no reason given'}"
        else:
            verdict = "finding"
            out.findings.append(rule.at(rev, _message(each, size, stats.stage),
                                        object=each.relation))
        out.sized.append(Sized(each, size, verdict, rule.id))
    return out


def _risk(each: Impact) -> Rule | None:
    """The rule an impact falls under, whatever the table's size."""
    if each.rewritten:
        return IMPACT_TABLE_REWRITE
    if (each.scanned and each.blocks is not None) or each.concurrently is False:
        return IMPACT_LONG_EXCLUSIVE_LOCK
    return None


def _message(each: Impact, size: TableSize, stage: str) -> str:
    """``ACCESS EXCLUSIVE on public.t (≈2.1 M rows, 3.4 GB on prod), table rewritten``."""
    what = ("table rewritten" if each.rewritten else
            f"index {each.index} built without CONCURRENTLY" if each.index else
            "table read in full")
    lock = each.lock or ("ACCESS EXCLUSIVE" if each.rewritten else "SHARE") + \
        " (not observed: the revision ran outside a transaction)"
    return (f"{lock} on {each.relation} ({described(size)} on {stage}), {what}: "
            f"{each.blocks} wait until it is done")


def described(size: TableSize) -> str:
    """``≈2.1 M rows, 3.4 GB``."""
    rows = "rows unknown (never analysed)" if size.rows is None else \
        f"≈{_short(size.rows, 1000, ('', ' k', ' M', ' G'))} rows"
    return f"{rows}, {_short(size.bytes, 1024, (' B', ' kB', ' MB', ' GB', ' TB'))}"


def _short(number: int, step: int, units: tuple[str, ...]) -> str:
    value, unit = float(number), 0
    while value >= step and unit < len(units) - 1:
        value, unit = value / step, unit + 1
    return f"{value:.0f}{units[unit]}" if unit == 0 else f"{value:.1f}{units[unit]}"

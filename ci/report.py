"""The report of ``dbci check``: a table of checks, the problems, the schema diff and a mermaid
graph of the revisions the branch adds, as markdown (stdout, ``$GITHUB_STEP_SUMMARY``, the PR
comment) or JSON (which ``dbci report`` reads back to join the shards of a long history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from ci import github
from ci.atomic_files import replace_files
from ci.findings import Finding, Result, Verdict, count
from ci.output import Printer


@dataclass(frozen=True)
class Step:
    """One check of the run and how it went."""

    name: str
    ok: bool | None  # None: skipped
    summary: str


@dataclass
class Report(Verdict):
    """Everything the markdown shows."""

    steps: list[Step]
    findings: list[Finding]
    base: str | None = None
    diff_sql: list[str] = field(default_factory=list)
    base_head: str | None = None
    added: list[tuple[str, str]] = field(default_factory=list)  # (revision, message)
    revisions: list[dict[str, str]] = field(default_factory=list)  # the round trip's outcomes
    seconds: float = 0.0  # the round trip's
    shard: str | None = None  # "K/N" when this report covers one slice of the round trip
    postgres: str | None = None  # the server's major version ("18"); None: not recorded
    impact: list[dict[str, Any]] = field(default_factory=list)  # each new revision's, sized

    @property
    def ok(self) -> bool:
        """Every check passed (or did not run) and nothing was found."""
        return all(step.ok is not False for step in self.steps) and not self.findings

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``check --json`` (the contract's keys, and what a join needs)."""
        return {"ok": self.ok, "findings": [f.to_json() for f in self.findings],
                "checks": [{"check": s.name, "ok": s.ok, "summary": s.summary}
                           for s in self.steps],
                "base": self.base, "sql": self.diff_sql, "base_head": self.base_head,
                "added": [list(a) for a in self.added], "revisions": self.revisions,
                "seconds": self.seconds, "shard": self.shard, "postgres": self.postgres,
                "impact": self.impact}

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """A report read back from ``to_json``'s document as JSON text; pydantic's
        ValidationError when it is not one."""
        read = _Document.model_validate_json(text)
        return cls(steps=[Step(c.check, c.ok, c.summary) for c in read.checks],
                   findings=list(read.findings), base=read.base, diff_sql=read.sql,
                   base_head=read.base_head, added=read.added,
                   revisions=[o.model_dump() for o in read.revisions], seconds=read.seconds,
                   shard=read.shard, postgres=read.postgres, impact=read.impact)


def finding_key(finding: Finding) -> tuple[str | None, ...]:
    """What makes two findings the same one, whichever shard or server reported it."""
    return (finding.check, finding.rule, finding.revision, finding.file, finding.object,
            finding.message)


def distinct(findings: list[Finding]) -> list[Finding]:
    """The findings, each kept once (the first of the same ones), in order."""
    kept: dict[tuple[str | None, ...], Finding] = {}
    for finding in findings:
        kept.setdefault(finding_key(finding), finding)
    return list(kept.values())


@dataclass(frozen=True)
class Difference:
    """How one PostgreSQL version's report differs from the common one."""

    postgres: str | None
    report: Report
    only_here: list[Finding]  # its findings the common report lacks
    missing_here: list[Finding]  # the common report's findings it lacks
    checks: list[Step]  # its verdicts that are not the common report's


@dataclass
class Joined(Verdict):
    """The report most PostgreSQL versions (or the first) agree on, and how the others differ;
    ``findings``: every version's, each once."""

    common: Report
    agree: list[str | None]
    differ: list[Difference] = field(default_factory=list)
    findings: list[Finding] = field(init=False)

    def __post_init__(self) -> None:
        self.findings = distinct(self.common.findings
                                 + [f for d in self.differ for f in d.only_here])

    @property
    def ok(self) -> bool:
        """Every version's report is ok."""
        return self.common.ok and all(d.report.ok for d in self.differ)

    def to_json(self) -> dict[str, Any]:
        """The common report's document, every finding once, and each version's differences."""
        doc = {k: v for k, v in self.common.to_json().items() if k != "postgres"}
        versions = {_version_key(v): {"ok": self.common.ok, "agrees": True, "findings": [],
                                      "missing": [], "checks": []} for v in self.agree}
        for d in self.differ:
            versions[_version_key(d.postgres)] = {
                "ok": d.report.ok, "agrees": False,
                "findings": [f.to_json() for f in d.only_here],
                "missing": [f.to_json() for f in d.missing_here],
                "checks": [{"check": s.name, "ok": s.ok} for s in d.checks]}
        return doc | {"ok": self.ok, "findings": [f.to_json() for f in self.findings],
                      "versions": versions}


def _version_key(postgres: str | None) -> str:
    return postgres or "unknown"


def _versions(versions: list[str | None]) -> str:
    """``PostgreSQL 14, 15``; a version a report did not record is said so, last."""
    known = [v for v in versions if v is not None]
    if not known:
        return "an unrecorded PostgreSQL version"
    return f"PostgreSQL {', '.join(known)}" + (" and an unrecorded version"
                                               if None in versions else "")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _StepDocument(_Strict):
    check: str
    ok: bool | None
    summary: str


class _OutcomeDocument(_Strict):
    revision: str
    status: Literal["passed", "failed", "skipped", "not run"]
    path: str = "fast"
    note: str = ""


class _Document(BaseModel):
    """What ``check --json`` writes, as ``dbci report`` accepts it back."""

    model_config = ConfigDict(extra="ignore", strict=True)

    checks: list[_StepDocument]
    findings: list[Finding]
    base: str | None
    sql: list[str]
    base_head: str | None = None
    added: list[tuple[str, str]] = []
    revisions: list[_OutcomeDocument] = []
    seconds: float = 0.0
    shard: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*/[1-9][0-9]*$")] | None = None
    postgres: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*$")] | None = None
    impact: list[dict[str, Any]] = []

    @field_validator("shard")
    @classmethod
    def _k_of_n(cls, value: str | None) -> str | None:
        if value is not None and int(value.split("/")[0]) > int(value.split("/")[1]):
            raise ValueError("names a shard K/N with K above N")
        return value


def _mark(ok: bool | None) -> str:
    return {True: "✅ pass", False: "❌ fail", None: "⏭️ skipped"}[ok]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report | Joined) -> str:
    """The whole report as GitHub-flavoured markdown."""
    title = "✅ all checks pass" if report.ok else f"❌ {count(len(report.findings), 'problem')}"
    out = [f"## dbci check: {title}", ""]
    if isinstance(report, Joined):
        out += [_covers(report), ""]
        out += _body(report.common)
        for d in report.differ:
            out += _difference(d, report)
    else:
        out += _body(report)
    return "\n".join(out) + "\n"


def _covers(joined: Joined) -> str:
    """Which versions the report covers, and which of them differ."""
    agree = _versions(joined.agree)
    if not joined.differ:
        return f"{agree} agree." if len(joined.agree) > 1 else f"On {agree}."
    differ = [d.postgres for d in joined.differ]
    return (f"{agree} {'agree on' if len(joined.agree) > 1 else 'reports'} what follows; "
            f"{_versions(differ)} {'differ' if len(differ) > 1 else 'differs'} (see below).")


def _difference(d: Difference, joined: Joined) -> list[str]:
    """A section for a version whose report differs from the common one."""
    ok = {s.name: s.ok for s in joined.common.steps}
    others = _versions(joined.agree)
    out = ["", f"### Only on {_versions([d.postgres])}", ""]
    out += [f"- {s.name}: {_mark(s.ok)} ({_mark(ok.get(s.name))} on {others}): "
            f"{_cell(s.summary)}" for s in d.checks]
    out += _problems(d.only_here)
    out += [f"- not found here: {_named(f)} `{f.where}`: {_cell(f.message)}"
            for f in d.missing_here]
    return out


def _named(finding: Finding) -> str:
    """``**lint/[file-name](docs/rules.md#file-name)**``: the check, and the rule linked to
    its doc."""
    rule = f"[{finding.rule}]({finding.doc_url})" if finding.doc else finding.rule
    return f"**{finding.check}/{rule}**"


def _problems(findings: list[Finding]) -> list[str]:
    """A bullet for each finding, its details folded."""
    out = []
    for f in findings:
        out.append(f"- {_named(f)} `{f.where}`: {_cell(f.message)}"
                   + (f" *Fix:* {_cell(f.hint)}" if f.hint else ""))
        if f.detail:
            out += ["  <details><summary>details</summary>", "", "  ```",
                    *(f"  {line}" for line in f.detail.splitlines()), "  ```", "",
                    "  </details>"]
    return out


def _body(report: Report) -> list[str]:
    """The report below its title: the base, the table, the problems, the diff, the graph."""
    base = (f"Base: `{report.base}` (revisions there must be unchanged; squawk lints the ones "
            "added since)" if report.base else "Base: none found, so the rules that need one "
            "(`edited-deployed-revision`, squawk) did not run and the diff is over an empty "
            "database")
    out = [base, "", "| check | result | summary |", "|---|---|---|"]
    out += [f"| {s.name} | {_mark(s.ok)} | {_cell(s.summary)} |" for s in report.steps]
    if report.findings:
        out += ["", "### Problems", "", *_problems(report.findings)]
    out += _impact(report)
    over = f"over `{report.base}`" if report.base else "over an empty database"
    statements = count(len(report.diff_sql), "statement")
    out += ["", f"<details><summary>Schema diff {over} ({statements}, migra)</summary>", "",
            "```sql", *(report.diff_sql or ["-- no changes"]), "```",
            "", "</details>"]
    if report.added:
        out += ["", "```mermaid", "flowchart LR"]
        previous = "base"
        out.append(f'  base["{report.base_head or "base"} ({report.base or "base"} head)"]')
        for index, (revision, message) in enumerate(report.added):
            node = f"r{index}"
            label = f"{revision}<br/>{message}".replace('"', "'")
            out.append(f'  {previous} --> {node}["{label}"]')
            previous = node
        out.append("```")
    return out


def _impact(report: Report) -> list[str]:
    """A table per new revision: what it did to each existing table, observed as it ran."""
    if not report.impact:
        return []
    out = ["", "### Production impact", "", "Observed while each new revision ran in a "
           "transaction of its own: the locks it held until its commit, tables rewritten or read "
           "in full, indexes built; sizes from the stage's statistics (`check --stats`)."]
    for revision in dict.fromkeys(i["revision"] for i in report.impact):
        out += ["", f"`{revision}`", "", "| table | lock (blocks) | rewritten | read in full "
                "| on the stage | verdict |", "|---|---|---|---|---|---|"]
        for i in (i for i in report.impact if i["revision"] == revision):
            what = i["relation"] + (f", index {i['index']} built" + (
                " concurrently" if i.get("concurrently") else "") if i.get("index") else
                ", dropped" if i.get("change") == "dropped" else "")
            lock = (f"{i['lock']} ({i['blocks'] or 'nothing'})" if i.get("lock") else
                    "not observed (outside a transaction)")
            verdict = {"finding": f"❌ {i.get('rule')}", "size unknown":
                       f"⚠️ {i.get('rule')}, size unknown"}.get(i["verdict"], i["verdict"])
            out.append(f"| {_cell(what)} | {lock} | {'yes' if i['rewritten'] else '-'} | "
                       f"{'yes' if i['scanned'] else '-'} | {i.get('size', 'unknown')} | "
                       f"{_cell(verdict)} |")
    return out


def publish(report: Report | Joined, printer: Printer, comment: Path | None = None) -> int:
    """Print the report (markdown, or JSON), append it to the job summary, write the pull
    request comment's body when asked; the exit code it calls for."""
    text = markdown(report)
    github.append_step_summary(text)
    if comment is not None:
        replace_files({comment: github.comment_body(text)})
    if printer.json:
        doc = report.to_json()
        printer.result(Result(findings=report.findings,
                              data={k: v for k, v in doc.items() if k != "findings"}))
    else:
        printer.out.write(text)
        if printer.github:
            printer.annotations(report.findings)
    return report.exit_code

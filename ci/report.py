"""The markdown report of ``dbci check``: a table of checks, the problems, the schema diff and a
mermaid graph of the revisions the branch adds; for stdout and ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci.findings import Finding, count


@dataclass(frozen=True)
class Step:
    """One check of the run and how it went."""

    name: str
    ok: bool | None  # None: skipped
    summary: str


@dataclass
class Report:
    """Everything the markdown shows."""

    steps: list[Step]
    findings: list[Finding]
    base: str | None = None
    diff_sql: list[str] = field(default_factory=list)
    base_head: str | None = None
    added: list[tuple[str, str]] = field(default_factory=list)  # (revision, message)

    @property
    def ok(self) -> bool:
        return all(step.ok is not False for step in self.steps) and not self.findings


def _mark(ok: bool | None) -> str:
    return {True: "✅ pass", False: "❌ fail", None: "⏭️ skipped"}[ok]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    """The whole report as GitHub-flavoured markdown."""
    title = "✅ all checks pass" if report.ok else f"❌ {count(len(report.findings), 'problem')}"
    base = (f"Base: `{report.base}` (revisions there must be unchanged; squawk lints the ones "
            "added since)" if report.base else "Base: none found, so the rules that need one "
            "(`edited-deployed-revision`, squawk) did not run and the diff is over an empty "
            "database")
    out = [f"## dbci check: {title}", "", base, "", "| check | result | summary |",
           "|---|---|---|"]
    out += [f"| {s.name} | {_mark(s.ok)} | {_cell(s.summary)} |" for s in report.steps]
    if report.findings:
        out += ["", "### Problems", ""]
        for f in report.findings:
            out.append(f"- **{f.check}/{f.rule}** `{f.where}`: {_cell(f.message)}"
                       + (f" *Fix:* {_cell(f.hint)}" if f.hint else ""))
            if f.detail:
                out += ["  <details><summary>details</summary>", "", "  ```",
                        *(f"  {line}" for line in f.detail.splitlines()), "  ```", "",
                        "  </details>"]
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
    return "\n".join(out) + "\n"

"""Lock-safety: squawk's rules on the SQL each new revision executes, one revision at a time.

The SQL is captured by running the revisions on a scratch database (offline ``--sql`` mode breaks
on revisions that query the database). Each revision is linted on its own: squawk treats a table
created earlier in the same input as new, so one stream of SQL would hide problems.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from ci import squawk_cli as squawk
from ci.alembic_env import RevisionFailed, Statement, apply, capture_statements, run_env
from ci.config import Config
from ci.errors import BadInput, OutsideFailure
from ci.findings import Finding
from ci.history import History, Revision
from ci.rules import squawk_link
from ci.rules.roundtrip import UPGRADE_FAILS
from ci.settings import DEFAULT_SQUAWK_EXCLUDE
from ci.stages import targets


@dataclass(frozen=True)
class CapturedSQL:
    """The statements each revision's upgrade sent, by revision id; the upgrade that failed
    before all ran; the server's version (``15.4``), for squawk."""

    statements: dict[str, list[Statement]]
    failures: list[Finding]
    pg_version: str


def server_version(connection: sa.Connection) -> str:
    """``18.6``: the server's major and minor version, as squawk takes it."""
    return ".".join(str(p) for p in (connection.dialect.server_version_info or ())[:2])


def capture_sql(config: Config, history: History, chain: list[Revision],
                wanted: set[str]) -> CapturedSQL:
    """Upgrade a scratch database from base to head; the statements of the wanted revisions."""
    captured: dict[str, list[Statement]] = {}
    failures: list[Finding] = []
    with targets.scratch(config) as target, targets.connect(target) as conn:
        version = server_version(conn)

        def body(context: MigrationContext) -> None:
            connection = context.connection
            assert connection is not None
            for rev in chain:
                with capture_statements(connection) as statements:
                    try:
                        apply(rev, "upgrade")
                    except RevisionFailed as exc:
                        failures.append(UPGRADE_FAILS.at(
                            rev, exc.reason, line=_upgrade_line(rev), check="lint"))
                        return
                if rev.id in wanted:
                    captured[rev.id] = statements

        run_env(config, history, conn, body)
    return CapturedSQL(captured, failures, version)


def _upgrade_line(rev: Revision) -> int | None:
    func = rev.function("upgrade")
    return func.lineno if func else None


def sql_script(statements: list[Statement]) -> tuple[str, list[int]]:
    """The statements as one SQL text, transactional runs wrapped in BEGIN/COMMIT as they ran;
    and the 0-based line each statement starts on."""
    text, starts, in_tx = "", [], False
    for statement in statements:
        if statement.autocommit == in_tx:
            text += "COMMIT;\n" if in_tx else "BEGIN;\n"
            in_tx = not in_tx
        starts.append(text.count("\n"))
        text += statement.sql.strip().rstrip(";") + ";\n"
    return text + ("COMMIT;\n" if in_tx else ""), starts


def refuse_what_squawk_refuses(config: Config) -> None:
    """Bad input (exit 2, naming pyproject.toml) where squawk refuses the project's
    ``squawk_exclude`` or ``squawk_pg_version`` (an unknown rule, a version it cannot read):
    a typo must not switch a rule off. Asked of squawk only where they differ from dbci's own."""
    settings = config.settings
    if settings.squawk_exclude == DEFAULT_SQUAWK_EXCLUDE and settings.squawk_pg_version is None:
        return
    said = squawk.refused(settings.squawk_exclude, settings.squawk_pg_version)
    if said:
        raise BadInput(f"{config.project_dir / 'pyproject.toml'}: [tool.dbci] squawk_exclude or "
                       f"squawk_pg_version: squawk refuses them ({said})")


def lint_sql(config: Config, revisions: list[Revision], captured: dict[str, list[Statement]],
             pg_version: str) -> list[Finding]:
    """Run squawk once over one file per revision; findings land at the revision files."""
    by_file: dict[str, tuple[Revision, list[int], list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="dbci-squawk-") as tmp:
        for rev in revisions:
            statements = [s for s in captured.get(rev.id, []) if s.sql.strip()]
            if not statements:
                continue
            path = Path(tmp) / f"{rev.id}.sql"
            text, starts = sql_script(statements)
            path.write_text(text)
            by_file[str(path)] = (rev, starts, [s.sql for s in statements])
        if not by_file:
            return []
        settings = config.settings
        refuse_what_squawk_refuses(config)
        args = ["--reporter", "json", "--pg-version", settings.squawk_pg_version or pg_version]
        if settings.squawk_exclude:
            args += ["--exclude", ",".join(settings.squawk_exclude)]
        done = squawk.run([*args, *by_file])
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise OutsideFailure(f"squawk printed no JSON (exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[:300]}") from exc
    findings = []
    for item in reports:
        rev, starts, texts = by_file[item["file"]]
        index = max((i for i, start in enumerate(starts) if start <= item["line"]), default=0)
        excerpt = " ".join(texts[index].split())
        excerpt = excerpt if len(excerpt) <= 100 else excerpt[:97] + "..."
        doc = squawk_link(item["rule_name"])
        findings.append(Finding(
            check="lint", rule=item["rule_name"], revision=rev.id, file=rev.display,
            line=_upgrade_line(rev), hint=item.get("help") or f"see {doc}", doc=doc,
            message=f"{item['message']} (squawk, in `{excerpt}`)"))
    return findings

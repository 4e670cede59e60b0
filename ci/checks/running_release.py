"""Whether the running release survives the migration: during a deploy the base branch's code
still runs, now against the new schema.

On the database the round trip left at head, inside a transaction that is rolled back, each
table the base branch's ORM maps and a new revision touched (every mapped table, where a new
revision ran outside a transaction, so what it touched was not observed) must answer a
``SELECT`` of every column it maps (``LIMIT 0``: no row is read), and every column the new
schema makes NOT NULL without a default must be one that ORM writes, or its INSERTs fail. What
breaks is blamed on the new revision that last changed the table (from the impact the round
trip observed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ci.checks.drift import target_metadata
from ci.config import Config
from ci.db.runners import is_connection_lost, sql
from ci.errors import BadInput
from ci.findings import Finding, Verdict, count
from ci.gitrefs import changed_since, project_at
from ci.history import FIXTURE_FOLDERS, History, Revision, env_only, load_history
from ci.impact import Impact
from ci.rules.compat import COMPAT_RUNNING_RELEASE_BREAKS


@dataclass
class ReleaseCheck(Verdict):
    """What the base branch's ORM cannot do on the new schema."""

    base: str
    tables: int = 0  # how many mapped tables were tried
    findings: list[Finding] = field(default_factory=list)
    why: str | None = None  # why it could not run (the base's ORM did not load): it fails

    @property
    def ok(self) -> bool:
        """Nothing breaks, and that was proven: a check that could not run fails."""
        return self.why is None and not self.findings

    @property
    def summary(self) -> str:
        """``the ORM of main works on the new schema (2 tables the new revisions touched)``."""
        if self.why is not None:
            return f"could not run: {self.why}; nothing proves the running release survives"
        verdict = "works on" if self.ok else \
            f"breaks in {count(len(self.findings), 'place')} on"
        return (f"the ORM of {self.base} {verdict} the new schema "
                f"({count(self.tables, 'table')} the new revisions touched)")


def check_running_release(config: Config, base: str, migrated: sa.Connection,
                          new: list[Revision], impact: list[Impact]) -> ReleaseCheck:
    """Try the base branch's ORM on ``migrated`` (the head schema), changing nothing."""
    history = load_history(config)
    try:
        if _only_revisions_changed(config, history, base):  # the ORM here: loaded already
            metadata = target_metadata(config, env_only(config), migrated)
        else:
            with project_at(base, config) as base_config:
                metadata = target_metadata(base_config, env_only(base_config), migrated)
    except BadInput as exc:  # no ORM at the base (or one that does not import): a failure
        return ReleaseCheck(base, why=f"the ORM of {base} did not load: {exc.message}")
    finally:
        config.add_import_paths()  # this project's modules again, not the base checkout's
    blame = _blame(history, new, impact)
    touched = None if any(r.commits_itself for r in new) else \
        {i.relation for i in impact}  # outside a transaction, what it touched is not observed
    tables = [t for t in metadata.sorted_tables if touched is None or _named(t) in touched]
    result = ReleaseCheck(base, len(tables))
    savepoint = migrated.begin_nested()
    try:
        for table in tables:
            result.findings += _broken(migrated, table, blame, base)
    finally:
        savepoint.rollback()
    return result


def _only_revisions_changed(config: Config, history: History, base: str) -> bool:
    """Whether the project differs from ``base`` in revision and fixture files alone: then the
    ORM (and env.py) at the base are the ones here."""
    folders = [history.versions_dir.resolve(),
               *((config.script_location / f).resolve() for f in FIXTURE_FOLDERS)]
    return all(any(path.is_relative_to(f) for f in folders)
               for path in (p.resolve() for p in changed_since(base, config)))


def _blame(history: History, new: list[Revision],
           impact: list[Impact]) -> dict[str, Revision]:
    """For each ``schema.table``, the last new revision that changed it; ``""`` names the head
    (a table no observed change names)."""
    by_id = {r.id: r for r in new}
    out = {i.relation: by_id[i.revision] for i in impact if i.revision in by_id}
    if new:  # what no observed change names: the last revision whose changes went unobserved
        out[""] = next((r for r in reversed(new) if r.commits_itself), new[-1])
    return out


def _broken(connection: sa.Connection, table: sa.Table, blame: dict[str, Revision],
            base: str) -> Iterator[Finding]:
    """The findings for one mapped table: what its SELECT cannot read, and the NOT NULL
    columns without a default it does not write."""
    name = _named(table)
    rev = blame.get(name) or blame.get("")
    if rev is None:
        return
    missing = _unreadable(connection, table)
    for column in missing:
        what = f"table {name}" if column is None else f"column {name}.{column}"
        yield COMPAT_RUNNING_RELEASE_BREAKS.at(
            rev, f"the release running on {base} still maps {what}, which the new schema "
            f"{'lacks' if column else 'does not have'}: its queries fail during the deploy",
            object=name if column is None else f"{name}.{column}")
    if None in missing:
        return
    for column in _required(connection, table):
        mapped = table.columns.get(column)
        if mapped is None:
            yield COMPAT_RUNNING_RELEASE_BREAKS.at(
                rev, f"{name}.{column} is NOT NULL without a default, and the release running "
                f"on {base} does not write it: its INSERTs into {name} fail during the deploy",
                object=f"{name}.{column}")
        elif mapped.nullable and mapped.default is None and mapped.server_default is None:
            yield COMPAT_RUNNING_RELEASE_BREAKS.at(
                rev, f"{name}.{column} is NOT NULL now, and the release running on {base} maps "
                "it as nullable with no default: its INSERTs and UPDATEs may write NULL there "
                "during the deploy", object=f"{name}.{column}")


def _unreadable(connection: sa.Connection, table: sa.Table) -> list[str | None]:
    """What a ``SELECT`` of the mapped columns cannot read: [None] when the table is gone,
    else the columns that are, each tried on its own once the whole SELECT failed."""
    if _reads(connection, sa.select(*table.columns).limit(0)):
        return []
    if not _reads(connection, sa.select(sa.literal(1)).select_from(table).limit(0)):
        return [None]
    return [c.name for c in table.columns if not _reads(connection, sa.select(c).limit(0))]


def _reads(connection: sa.Connection, query: sa.Select[Any]) -> bool:
    """Whether the query runs (in a savepoint of its own, so a failure spoils nothing)."""
    savepoint = connection.begin_nested()
    try:
        connection.execute(query)
    except DBAPIError as exc:
        savepoint.rollback()
        if is_connection_lost(exc):
            raise
        return False
    savepoint.rollback()
    return True


def _required(connection: sa.Connection, table: sa.Table) -> list[str]:
    """The columns of the live table an INSERT must give: NOT NULL, no default, not an identity
    or generated column."""
    return [name for (name,) in connection.exec_driver_sql(
        sql("required_columns"), {"schema": table.schema or "public", "table": table.name})]


def _named(table: sa.Table) -> str:
    """``schema.table``, as impact names relations (``public`` where the ORM names none)."""
    return f"{table.schema or 'public'}.{table.name}"

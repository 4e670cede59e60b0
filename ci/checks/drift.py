"""Drift: the ORM (env.py's ``target_metadata``) against the schema the migrations build.

Two comparisons, each difference reported once: Alembic's autogenerate (``compare_metadata``:
types, nullability, server defaults, indexes, unique constraints, foreign keys) on the migrated
database, and dbci's catalog snapshots of that database against one built by the ORM's
``create_all`` (enum labels, check constraints, and everything autogenerate does not see).
migra's SQL from the migrated schema to the ORM's comes along for reviewers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from ci import compat, snapshot
from ci.alembic_env import run_env
from ci.config import Config
from ci.db.lent import lent
from ci.errors import BadInput, DbciError, error_line
from ci.findings import Finding, Verdict, count, display_path
from ci.history import History, load_history
from ci.rules import Rule
from ci.rules.drift import DRIFT_DIFFERS, DRIFT_MIGRATIONS_ONLY, DRIFT_ORM_ONLY
from ci.schemadiff import Captured, capture, migra_sql
from ci.stages import targets


@dataclass(frozen=True)
class Drift:
    """One object on which the ORM and the migrations disagree, and the rule that says how."""

    rule: Rule  # only the ORM has it, only the migrations do, or it differs
    object: str
    message: str


def _one_side(in_orm: bool, kind: str, obj: str) -> Drift:
    """An object only the ORM declares (``in_orm``), or only the migrations create."""
    if in_orm:
        return Drift(DRIFT_ORM_ONLY, obj,
                     f"{kind} {obj}: the ORM declares it, the migrations do not create it")
    return Drift(DRIFT_MIGRATIONS_ONLY, obj,
                 f"{kind} {obj}: the migrations create it, the ORM does not declare it")


def _qualified(schema: str | None, *names: str) -> str:
    return ".".join([schema or "public", *names])


def _show(value: Any) -> str:
    """A type as PostgreSQL spells it (``VARCHAR(16)``), anything else as Python would."""
    if isinstance(value, sa.types.TypeEngine):
        return str(value.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    if isinstance(value, sa.sql.elements.TextClause | sa.DefaultClause):
        return repr(str(getattr(value, "arg", value)))
    return repr(value)


def _alembic_drift(diff: Any) -> Drift:
    """One entry of compare_metadata's list, as a Drift."""
    if isinstance(diff, list):  # modify_* entries come grouped per column
        schema, table, column = diff[0][1], diff[0][2], diff[0][3]
        what = ", ".join(f"{d[0].removeprefix('modify_')} {_show(d[5])} in the migrations, "
                         f"{_show(d[6])} in the ORM" for d in diff)
        return Drift(DRIFT_DIFFERS, _qualified(schema, table, column),
                     f"column {_qualified(schema, table, column)} differs: {what}")
    op = diff[0]
    if op in ("add_table", "remove_table"):
        obj, kind = _qualified(diff[1].schema, diff[1].name), "table"
    elif op in ("add_column", "remove_column"):
        obj, kind = _qualified(diff[1], diff[2], diff[3].name), "column"
    elif op in ("add_index", "remove_index"):
        obj, kind = _qualified(diff[1].table.schema, str(diff[1].name)), "index"
    elif op in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        con = diff[1]
        obj = _qualified(con.table.schema, con.table.name, str(con.name))
        kind = "foreign key" if op.endswith("fk") else "constraint"
    else:
        return Drift(DRIFT_DIFFERS, "", f"{op}: {diff[1:]}")
    return _one_side(op.startswith("add"), kind, obj)


def _snapshot_drift(diff: snapshot.Difference) -> Drift:
    if diff.change == "changed":
        return Drift(DRIFT_DIFFERS, diff.object, f"{diff.kind} {diff.object} differs: "
                     f"{diff.before} in the migrations, {diff.after} in the ORM")
    return _one_side(diff.change == "added", diff.kind, diff.object)


def _orm_database(metadata: sa.MetaData, connection: sa.Connection,
                  extensions: list[tuple[str, ...]]) -> None:
    """Build the ORM's schema with create_all, after the schemas and extensions it relies on."""
    schemas = {t.schema for t in metadata.tables.values() if t.schema} | (
        {metadata.schema} if metadata.schema else set())
    preparer = connection.dialect.identifier_preparer
    for name in sorted(schemas):
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {preparer.quote(name)}")
    for name, schema in extensions:
        connection.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {preparer.quote(name)} "
                                   f"SCHEMA {preparer.quote(schema)}")
    metadata.create_all(connection, checkfirst=False)  # a new, empty database




@dataclass(frozen=True)
class OrmSchema:
    """The schema the ORM's create_all builds, after the extensions it was built with."""

    extensions: list[tuple[str, ...]]
    units: snapshot.Snapshot


def orm_schema(config: Config, stack: contextlib.ExitStack,
               target: targets.Target) -> Callable[[sa.Connection], OrmSchema | None]:
    """The ORM's schema, built beside a round trip by its second worker, in the empty scratch
    database ``target`` (made with the worker's own, ahead of its part), connected to until
    ``stack`` closes: given the worker's connection at the end of its part, env.py's
    ``target_metadata`` and the extensions as they stand there, built in it. None when it
    cannot be built so: drift builds it itself and says why."""
    try:
        orm = stack.enter_context(targets.connect(target))
    except (DbciError, sa.exc.DBAPIError):
        return lambda connection: None

    def build(connection: sa.Connection) -> OrmSchema | None:
        try:
            metadata = _alembic_compare(config, load_history(config), connection, None)
            extensions = _extensions(connection)
            _orm_database(metadata, orm, extensions)
            orm.commit()
            return OrmSchema(extensions, snapshot.take(orm))
        except (DbciError, sa.exc.DBAPIError):
            return None

    return build


def _extensions(connection: sa.Connection) -> list[tuple[str, ...]]:
    """The database's extensions (but plpgsql) and their schemas, in the order they were
    made (one that needs another comes after it)."""
    return [tuple(row) for row in connection.exec_driver_sql(
        "SELECT x.extname, n.nspname FROM pg_extension x "
        "JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql' "
        "ORDER BY x.oid")]


def compare(config: Config, history: History, migrated: sa.Connection,
            head: Captured | None = None,
            built: OrmSchema | None = None) -> tuple[list[Drift], list[str]]:
    """Drifts between the migrated database (at head) and the ORM; migra's SQL between them
    when there are any (migra inspects the ORM's database only then).

    The ORM's schema is built with create_all in a database of its own and compared with the
    migrated one; Alembic's autogenerate compares the ORM with the migrated database only where
    the two differ (where they agree, all it could add is its own noise). On a lent database,
    which is emptied for the ORM's schema, Alembic compares first. ``head`` is the migrated
    schema when the caller captured it already; ``built`` the ORM's, when it was built beside
    (used where it was built with the same extensions, and agrees).
    """
    found: list[Drift] = []
    first = lent(migrated.engine.url.render_as_string(hide_password=False))
    extensions = _extensions(migrated)
    head = head or capture(migrated)
    if built is not None and not first and set(built.extensions) == set(extensions) \
            and not _differences(head.snapshot, built.units):
        return [], []
    metadata = _alembic_compare(config, history, migrated, found if first else None)
    migrated.rollback()  # hold no locks: a lent database is emptied for the ORM's schema
    with targets.scratch(config) as target, targets.connect(target) as orm:
        try:
            _orm_database(metadata, orm, extensions)
        except sa.exc.DBAPIError as exc:
            raise BadInput(
                f"{display_path(history.script_dir.env_py_location)}: the ORM's create_all "
                f"fails ({error_line(exc)}); drift builds a database from target_metadata, so "
                "it must create every table and type it uses"
            ) from exc
        orm.commit()
        units = snapshot.take(orm)
        differences = _differences(head.snapshot, units)
        if differences and not first:
            _alembic_compare(config, history, migrated, found)
        seen = {d.object for d in found}
        owners = _sequence_owners(head.snapshot) | _sequence_owners(units)
        for diff in differences:
            subject = owners.get(diff.object, diff.object)  # a serial's sequence: its column
            if subject not in seen and not _inside(subject, seen):
                found.append(_snapshot_drift(diff))
        return found, migra_sql(head, capture(orm)) if found else []


def _differences(head: snapshot.Snapshot, built: snapshot.Snapshot) -> list[snapshot.Difference]:
    """The migrated schema against the ORM's, NOT NULL constraints by their columns alone and
    without the columns' planner and storage settings (:func:`snapshot.portable`)."""
    return snapshot.compare(snapshot.portable(head), snapshot.portable(built))


def target_metadata(config: Config, history: History, connection: sa.Connection) -> sa.MetaData:
    """env.py's ``target_metadata`` (the ORM), as env.py hands it to Alembic on ``connection``."""
    return _alembic_compare(config, history, connection, None)


def _alembic_compare(config: Config, history: History, migrated: sa.Connection,
                     found: list[Drift] | None) -> sa.MetaData:
    """env.py's ``target_metadata``; with ``found``, Alembic's drifts between it and the
    migrated database added to it."""
    state: dict[str, sa.MetaData] = {}

    def inspect(context: MigrationContext) -> None:
        metadata = context.opts.get("target_metadata")
        if not isinstance(metadata, sa.MetaData):
            raise BadInput(f"{display_path(history.script_dir.env_py_location)}: "
                           "no target_metadata in context.configure(); drift needs the ORM")
        if found is not None:
            context.opts.setdefault("compare_server_default", True)
            with compat.each_schema_reflected_at_once():
                found.extend(_alembic_drift(d) for d in compare_metadata(context, metadata))
        state["metadata"] = metadata

    run_env(config, history, migrated, inspect)
    return state["metadata"]


def _sequence_owners(units: snapshot.Snapshot) -> dict[str, str]:
    """``schema.sequence`` -> ``schema.table.column`` of each sequence a column owns (serial)."""
    return {f"{schema}.{name}": f"{schema}.{unit.definition['sequence']['owned_by']}"
            for (kind, schema, name), unit in units.items()
            if kind == "relation" and (unit.definition.get("sequence") or {}).get("owned_by")}


def _inside(obj: str, seen: set[str]) -> bool:
    """True when a table already reported as missing holds this object."""
    return any(obj.startswith(s + ".") for s in seen)


def findings(history: History, drifts: list[Drift], statements: list[str]) -> Iterator[Finding]:
    """Drifts as findings at env.py, migra's SQL attached to the first."""
    env = display_path(history.script_dir.env_py_location)
    for index, drift in enumerate(drifts):
        yield drift.rule.at_file(
            env, drift.message, object=drift.object or None,
            detail=("migra, migrations -> ORM:\n" + "\n".join(statements))
            if index == 0 and statements else None)


@dataclass
class DriftResult(Verdict):
    """The drifts between the ORM and the migrations at head, as findings, and migra's SQL."""

    findings: list[Finding]
    head: str
    migra: list[str]

    @property
    def summary(self) -> str:
        """``the ORM and the migrations at 14_3a5e33b5fa4a agree``."""
        return (f"the ORM and the migrations at {self.head} "
                + ("agree" if self.ok else f"differ in {count(len(self.findings), 'place')}"))


def drift(config: Config, migrated: sa.Connection | None = None,
          head: Captured | None = None, built: OrmSchema | None = None) -> DriftResult:
    """Compare the ORM with the migrations at head (``migrated``, else a scratch database);
    ``built``: the ORM's schema, when it was built beside (see :func:`orm_schema`)."""
    history = load_history(config)
    history.order()  # a broken history says so before anything runs
    with contextlib.ExitStack() as stack:
        if migrated is None:
            migrated = stack.enter_context(targets.at_head(config))
        drifts, statements = compare(config, history, migrated, head, built)
    return DriftResult(list(findings(history, drifts, statements)),
                       ", ".join(h.id for h in history.heads) or "base", statements)

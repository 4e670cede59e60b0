"""Catalog snapshots: the schema as comparable values, whole or only the units a step touched.

A unit is one schema, extension, type, function, or relation with everything that hangs off it
(columns, constraints, indexes, triggers, policies, comments). Units are keyed by name, so a
table dropped and created again compares equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa

from ci.db.runners import run_prepared, sql

KINDS = ("schema", "extension", "type", "function", "relation")
RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view",
            "S": "sequence", "f": "foreign table"}

UnitKey = tuple[str, str, str]
"""(kind, schema, name); for a function the name carries its argument types."""


@dataclass(frozen=True)
class Unit:
    """One unit's definition."""

    definition: dict[str, Any]


Snapshot = dict[UnitKey, Unit]


@dataclass(frozen=True)
class Difference:
    """One object that is not the same in two snapshots."""

    change: str  # "added", "removed" or "changed", going from the first snapshot to the second
    kind: str  # "table", "column", "index", "constraint", "type", ...
    object: str  # "schema.table.column", "schema.index", ...
    before: str | None
    after: str | None


def units_sql(kinds: Iterable[str], everything: bool) -> str:
    """The union of the snapshot queries of ``kinds``: every unit (``everything``), or those
    the CTE ``wanted`` names. Each row: kind, schema, name, definition, and the oids of the
    unit's catalog rows (so what is dropped can be traced back to its unit)."""
    body = "\nUNION ALL\n".join(f"({sql(f'snapshot/{kind}')})" for kind in kinds)
    return body.replace(":everything", "true" if everything else "false")


@cache
def _query(kinds: tuple[str, ...] | None) -> str:
    """One statement for the units of ``kinds`` named in ``dbci.wanted`` (None: every unit of
    every kind)."""
    return ("WITH named AS (SELECT * FROM "
            "jsonb_to_recordset(current_setting('dbci.wanted')::jsonb) "
            "AS w(kind text, schema text, name text)),\n"
            f"wanted AS ({sql('snapshot/wanted')})\n{units_sql(kinds or KINDS, kinds is None)}")


def version_settings(version_table: tuple[str, str]) -> dict[str, str]:
    """The session settings naming Alembic's version table, which snapshots leave out."""
    return {"dbci.version_schema": version_table[0], "dbci.version_table": version_table[1]}


def take(connection: sa.Connection, keys: Iterable[UnitKey] | None = None,
         version_table: tuple[str, str] = ("public", "alembic_version")) -> Snapshot:
    """The units named by ``keys`` that exist (all units when ``keys`` is None)."""
    wanted = [] if keys is None else [{"kind": k, "schema": s, "name": n} for k, s, n in keys]
    if keys is not None and not wanted:
        return {}
    kinds = None if keys is None else tuple(k for k in KINDS if any(w["kind"] == k
                                                                     for w in wanted))
    statement = "dbci_snapshot_" + ("all" if kinds is None else "_".join(kinds))
    rows = run_prepared(connection, statement, _query(kinds),
                        {"dbci.wanted": json.dumps(wanted), **version_settings(version_table)})
    return {(kind, schema, name): Unit(definition) for kind, schema, name, definition, _ in rows}


def compare(before: Mapping[UnitKey, Unit], after: Mapping[UnitKey, Unit],
            keys: Iterable[UnitKey] | None = None) -> list[Difference]:
    """Every object that differs between two snapshots (over ``keys``, or over both wholly)."""
    keys = sorted(set(before) | set(after) if keys is None else set(keys))
    out: list[Difference] = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old is None and new is None:
            continue
        if old is None or new is None:
            unit = old or new
            assert unit is not None
            out.append(Difference("added" if old is None else "removed", _unit_kind(key, unit),
                                  _unit_name(key), None if old is None else _render_unit(key, old),
                                  None if new is None else _render_unit(key, new)))
        elif old.definition != new.definition:
            out.extend(_unit_changes(key, old.definition, new.definition))
    return out


def _unit_name(key: UnitKey) -> str:
    kind, schema, name = key
    return name if kind in ("schema", "extension") else f"{schema}.{name}"


def _unit_kind(key: UnitKey, unit: Unit) -> str:
    if key[0] == "relation":
        return RELKINDS.get(unit.definition.get("relkind", "r"), "relation")
    if key[0] == "type" and unit.definition.get("typtype") == "e":
        return "enum type"
    return key[0]


def _render_unit(key: UnitKey, unit: Unit) -> str:
    d = unit.definition
    if key[0] == "relation":
        columns = ", ".join(_render_column(c) for c in d.get("columns") or [])
        return f"{_unit_kind(key, unit)} {_unit_name(key)} ({columns})"
    if d.get("labels") is not None:
        return f"enum {_unit_name(key)} ({', '.join(d['labels'])})"
    return f"{_unit_kind(key, unit)} {_unit_name(key)} {json.dumps(d, sort_keys=True)}"


#: A column's planner and storage settings, where not the default (``ALTER COLUMN ... SET``).
SETTINGS = ("statistics", "storage", "compression", "options")
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}


def _render_column(column: Mapping[str, Any]) -> str:
    text = f"{column['name']} {column['type']}"
    if column.get("not_null"):
        text += " NOT NULL"
    if column.get("default") is not None:
        text += f" DEFAULT {column['default']}"
    for extra in ("identity", "generated", "collation", "comment"):
        if column.get(extra):
            text += f" {extra.upper()} {column[extra]}"
    settings = {"statistics": column.get("statistics"),
                "storage": _STORAGE.get(column.get("storage") or "", column.get("storage")),
                "compression": _COMPRESSION.get(column.get("compression") or "",
                                                column.get("compression")),
                "options": ", ".join(column.get("options") or []) or None}
    return text + "".join(f" SET {name.upper()} {value}" for name, value in settings.items()
                          if value is not None)


def _named(items: Any, field: str | None = None) -> dict[str, str]:
    """Columns, or a part's ``{name: definition}``, as ``{name: text}`` to compare and show."""
    if not items:
        return {}
    if isinstance(items, list):  # columns
        return {c["name"]: _render_column(c) for c in items}
    return {name: _render_part(value, field) for name, value in items.items()}


def _render_part(value: Any, field: str | None) -> str:
    if isinstance(value, str):
        return value
    if field and isinstance(value, dict) and set(value) <= {field, "comment"} \
            and not value.get("comment"):
        return str(value.get(field))
    return json.dumps(value, sort_keys=True)


_PARTS = {"columns": "column", "constraints": "constraint", "indexes": "index",
          "triggers": "trigger", "policies": "policy"}
#: How a changed property reads after its unit's kind: "view definition", not "view view".
_PROPS = {"view": "definition", "sequence": "options"}


def _not_null_column(definition: str | None) -> str | None:
    """The column a ``NOT NULL col`` constraint (named since PostgreSQL 18) stands for."""
    if definition and definition.startswith("NOT NULL "):
        return definition.removeprefix("NOT NULL ").strip('"')
    return None


def _unit_changes(key: UnitKey, old: dict[str, Any], new: dict[str, Any]) -> Iterator[Difference]:
    schema = key[1]
    table = _unit_name(key)
    columns: set[str] = set()  # changed ones: their NOT NULL constraints say nothing more
    for part, kind in _PARTS.items():
        before = _named(old.get(part), "definition")
        after = _named(new.get(part), "definition")
        for name in sorted(set(before) | set(after)):
            if before.get(name) == after.get(name):
                continue
            if kind == "column":
                columns.add(name)
            elif kind == "constraint" and _not_null_column(
                    before.get(name) or after.get(name)) in columns:
                continue
            obj = f"{schema}.{name}" if kind == "index" else f"{table}.{name}"
            change = ("added" if name not in before else "removed" if name not in after
                      else "changed")
            yield Difference(change, kind, obj, before.get(name), after.get(name))
    for prop in sorted((set(old) | set(new)) - set(_PARTS)):
        if old.get(prop) != new.get(prop):
            kind = f"{_unit_kind(key, Unit(new))} {_PROPS.get(prop, prop)}"
            yield Difference("changed", kind, table,
                             json.dumps(old.get(prop)), json.dumps(new.get(prop)))


@dataclass(frozen=True)
class Leftovers:
    """What one state has that another has not, where nothing else differs: whole ``units``
    (enum types; tables and sequences), ``parts`` (part, schema, table, name) of tables
    otherwise the same, the part one of :data:`LEFT_PARTS`; and columns whose default alone
    differs, with the default the other state has (``defaults``: schema, table, column, that
    default or None)."""

    units: frozenset[UnitKey]
    parts: frozenset[tuple[str, str, str, str]]
    defaults: frozenset[tuple[str, str, str, str | None]] = frozenset()


#: The parts of a table that can be left behind alone (``Leftovers.parts``).
LEFT_PARTS = ("columns", "indexes", "constraints", "triggers", "policies")


def leftovers(before: Snapshot, after: Snapshot) -> Leftovers | None:
    """Where ``after`` differs from ``before`` only by what it has in addition (as a downgrade
    that forgets them leaves them behind): enum types, tables, sequences, and columns, indexes,
    constraints, triggers and policies of tables, and by columns' defaults, those; else None. A
    NOT NULL constraint (PostgreSQL 18 names them) of a column in addition counts as part of
    that column."""
    units, parts, defaults = set(), set(), set()
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        kind, schema, name = key
        if old is None and new is not None and (
                (kind == "type" and new.definition.get("typtype") == "e")
                or (kind == "relation" and new.definition.get("relkind") in ("r", "p", "S"))):
            units.add(key)
            continue
        added = _added_parts(old.definition, new.definition) \
            if kind == "relation" and old is not None and new is not None else None
        if added is None:
            return None
        parts |= {(part, schema, name, item) for part, item in added[0]}
        defaults |= {(schema, name, column, was) for column, was in added[1].items()}
    return Leftovers(frozenset(units), frozenset(parts), frozenset(defaults))


def _added_parts(old: dict[str, Any], new: dict[str, Any]
                 ) -> tuple[set[tuple[str, str]], dict[str, str | None]] | None:
    """The parts (part, name) ``new`` (a table's definition) has in addition to ``old``, and
    the columns whose default alone differs (name -> ``old``'s default), where nothing else
    differs; else None."""
    if new.get("relkind") not in ("r", "p") or set(old) != set(new) or any(
            old[p] != new[p] for p in old if p not in LEFT_PARTS):
        return None
    was_columns = {c["name"]: c for c in old.get("columns") or []}
    kept = [c for c in new.get("columns") or [] if c["name"] in was_columns]
    if [c["name"] for c in kept] != list(was_columns) or any(
            {**c, "default": None} != {**was_columns[c["name"]], "default": None} for c in kept):
        return None
    defaults = {c["name"]: was_columns[c["name"]].get("default") for c in kept
                if c != was_columns[c["name"]]}
    added = {("columns", c["name"]) for c in new.get("columns") or []
             if c["name"] not in was_columns}
    columns = {name for _, name in added}
    for part in LEFT_PARTS[1:]:
        was, now = old.get(part) or {}, new.get(part) or {}
        if any(now.get(n) != d for n, d in was.items()):
            return None
        added |= {(part, n) for n, d in now.items() if n not in was
                  and not (part == "constraints" and _not_null_column(d) in columns)}
    return added, defaults


def portable(units: Snapshot) -> Snapshot:
    """The units as an ORM, or another server, or a live database gives them alike: without
    PostgreSQL 18's NOT NULL constraints, whose names say nothing here (an ORM cannot name
    them, only 18 has them; the columns' nullability says it all), and without the columns'
    planner and storage :data:`SETTINGS` (an ORM cannot set them, and they are tuned on a
    live database by hand)."""
    out = {}
    for key, unit in units.items():
        constraints = unit.definition.get("constraints") or {}
        kept = {n: d for n, d in constraints.items() if not d.startswith("NOT NULL ")}
        columns = unit.definition.get("columns")
        plain = [{k: v for k, v in c.items() if k not in SETTINGS} for c in columns] \
            if columns else columns
        out[key] = unit if kept == constraints and plain == columns else Unit(
            {**unit.definition, "constraints": kept or None, "columns": plain})
    return out


@dataclass
class Catalog:
    """The schema as it stands, kept current step by step from what each step touched."""

    units: Snapshot = field(default_factory=dict)
    #: How often units of each kind were touched: what was read of one kind at a version
    #: holds while it stays.
    versions: dict[str, int] = field(default_factory=dict)

    def apply(self, keys: set[UnitKey] | None, units: Snapshot) -> dict[UnitKey, Unit | None]:
        """Take ``units`` as the state of ``keys`` (of every unit when None); returns what
        those keys held before."""
        for kind in KINDS if keys is None else {kind for kind, _, _ in keys}:
            self.versions[kind] = self.versions.get(kind, 0) + 1
        changed = set(self.units) | set(units) if keys is None else keys
        previous = {k: self.units.get(k) for k in changed}
        for key in changed:
            unit = units.get(key)
            if unit is None:
                self.units.pop(key, None)
            else:
                self.units[key] = unit
        return previous

    def before(self, previous: dict[UnitKey, Unit | None],
               keys: set[UnitKey] | None) -> Snapshot:
        """The schema before a step, over ``keys`` (all when None), from ``previous``: what
        :meth:`apply` returned for that step."""
        wanted = set(self.units) | set(previous) if keys is None else keys
        out: Snapshot = {}
        for key in wanted:
            unit = previous[key] if key in previous else self.units.get(key)
            if unit is not None:
                out[key] = unit
        return out

    def now(self, keys: set[UnitKey] | None, read: Snapshot,
            read_keys: set[UnitKey] | None) -> Snapshot:
        """The units of ``keys`` (all when None) as they stand after a read of ``read_keys``:
        those the read covered as it found them, the others as the catalog holds them."""
        if read_keys is None:
            return read
        wanted = set(self.units) | read_keys if keys is None else keys
        out = {}
        for key in wanted:
            unit = read.get(key) if key in read_keys else self.units.get(key)
            if unit is not None:
                out[key] = unit
        return out

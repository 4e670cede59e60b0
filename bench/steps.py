"""The kinds of revision a synthetic history is made of, each with its exact downgrade.

A step reads the current schema, changes it, and returns the code of ``upgrade()`` and
``downgrade()``; it returns None when the schema offers nothing to apply it to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from bench.schema import (
    ARITHMETIC,
    SCHEMAS,
    TYPES,
    Column,
    ColumnType,
    EnumType,
    ForeignKey,
    Index,
    Schema,
    Table,
)

TABLE_WORDS = ("orders", "users", "events", "items", "accounts", "invoices", "devices",
               "reports", "projects", "samples")
LABELS = ("new", "active", "paused", "done", "failed", "archived", "unknown")
#: A table takes no more columns than this; steps then create a new one.
MAX_COLUMNS = 16
#: Rows a data migration inserts at once, and a table's most.
ROWS_PER_INSERT = 3
MAX_ROWS = 30


@dataclass
class Step:
    """One revision's message and code; ``forgettable`` is the downgrade line that a broken
    downgrade leaves out (it drops a column the upgrade created)."""

    message: str
    upgrade: list[str]
    downgrade: list[str]
    forgettable: int | None = None


def _in(table: Table) -> str:
    return f"{table.name!r}, schema={table.schema!r}"


def _drop_index(index: Index, table: Table) -> str:
    return f"op.drop_index({index.name!r}, table_name={_in(table)})"


def _create_index(index: Index, table: Table) -> str:
    return (f"op.create_index({index.name!r}, {table.name!r}, [{index.column.name!r}], "
            f"schema={table.schema!r}{index.kwargs})")


def _random_type(rng: Random) -> ColumnType:
    kind = rng.choice(list(TYPES))
    if kind == "varchar":
        return ColumnType(kind, rng.choice((16, 32, 64, 128)))
    if kind == "numeric":
        return ColumnType(kind, rng.choice((10, 12)), 2)
    return ColumnType(kind)


def _random_column(schema: Schema, rng: Random, *, new_table: bool) -> Column:
    """A nullable column; in a new table, booleans and timestamps may be NOT NULL with a default."""
    column_type = _random_type(rng)
    column = Column(schema.fresh(column_type.word), column_type)
    defaults = {"boolean": "false", "timestamptz": "now()"}
    if new_table and column_type.kind in defaults and rng.random() < 0.5:
        column.nullable, column.default = False, defaults[column_type.kind]
    return column


def create_schema(schema: Schema, rng: Random) -> Step:
    """The second schema; always the first revision."""
    name = SCHEMAS[1]
    return Step(f"create schema {name}", [f"op.execute(sa.schema.CreateSchema({name!r}))"],
                [f"op.execute(sa.schema.DropSchema({name!r}))"])


def _link(schema: Schema, table: Table, target: Table) -> tuple[Column, ForeignKey, Index]:
    """A new column of ``table`` referencing ``target``, its foreign key and its index."""
    column = Column(schema.fresh("ref"), ColumnType("bigint"))
    fk = ForeignKey(f"fk_{table.name}_{column.name}", column, target)
    table.columns.append(column)
    table.foreign_keys.append(fk)
    return column, fk, table.add_index(column)


def create_table(schema: Schema, rng: Random) -> Step:
    """A table of 2 to 5 random columns, sometimes with a foreign key to an older table."""
    table = Table(rng.choice(SCHEMAS), schema.fresh(rng.choice(TABLE_WORDS)),
                  [Column("id", ColumnType("bigint"), nullable=False, primary_key=True)])
    table.columns += [_random_column(schema, rng, new_table=True)
                      for _ in range(rng.randint(2, 5))]
    extra: list[str] = []
    index = None
    if schema.tables and rng.random() < 0.4:
        target = rng.choice(schema.tables)
        column, fk, index = _link(schema, table, target)
        extra.append(f"sa.ForeignKeyConstraint([{column.name!r}], [{target.target!r}], "
                     f"name={fk.name!r}),")
    body = [f"    {c.code}," for c in table.columns] + [f"    {e}" for e in extra]
    up = [f"op.create_table({table.name!r},", *body, f"    schema={table.schema!r},", ")"]
    down = [f"op.drop_table({_in(table)})"]
    if index:
        up.append(_create_index(index, table))
        down.insert(0, _drop_index(index, table))
    schema.tables.append(table)
    return Step(f"create table {table.name}", up, down)


def _table_with_room(schema: Schema, rng: Random) -> Table | None:
    roomy = [t for t in schema.tables if len(t.columns) < MAX_COLUMNS]
    return rng.choice(roomy) if roomy else None


def add_column(schema: Schema, rng: Random, *, indexed: bool | None = None) -> Step | None:
    """A nullable column on an existing table, with an index one time in three."""
    table = _table_with_room(schema, rng)
    if table is None:
        return None
    column = _random_column(schema, rng, new_table=False)
    table.columns.append(column)
    up = [f"op.add_column({table.name!r}, {column.code}, schema={table.schema!r})"]
    down = [f"op.drop_column({_in(table)}, column_name={column.name!r})"]
    if indexed if indexed is not None else rng.random() < 1 / 3:
        index = table.add_index(column)
        up.append(_create_index(index, table))
        down.insert(0, _drop_index(index, table))
    return Step(f"add {column.name} to {table.name}", up, down, forgettable=len(down) - 1)


def add_indexed_column(schema: Schema, rng: Random) -> Step | None:
    """A column with an index: the revision a broken downgrade forgets half of."""
    return add_column(schema, rng, indexed=True)


def create_index(schema: Schema, rng: Random) -> Step | None:
    """An index (B-tree, or GIN for jsonb and arrays) on a column that has none."""
    candidates = [(t, c) for t in schema.tables for c in t.plain_columns()]
    if not candidates:
        return None
    table, column = rng.choice(candidates)
    index = table.add_index(column)
    return Step(f"index {column.name} of {table.name}", [_create_index(index, table)],
                [_drop_index(index, table)])


def add_foreign_key(schema: Schema, rng: Random) -> Step | None:
    """A column referencing another table's id, its foreign key and an index on it."""
    table = _table_with_room(schema, rng)
    if table is None:
        return None
    targets = schema.tables[:schema.tables.index(table)]  # older tables: no cycles
    if not targets:
        return None
    target = rng.choice(targets)
    column, fk, index = _link(schema, table, target)
    up = [f"op.add_column({table.name!r}, {column.code}, schema={table.schema!r})",
          f"op.create_foreign_key({fk.name!r}, {table.name!r}, {target.name!r}, "
          f"[{column.name!r}], ['id'], source_schema={table.schema!r}, "
          f"referent_schema={target.schema!r})",
          _create_index(index, table)]
    down = [_drop_index(index, table),
            f"op.drop_constraint({fk.name!r}, {_in(table)}, type_='foreignkey')",
            f"op.drop_column({_in(table)}, column_name={column.name!r})"]
    return Step(f"link {table.name} to {target.name}", up, down)


def add_enum_column(schema: Schema, rng: Random) -> Step | None:
    """A new enum type and a column of it."""
    table = _table_with_room(schema, rng)
    if table is None:
        return None
    labels = tuple(rng.sample(LABELS[:-1], rng.randint(2, 4)))
    enum = EnumType(table.schema, schema.fresh("kind"), labels)
    column = Column(schema.fresh("status"), enum)
    table.columns.append(column)
    quoted = ", ".join(f"'{label}'" for label in labels)
    up = [f'op.execute("CREATE TYPE {enum.qualified} AS ENUM ({quoted})")',
          f"op.add_column({table.name!r}, {column.code}, schema={table.schema!r})"]
    down = [f"op.drop_column({_in(table)}, column_name={column.name!r})",
            f'op.execute("DROP TYPE {enum.qualified}")']
    return Step(f"add enum {enum.name} to {table.name}", up, down)


def _enum_columns(schema: Schema) -> list[tuple[Table, Column, EnumType]]:
    return [(t, c, c.type) for t in schema.tables for c in t.columns
            if isinstance(c.type, EnumType)]


def _retype(table: Table, column: Column, enum: EnumType, labels: tuple[str, ...]) -> list[str]:
    """Swap an enum for one with ``labels`` (ADD VALUE cannot run in a transaction)."""
    quoted = ", ".join(f"'{label}'" for label in labels)
    return [f'op.execute("ALTER TYPE {enum.qualified} RENAME TO {enum.name}_old")',
            f'op.execute("CREATE TYPE {enum.qualified} AS ENUM ({quoted})")',
            f'op.execute("ALTER TABLE {table.qualified} ALTER COLUMN {column.name} '
            f'TYPE {enum.qualified} USING {column.name}::text::{enum.qualified}")',
            f'op.execute("DROP TYPE {enum.schema}.{enum.name}_old")']


def add_enum_label(schema: Schema, rng: Random) -> Step | None:
    """One more label on an enum, by swapping the type as the reference project does."""
    candidates = [e for e in _enum_columns(schema) if e[2].labels[-1] != LABELS[-1]]
    if not candidates:
        return None
    table, column, enum = rng.choice(candidates)
    old = enum.labels
    enum.labels = (*old, next(label for label in LABELS if label not in old))
    return Step(f"add {enum.labels[-1]} to {enum.name}", _retype(table, column, enum, enum.labels),
                _retype(table, column, enum, old))


def change_type(schema: Schema, rng: Random) -> Step | None:
    """Widen a column: integer to bigint, a longer varchar, a larger numeric."""
    candidates = [(t, c) for t in schema.tables for c in t.columns[1:]
                  if isinstance(c.type, ColumnType) and c.type.widened()
                  and not t.is_reference(c)]
    if not candidates:
        return None
    table, column = rng.choice(candidates)
    old = column.type
    assert isinstance(old, ColumnType)
    new = old.widened()
    assert new is not None
    column.type = new

    def alter(to: ColumnType, was: ColumnType) -> str:
        return (f"op.alter_column({_in(table)}, column_name={column.name!r}, type_={to.code}, "
                f"existing_type={was.code}, existing_nullable={column.nullable})")

    return Step(f"widen {column.name} of {table.name}", [alter(new, old)], [alter(old, new)])


def rename_column(schema: Schema, rng: Random) -> Step | None:
    """Rename a nullable column (NOT NULL ones carry a named constraint on PostgreSQL 18)."""
    candidates = [(t, c) for t in schema.tables for c in t.columns[1:] if c.nullable]
    if not candidates:
        return None
    table, column = rng.choice(candidates)
    old, column.name = column.name, schema.fresh(column.name.rsplit("_", 1)[0])

    def rename(a: str, b: str) -> str:
        return f"op.alter_column({_in(table)}, column_name={a!r}, new_column_name={b!r})"

    return Step(f"rename {old} to {column.name}", [rename(old, column.name)],
                [rename(column.name, old)])


def _rename_constraints(table: Table, old: str, new: str) -> list[str]:
    """Rename the constraints named after the table (its primary key, and on PostgreSQL 18 its
    NOT NULL constraints), as the reference project's revision 10 does for a column."""
    return ['op.execute("""',
            "    DO $$",
            "    DECLARE c record;",
            "    BEGIN",
            "        FOR c IN SELECT conname FROM pg_constraint",
            f"                 WHERE conrelid = '{table.qualified}'::regclass",
            f"                   AND left(conname, {len(old) + 1}) = '{old}_'",
            "        LOOP",
            f"            EXECUTE 'ALTER TABLE {table.qualified} RENAME CONSTRAINT '",
            "                || quote_ident(c.conname) || ' TO '",
            f"                || quote_ident('{new}' || substr(c.conname, {len(old) + 1}));",
            "        END LOOP;",
            "    END",
            "    $$",
            '""")']


def rename_table(schema: Schema, rng: Random) -> Step | None:
    """Rename a table and the constraints named after it; foreign keys to it follow.

    Tables other tables reference are left alone unless ``schema.rename_referenced``: the round
    trip of dbci as of this writing compares the referencing tables' foreign keys with their
    text from before the rename, and reports their next revisions.
    """
    referenced = {id(f.target) for t in schema.tables for f in t.foreign_keys}
    candidates = [t for t in schema.tables
                  if schema.rename_referenced or id(t) not in referenced]
    if not candidates:
        return None
    table = rng.choice(candidates)
    old, new = table.name, schema.fresh(table.name.rsplit("_", 1)[0])

    def rename(a: str, b: str) -> str:
        return f"op.rename_table({a!r}, {b!r}, schema={table.schema!r})"

    up = [rename(old, new)]
    table.name = new
    up += _rename_constraints(table, old, new)
    down = [*_rename_constraints(table, new, old), rename(new, old)]
    return Step(f"rename table {old} to {new}", up, down)


def insert_rows(schema: Schema, rng: Random) -> Step | None:
    """A data migration: a few rows into a table, deleted again on the way down."""
    candidates = [t for t in schema.tables if t.rows + ROWS_PER_INSERT <= MAX_ROWS]
    if not candidates:
        return None
    table = rng.choice(candidates)
    first, last = table.rows + 1, table.rows + ROWS_PER_INSERT
    table.rows = last
    columns = [c for c in table.columns if not table.is_reference(c)]
    names = ", ".join(c.name for c in columns)
    values = ", ".join("(" + ", ".join(str(row) if c.primary_key else c.type.sample(row)
                                       for c in columns) + ")"
                       for row in range(first, last + 1))
    return Step(f"seed rows of {table.name}",
                [f'op.execute("""INSERT INTO {table.qualified} ({names}) VALUES {values}""")'],
                [f'op.execute("DELETE FROM {table.qualified} WHERE id BETWEEN {first} AND '
                 f'{last}")'])


def update_rows(schema: Schema, rng: Random) -> Step | None:
    """A data migration that shifts a number column of existing rows, and back."""
    candidates = [(t, c) for t in schema.tables if t.rows for c in t.columns[1:]
                  if isinstance(c.type, ColumnType) and c.type.kind in ARITHMETIC
                  and not t.is_reference(c)]
    if not candidates:
        return None
    table, column = rng.choice(candidates)

    def shift(sign: str) -> str:
        return (f'op.execute("UPDATE {table.qualified} SET {column.name} = {column.name} '
                f'{sign} 7")')

    return Step(f"shift {column.name} of {table.name}", [shift("+")], [shift("-")])


StepKind = Callable[[Schema, Random], Step | None]

#: Every step after the first, with its weight in a history.
WEIGHTED: tuple[tuple[StepKind, int], ...] = (
    (create_table, 14),
    (add_column, 24),
    (create_index, 10),
    (add_foreign_key, 8),
    (add_enum_column, 6),
    (add_enum_label, 3),
    (change_type, 10),
    (rename_column, 7),
    (rename_table, 3),
    (insert_rows, 8),
    (update_rows, 7),
)


def next_step(schema: Schema, rng: Random, tour: list[StepKind]) -> Step:
    """A new table while there are too few to work on; then each kind of ``tour`` once, in
    order (so that short histories hold every kind); then kinds drawn by weight."""
    if len(schema.tables) < 2:
        return create_table(schema, rng)
    while tour:
        step = tour.pop(0)(schema, rng)
        if step is not None:
            return step
    kinds = [kind for kind, _ in WEIGHTED]
    weights = [weight for _, weight in WEIGHTED]
    while True:
        step = rng.choices(kinds, weights)[0](schema, rng)
        if step is not None:
            return step

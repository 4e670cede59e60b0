"""The generated project's ORM module: declarative models of the schema at head."""

from __future__ import annotations

from bench.schema import SCHEMAS, Column, ColumnType, EnumType, Schema, Table

HEADER = '''"""ORM of a generated bench project: the schema at the head of its migrations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the generated models."""
'''


def _orm_schema(schema: str) -> str | None:
    """Tables in ``public`` are declared without a schema, as autogenerate reflects them."""
    return None if schema == SCHEMAS[0] else schema


def _target(table: Table) -> str:
    schema = _orm_schema(table.schema)
    return f"{schema}.{table.name}.id" if schema else f"{table.name}.id"


def _type(column_type: ColumnType | EnumType) -> str:
    """The column type as the ORM declares it: enum types are the ORM's to create."""
    if isinstance(column_type, ColumnType):
        return column_type.code
    labels = ", ".join(repr(label) for label in column_type.labels)
    return (f"sa.Enum({labels}, name={column_type.name!r}, "
            f"schema={_orm_schema(column_type.schema)!r})")


def _table_args(table: Table, missing: Column | None) -> list[str]:
    args = [f"sa.Index({i.name!r}, {i.column.name!r}{i.kwargs})," for i in table.indexes]
    args += [f"sa.ForeignKeyConstraint([{f.column.name!r}], [{_target(f.target)!r}], "
             f"name={f.name!r})," for f in table.foreign_keys]
    schema = _orm_schema(table.schema)
    if schema:
        args.append(f"{{'schema': {schema!r}}},")
    return args


def _class(table: Table, missing: Column | None) -> str:
    name = "".join(part.capitalize() for part in table.name.split("_"))
    lines = ["", "", f"class {name}(Base):", f'    """{table.qualified} at head."""', "",
             f"    __tablename__ = {table.name!r}"]
    args = _table_args(table, missing)
    if args:
        lines += ["    __table_args__ = (", *(f"        {a}" for a in args), "    )"]
    lines.append("")
    lines += [f"    {c.name} = mapped_column({c.name!r}, {_type(c.type)}{c.options})"
              for c in table.columns if c is not missing]
    return "\n".join(lines) + "\n"


def orm_source(schema: Schema, missing: Column | None = None) -> str:
    """The module text; ``missing`` is a column the models leave out (ORM drift)."""
    return HEADER + "".join(_class(t, missing) for t in schema.tables)


def drifting_column(schema: Schema) -> tuple[Table, Column]:
    """The column a drifted ORM leaves out: the last plain column of the first table with one."""
    for table in schema.tables:
        plain = table.plain_columns()
        if plain:
            return table, plain[-1]
    raise ValueError("no table has a column the ORM could leave out; generate more revisions")

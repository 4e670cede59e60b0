"""The schema a synthetic history builds, kept current revision by revision.

Objects hold each other (an index holds its column, a foreign key its target table), so a
rename is one assignment and every later revision and the ORM at head use the new name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

#: The two schemas tables go to; env.py (copied from the reference project) lists both.
SCHEMAS = ("public", "persistence_schema")

#: kind -> (column name word, SQLAlchemy expression, SQL expression of a sample value for row
#: number {i}).
TYPES: dict[str, tuple[str, str, str]] = {
    "integer": ("count", "sa.Integer()", "{i}"),
    "bigint": ("total", "sa.BigInteger()", "{i}000"),
    "text": ("note", "sa.Text()", "'row {i}'"),
    "varchar": ("label", "sa.String({length})", "'r{i}'"),
    "numeric": ("amount", "sa.Numeric({length}, {scale})", "{i}.25"),
    "boolean": ("flag", "sa.Boolean()", "true"),
    "timestamptz": ("seen_at", "sa.DateTime(timezone=True)",
                    "timestamptz '2024-01-01 12:00+00' + {i} * interval '1 hour'"),
    "date": ("born_on", "sa.Date()", "date '2024-02-01' + {i}"),
    "jsonb": ("payload", "postgresql.JSONB()", "'{{\"n\": {i}}}'"),
    "uuid": ("token", "sa.Uuid()", "'00000000-0000-4000-8000-{i:012d}'"),
    "integer[]": ("scores", "postgresql.ARRAY(sa.Integer())", "'{{{i},2}}'"),
    "text[]": ("tags", "postgresql.ARRAY(sa.Text())", "'{{a,r{i}}}'"),
}
#: Types with a GIN index rather than a B-tree.
GIN = {"jsonb", "integer[]", "text[]"}
#: Types a data migration can shift and shift back exactly.
ARITHMETIC = {"integer", "bigint", "numeric"}


@dataclass(frozen=True)
class ColumnType:
    """A column type: its kind and, for varchar and numeric, length (precision) and scale."""

    kind: str
    length: int = 0
    scale: int = 0

    @property
    def code(self) -> str:
        """The SQLAlchemy expression, as generated code writes it."""
        return TYPES[self.kind][1].format(length=self.length, scale=self.scale)

    def sample(self, row: int) -> str:
        """An SQL expression of a value for row number ``row``."""
        return TYPES[self.kind][2].format(i=row)

    @property
    def word(self) -> str:
        """What columns of this type are called."""
        return TYPES[self.kind][0]

    def widened(self) -> ColumnType | None:
        """The wider type a type-change revision moves it to; its downgrade moves it back."""
        if self.kind == "integer":
            return ColumnType("bigint")
        if self.kind == "varchar" and self.length <= 256:
            return replace(self, length=self.length * 2)
        if self.kind == "numeric" and self.length <= 30:
            return replace(self, length=self.length + 4)
        return None


@dataclass(eq=False)
class EnumType:
    """A PostgreSQL enum type; one column uses it."""

    schema: str
    name: str
    labels: tuple[str, ...]

    @property
    def qualified(self) -> str:
        """``schema.name`` as SQL names it."""
        return f"{self.schema}.{self.name}"

    @property
    def code(self) -> str:
        """A ``postgresql.ENUM`` that names the existing type without creating it."""
        labels = ", ".join(repr(label) for label in self.labels)
        return (f"postgresql.ENUM({labels}, name={self.name!r}, schema={self.schema!r}, "
                "create_type=False)")

    def sample(self, row: int) -> str:
        """One of the labels, as an SQL literal."""
        return f"'{self.labels[row % len(self.labels)]}'"


@dataclass(eq=False)
class Column:
    """A column; ``default`` is SQL text for a server default."""

    name: str
    type: ColumnType | EnumType
    nullable: bool = True
    default: str | None = None
    primary_key: bool = False

    @property
    def code(self) -> str:
        """``sa.Column(...)`` as a migration writes it."""
        return f"sa.Column({self.name!r}, {self.type.code}{self.options})"

    @property
    def options(self) -> str:
        """The keyword arguments after the type: nullability and server default."""
        text = ", primary_key=True, autoincrement=False" if self.primary_key else ""
        text += f", nullable={self.nullable}"
        if self.default is not None:
            text += f", server_default=sa.text({self.default!r})"
        return text


@dataclass(eq=False)
class Index:
    """A single-column index: B-tree, or GIN for jsonb and arrays."""

    name: str
    column: Column

    @property
    def kwargs(self) -> str:
        """The extra arguments of ``op.create_index`` and ``sa.Index``."""
        kind = self.column.type.kind if isinstance(self.column.type, ColumnType) else ""
        return ', postgresql_using="gin"' if kind in GIN else ""


@dataclass(eq=False)
class ForeignKey:
    """A named foreign key from one column to a table's ``id``."""

    name: str
    column: Column
    target: Table


@dataclass(eq=False)
class Table:
    """A table with a ``bigint`` primary key ``id`` that data migrations fill by hand."""

    schema: str
    name: str
    columns: list[Column]
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    rows: int = 0

    @property
    def qualified(self) -> str:
        """``schema.name`` as SQL names it (the generated names need no quotes)."""
        return f"{self.schema}.{self.name}"

    @property
    def target(self) -> str:
        """How a foreign key names this table's ``id``."""
        return f"{self.qualified}.id"

    def add_index(self, column: Column) -> Index:
        """A new index ``ix_<table>_<column>`` on one of its columns."""
        index = Index(f"ix_{self.name}_{column.name}", column)
        self.indexes.append(index)
        return index

    def is_reference(self, column: Column) -> bool:
        """Whether a foreign key of this table uses ``column``."""
        return any(f.column is column for f in self.foreign_keys)

    def plain_columns(self) -> list[Column]:
        """Columns other than ``id`` that no index or foreign key uses."""
        used = {id(i.column) for i in self.indexes} | {id(f.column) for f in self.foreign_keys}
        return [c for c in self.columns[1:] if id(c) not in used]


@dataclass
class Schema:
    """Every table the history has created so far, and a counter for fresh names.

    ``rename_referenced`` lets table renames pick tables that foreign keys point at.
    """

    tables: list[Table] = field(default_factory=list)
    serial: int = 0
    rename_referenced: bool = False

    def fresh(self, word: str) -> str:
        """A name no object has had: ``word_<n>``."""
        self.serial += 1
        return f"{word}_{self.serial}"

"""Real-shaped Alembic histories: what teams' histories hold, defects and all.

Tables in two schemas with foreign keys, indexes and enums made by ``create_table``; data
backfills and bulk inserts; revisions that commit themselves (``op.get_bind().commit()``,
``autocommit_block`` with CONCURRENTLY indexes) at and across every 100-revision commit
boundary and the round trip's split; branches merged by a merge revision; irreversible
revisions; downgrades that raise or forget things (an enum, an index, a column, rows, a
default). Unless the history is ``safe``, the last revision (or ``fail_at``) creates an index
CONCURRENTLY outside an autocommit block, which PostgreSQL refuses inside a transaction. The
same seed gives the same history. Each revision's intended verdict is recorded for people and
tests to read; the oracle (:mod:`bench.oracle`) never reads it.

    python -m bench.realistic OUT --revisions 110 [--seed 1] [--safe | --fail-at K] [--no-commits]
        [--defect-rate R]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from bench.generate import COPIED, REPO, Project, write_revision
from ci.roundtrip.engine import COMMIT_EVERY
from ci.roundtrip.workers import FIRST_SHARE

SCHEMAS = ("public", "persistence_schema")
WORDS = ("users", "orders", "invoices", "datasets", "collections", "samples", "assays",
         "devices", "projects", "uploads", "reports", "accounts")
LABELS = ("draft", "active", "paused", "done", "failed", "archived")
ORM = '''"""ORM of a real-shaped bench project (the round trip does not read it)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base, no models."""
'''


@dataclass(eq=False)
class Table:
    """A table as the history left it: its integer columns, text columns, seeded row ids."""

    schema: str
    name: str
    numbers: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    defaulted: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        """The arguments naming it in ``op`` calls."""
        return f"{self.name!r}, schema={self.schema!r}"

    @property
    def sql(self) -> str:
        """Its qualified name in SQL."""
        return f"{self.schema}.{self.name}"


@dataclass
class Revision:
    """One revision's code, its parents (indexes into the history) and its intended verdict."""

    message: str
    upgrade: list[str]
    downgrade: list[str]
    intent: str = "passed"
    parents: tuple[int, ...] = ()


@dataclass
class History:
    """The schema so far (tables per lane: a branch touches only its own) and fresh names."""

    rng: Random
    lanes: dict[int, list[Table]] = field(default_factory=lambda: {0: []})
    counter: int = 0
    rows: int = 0

    def fresh(self, word: str) -> str:
        """A name no other object has."""
        self.counter += 1
        return f"{word}_{self.counter}"

    def tables(self, lane: int) -> list[Table]:
        """The tables a lane may touch."""
        return self.lanes[lane]

    def pick(self, lane: int, test: Callable[[Table], bool] = lambda t: True) -> Table | None:
        """A random table of the lane passing ``test``, or None."""
        fits = [t for t in self.tables(lane) if test(t)]
        return self.rng.choice(fits) if fits else None


def _index(name: str, table: Table, column: str, concurrently: bool = False) -> str:
    extra = ", postgresql_concurrently=True" if concurrently else ""
    return (f"op.create_index({name!r}, {table.name!r}, [{column!r}], "
            f"schema={table.schema!r}{extra})")


def _drop_index(name: str, table: Table, concurrently: bool = False) -> str:
    extra = ", postgresql_concurrently=True" if concurrently else ""
    return f"op.drop_index({name!r}, table_name={table.where}{extra})"


def create_table(h: History, lane: int, forget_enum: bool = False) -> Revision:
    """A table with a number and a text column, perhaps an enum (made by create_table) and a
    foreign key to an older table with its index."""
    table = Table(h.rng.choice(SCHEMAS), h.fresh(h.rng.choice(WORDS)))
    table.numbers.append(h.fresh("count"))
    table.texts.append(h.fresh("note"))
    body = ["    sa.Column('id', sa.BigInteger(), primary_key=True),",
            f"    sa.Column({table.numbers[0]!r}, sa.Integer(), nullable=True),",
            f"    sa.Column({table.texts[0]!r}, sa.Text(), nullable=True),"]
    up_after: list[str] = []
    enum = forget_enum or h.rng.random() < 0.3
    if enum:
        table.schema = "public"  # an enum left behind must not hold its schema's drop back
    down = [f"op.drop_table({table.where})"]
    if enum:
        kind = h.fresh("status")
        labels = ", ".join(repr(label) for label in h.rng.sample(LABELS, 3))
        body.append(f"    sa.Column('status', sa.Enum({labels}, name={kind!r}), "
                    "nullable=True),")
        if not forget_enum:
            down.append(f'op.execute("DROP TYPE {kind}")')
    target = h.pick(lane)
    if target is not None and h.rng.random() < 0.6:
        ref, index = h.fresh(f"{target.name}_id"), h.fresh("ix")
        body += [f"    sa.Column({ref!r}, sa.BigInteger(), nullable=True),",
                 f"    sa.ForeignKeyConstraint([{ref!r}], ['{target.sql}.id'], "
                 f"name={h.fresh('fk')!r}),"]
        up_after.append(_index(index, table, ref))
        down.insert(0, _drop_index(index, table))
    up = [f"op.create_table({table.name!r},", *body, f"    schema={table.schema!r},", ")",
          *up_after]
    h.tables(lane).append(table)
    return Revision(f"create table {table.name}", up, down,
                    "leaves" if forget_enum else "passed")


def add_column(h: History, lane: int) -> Revision | None:
    """A nullable column, perhaps with a default."""
    table = h.pick(lane)
    if table is None:
        return None
    name = h.fresh("count")
    default = ", server_default='0'" if h.rng.random() < 0.4 else ""
    table.numbers.append(name)
    return Revision(f"add {name} to {table.name}",
                    [f"op.add_column({table.name!r}, sa.Column({name!r}, sa.Integer(), "
                     f"nullable=True{default}), schema={table.schema!r})"],
                    [f"op.drop_column({table.name!r}, {name!r}, schema={table.schema!r})"])


def add_index(h: History, lane: int) -> Revision | None:
    """An index on a text column."""
    table = h.pick(lane)
    if table is None:
        return None
    name = h.fresh("ix")
    return Revision(f"index {table.name}", [_index(name, table, h.rng.choice(table.texts))],
                    [_drop_index(name, table)])


def seed_rows(h: History, lane: int, table: Table | None = None) -> Revision | None:
    """A bulk insert of three rows; the downgrade deletes them by id."""
    table = table or h.pick(lane)
    if table is None:
        return None
    ids = [h.rows + i for i in (1, 2, 3)]
    h.rows += 3
    table.rows += ids
    number, text = table.numbers[0], table.texts[0]
    rows = ", ".join(f"{{'id': {i}, {number!r}: {i % 7}, {text!r}: 'Row {i}'}}" for i in ids)
    return Revision(
        f"seed {table.name}",
        [f"rows = sa.table({table.name!r}, sa.column('id'), sa.column({number!r}), "
         f"sa.column({text!r}), schema={table.schema!r})", f"op.bulk_insert(rows, [{rows}])"],
        [f'op.execute("DELETE FROM {table.sql} WHERE id IN ({", ".join(map(str, ids))})")'])


def backfill(h: History, lane: int) -> Revision | None:
    """An UPDATE shifting a number column; the downgrade shifts it back."""
    table = h.pick(lane, lambda t: bool(t.rows))
    if table is None:
        return None
    column, by = h.rng.choice(table.numbers), h.rng.randint(1, 9)
    return Revision(f"backfill {table.name}",
                    [f'op.execute("UPDATE {table.sql} SET {column} = {column} + {by}")'],
                    [f'op.execute("UPDATE {table.sql} SET {column} = {column} - {by}")'])


def self_commit(h: History, lane: int) -> Revision | None:
    """A column committed on its own before a backfill fills it (``.commit()``). Its upgrade
    fails: ``alembic upgrade`` exits 0, but Alembic's transaction ended at the commit, so the
    backfill and the version stamp after it are rolled back when env.py's connection closes."""
    table = h.pick(lane)
    if table is None:
        return None
    name = h.fresh("count")
    table.numbers.append(name)
    return Revision(f"add and fill {name}",
                    [f"op.add_column({table.name!r}, sa.Column({name!r}, sa.Integer(), "
                     f"nullable=True), schema={table.schema!r})",
                     "op.get_bind().commit()  # the column is live before the long backfill",
                     f'op.execute("UPDATE {table.sql} SET {name} = id")'],
                    [f"op.drop_column({table.name!r}, {name!r}, schema={table.schema!r})"],
                    "upgrade-fails")


def concurrent_index(h: History, lane: int, block: bool = True) -> Revision | None:
    """An index made CONCURRENTLY inside an autocommit block (outside one the upgrade fails)."""
    table = h.pick(lane)
    if table is None:
        return None
    name = h.fresh("ix")
    column = h.rng.choice(table.numbers)
    if not block:
        return Revision(f"index {table.name} concurrently",
                        [_index(name, table, column, concurrently=True)],
                        [_drop_index(name, table, concurrently=True)], "upgrade-fails")
    within = "with op.get_context().autocommit_block():"
    return Revision(f"index {table.name} concurrently",
                    [within, "    " + _index(name, table, column, concurrently=True)],
                    [within, "    " + _drop_index(name, table, concurrently=True)])


def irreversible(h: History, lane: int, raises: bool) -> Revision | None:
    """A lossy backfill (lower-casing text), marked irreversible by a comment or by a raise."""
    table = h.pick(lane, lambda t: bool(t.rows))
    if table is None:
        return None
    column = h.rng.choice(table.texts)
    down = (['raise NotImplementedError("the old case of the notes is gone")'] if raises else
            ["# dbci: irreversible -- the old case of the notes is gone", "pass"])
    return Revision(f"lower-case {table.name} notes",
                    [f'op.execute("UPDATE {table.sql} SET {column} = lower({column})")'], down,
                    "skipped")


def raising_downgrade(h: History, lane: int) -> Revision | None:
    """A downgrade that raises on purpose (not NotImplementedError): it fails."""
    step = add_column(h, lane)
    if step is None:
        return None
    step.downgrade = ['raise RuntimeError("restore the backup taken before this revision")']
    step.intent = "downgrade-fails"
    return step


def forget_index(h: History, lane: int) -> Revision | None:
    """A column and an index on another column; the downgrade drops the column only."""
    step = add_column(h, lane)
    table = h.pick(lane, lambda t: bool(t.texts))
    if step is None or table is None:
        return None
    name = h.fresh("ix")
    step.upgrade.append(_index(name, table, table.texts[0]))
    step.intent = "leaves"
    return step


def forget_column(h: History, lane: int) -> Revision | None:
    """Two columns; the downgrade drops the first only."""
    step = add_column(h, lane)
    table = h.pick(lane)
    if step is None or table is None:
        return None
    name = h.fresh("note")
    table.texts.append(name)
    step.upgrade.append(f"op.add_column({table.name!r}, sa.Column({name!r}, sa.Text()), "
                        f"schema={table.schema!r})")
    step.intent = "leaves"
    return step


def delete_rows(h: History, lane: int) -> Revision | None:
    """Rows added to a seeded table; the downgrade deletes every row, the older ones too."""
    table = h.pick(lane, lambda t: bool(t.rows))
    step = seed_rows(h, lane, table) if table is not None else None
    if table is None or step is None:
        return None
    step.downgrade = [f'op.execute("DELETE FROM {table.sql}")']
    step.intent = "changes-rows"
    return step


def change_default(h: History, lane: int) -> Revision | None:
    """A default set on a number column that had none; the downgrade sets another instead of
    dropping it."""
    table = h.pick(lane, lambda t: t.numbers[0] not in t.defaulted)
    if table is None:
        return None
    column = table.numbers[0]
    table.defaulted.add(column)
    alter = f"op.alter_column({table.name!r}, {column!r}, schema={table.schema!r}, "
    return Revision(f"default {column}", [alter + "server_default='1')"],
                    [alter + "server_default='0')"], "changes")


#: Revisions that commit; a safe history has no ``.commit()`` (plain ``alembic upgrade``
#: refuses it: "This transaction is inactive").
COMMITTING: tuple[Callable[[History, int], Revision | None], ...] = (self_commit,
                                                                    concurrent_index)
NORMAL: tuple[tuple[Callable[[History, int], Revision | None], float], ...] = (
    (add_column, 2), (add_index, 2), (seed_rows, 2), (backfill, 2),
    (lambda h, lane: irreversible(h, lane, raises=False), 0.3))
#: Defects a history for timing keeps: ``alembic downgrade base`` still runs through them.
SAFE_DEFECTS: tuple[Callable[[History, int], Revision | None], ...] = (
    lambda h, lane: create_table(h, lane, forget_enum=True), forget_index, forget_column,
    delete_rows, change_default)
DEFECTS: tuple[Callable[[History, int], Revision | None], ...] = (
    *SAFE_DEFECTS, raising_downgrade, lambda h, lane: irreversible(h, lane, raises=True))
#: Share of revisions with a defect; tables are made until there are this many.
DEFECT_RATE = 0.15
TABLES = 45


def commit_boundaries(count: int) -> set[int]:
    """Revision numbers at and next to the round trip's commits: every COMMIT_EVERY revisions
    of either worker, the second worker's share ending and the first's counted after it."""
    split = round(count * FIRST_SHARE)
    marks = {*range(COMMIT_EVERY, count + 1, COMMIT_EVERY),
             *range(split, count + 1, COMMIT_EVERY)}
    return {m + d for m in marks for d in (-1, 0, 1) if 2 <= m + d < count}


def _next(h: History, lane: int, number: int, fail_at: int | None, special: set[int],
          safe: bool, commits: bool, defect_rate: float) -> Revision:
    """The revision at ``number`` on ``lane``."""
    while True:
        rng = h.rng
        if number == fail_at:
            step = concurrent_index(h, lane, block=False)
        elif number in special:
            step = rng.choice(COMMITTING if commits else COMMITTING[1:])(h, lane)
        elif rng.random() < defect_rate:
            step = rng.choice(SAFE_DEFECTS if safe else DEFECTS)(h, lane)
        elif not h.tables(lane) or (sum(map(len, h.lanes.values())) < TABLES
                                    and rng.random() < 0.5):
            step = create_table(h, lane)
        else:
            kinds, weights = zip(*NORMAL, strict=True)
            step = rng.choices(kinds, weights)[0](h, lane)
        if step is not None:
            return step


def build(count: int, seed: int, safe: bool = False, fail_at: int | None = None,
          commits: bool = True, defect_rate: float = DEFECT_RATE) -> list[Revision]:
    """The revisions of a history, parents first; the 12th and every 37th after it start a
    fork of two short branches (each touching tables of its own) joined by a merge revision,
    never at a commit boundary (the second branch grows past it).
    Unless ``safe``, the upgrade of revision ``fail_at`` (default: the last) fails; unless
    ``safe`` or not ``commits``, some of those at the commit boundaries call ``.commit()``."""
    h = History(Random(seed))
    fail_at = None if safe else fail_at or count
    commits = commits and not safe
    special = commit_boundaries(count)
    revisions = [Revision("create schema persistence_schema",
                          ["op.execute(sa.schema.CreateSchema('persistence_schema'))"],
                          ["op.execute(sa.schema.DropSchema('persistence_schema'))"])]

    def add(step: Revision, parent: int) -> int:
        step.parents = (parent,)
        revisions.append(step)
        return len(revisions) - 1

    while len(revisions) < count:
        number = len(revisions) + 1
        if number % 37 == 12 and count - number >= 10:
            fork, ends = len(revisions) - 1, []
            old = h.lanes.pop(0)
            h.lanes |= {1: old[0::2], 2: old[1::2]}
            for lane in (1, 2):
                tip = fork
                for _ in range(h.rng.randint(2, 4)):
                    tip = add(_next(h, lane, len(revisions) + 1, fail_at, special, safe,
                                    commits, defect_rate), tip)
                ends.append(tip)
            while len(revisions) + 1 in special:  # a merge does nothing: not at a commit
                ends[-1] = add(_next(h, 2, len(revisions) + 1, fail_at, special, safe,
                                     commits, defect_rate), ends[-1])
            revisions.append(Revision("merge branches", [], [], parents=tuple(ends)))
            h.lanes = {0: h.lanes.pop(1) + h.lanes.pop(2)}
        else:
            add(_next(h, 0, number, fail_at, special, safe, commits, defect_rate),
                len(revisions) - 1)
    return revisions


def generate(path: Path, count: int, seed: int = 1, safe: bool = False,
             fail_at: int | None = None, commits: bool = True,
             defect_rate: float = DEFECT_RATE) -> tuple[Project, dict[str, str]]:
    """Write a project of ``count`` revisions into ``path`` (which must not exist); it and each
    revision's intended verdict (as if it ran). ``safe``: no upgrade fails, no downgrade raises
    and no revision calls ``.commit()`` (Alembic's own transaction then ends under it: "This
    transaction is inactive"), so plain ``alembic upgrade head`` and ``downgrade base`` run
    through it."""
    if count < 12:
        raise ValueError("a real-shaped history needs at least 12 revisions")
    versions = path / "database" / "versions"
    versions.mkdir(parents=True)
    for name in COPIED:
        shutil.copyfile(REPO / name, path / name)
    (path / "orm.py").write_text(ORM)
    steps = build(count, seed, safe, fail_at, commits, defect_rate)
    rng = Random(seed)
    ids: list[str] = []
    for number, step in enumerate(steps, start=1):
        down = tuple(ids[p] for p in step.parents)
        ids.append(write_revision(path / "database" / "script.py.mako", versions, number,
                                  f"{rng.getrandbits(48):012x}",
                                  down[0] if len(down) == 1 else down or None,
                                  step.message, step.upgrade, step.downgrade))
    return Project(path, ids), {i: s.intent for i, s in zip(ids, steps, strict=True)}


def main(argv: Sequence[str] | None = None) -> int:
    """Generate one project and list each revision's intended verdict."""
    parser = argparse.ArgumentParser(prog="python -m bench.realistic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to create")
    parser.add_argument("--revisions", type=int, default=110, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--safe", action="store_true",
                        help="no failing upgrade, no raising downgrade (for timing)")
    parser.add_argument("--fail-at", type=int, metavar="K",
                        help="revision K's upgrade fails (default: the last's)")
    parser.add_argument("--no-commits", action="store_true",
                        help="no revision calls .commit() (autocommit blocks only)")
    parser.add_argument("--defect-rate", type=float, default=DEFECT_RATE, metavar="R",
                        help=f"share of revisions with a defect (default: {DEFECT_RATE})")
    args = parser.parse_args(argv)
    try:
        project, intents = generate(args.out, args.revisions, args.seed, args.safe,
                                    args.fail_at, not args.no_commits, args.defect_rate)
    except (ValueError, FileExistsError) as exc:
        print(f"bench.realistic: {exc}", file=sys.stderr)
        return 2
    for revision, intent in intents.items():
        print(f"{revision} {intent}")
    print(f"{project.path}: {len(project.revisions)} revisions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Catalog snapshots on a real database: what compare() reports, and partial snapshots."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from ci.schemadiff import inspect, migra_sql, without
from ci.snapshot import Difference, Leftovers, compare, leftovers, take

pytestmark = pytest.mark.db

TABLE = "CREATE SCHEMA s; CREATE TABLE s.t (id int, x text)"

#: name -> (SQL before, SQL of the change, the differences as (change, kind, object))
CHANGES = {
    "column added": (TABLE, "ALTER TABLE s.t ADD COLUMN y int", [("added", "column", "s.t.y")]),
    "column removed": (TABLE, "ALTER TABLE s.t DROP COLUMN x", [("removed", "column", "s.t.x")]),
    "column type changed": (TABLE, "ALTER TABLE s.t ALTER COLUMN x TYPE varchar(10)",
                            [("changed", "column", "s.t.x")]),
    "column made NOT NULL": (TABLE, "ALTER TABLE s.t ALTER COLUMN x SET NOT NULL",
                             [("changed", "column", "s.t.x")]),
    "NOT NULL column removed": (f"{TABLE}; ALTER TABLE s.t ALTER COLUMN x SET NOT NULL",
                                "ALTER TABLE s.t DROP COLUMN x", [("removed", "column", "s.t.x")]),
    "NOT NULL constraint renamed": (
        f"{TABLE}; ALTER TABLE s.t ALTER COLUMN x SET NOT NULL",
        "ALTER TABLE s.t RENAME CONSTRAINT t_x_not_null TO x_required",
        [("removed", "constraint", "s.t.t_x_not_null"), ("added", "constraint", "s.t.x_required")]),
    "column default changed": (TABLE, "ALTER TABLE s.t ALTER COLUMN x SET DEFAULT 'a'",
                               [("changed", "column", "s.t.x")]),
    "index added": (TABLE, "CREATE INDEX ix ON s.t (x)", [("added", "index", "s.ix")]),
    "index removed": (f"{TABLE}; CREATE INDEX ix ON s.t (x)", "DROP INDEX s.ix",
                      [("removed", "index", "s.ix")]),
    "index changed": (f"{TABLE}; CREATE INDEX ix ON s.t (x)",
                      "DROP INDEX s.ix; CREATE INDEX ix ON s.t (id)",
                      [("changed", "index", "s.ix")]),
    "constraint added": (TABLE, "ALTER TABLE s.t ADD CONSTRAINT ck CHECK (id > 0)",
                         [("added", "constraint", "s.t.ck")]),
    "constraint removed": (f"{TABLE}; ALTER TABLE s.t ADD CONSTRAINT ck CHECK (id > 0)",
                           "ALTER TABLE s.t DROP CONSTRAINT ck",
                           [("removed", "constraint", "s.t.ck")]),
    "constraint changed": (f"{TABLE}; ALTER TABLE s.t ADD CONSTRAINT ck CHECK (id > 0)",
                           "ALTER TABLE s.t DROP CONSTRAINT ck, "
                           "ADD CONSTRAINT ck CHECK (id > 1)",
                           [("changed", "constraint", "s.t.ck")]),
    "table added": (TABLE, "CREATE TABLE s.u (id int)", [("added", "table", "s.u")]),
    "table removed": (TABLE, "DROP TABLE s.t", [("removed", "table", "s.t")]),
    "enum type added": ("CREATE SCHEMA s", "CREATE TYPE s.e AS ENUM ('a')",
                        [("added", "enum type", "s.e")]),
    "enum label added": ("CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('a')",
                         "ALTER TYPE s.e ADD VALUE 'b'", [("changed", "enum type labels", "s.e")]),
    "enum labels reordered": ("CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('a', 'b')",
                              "DROP TYPE s.e; CREATE TYPE s.e AS ENUM ('b', 'a')",
                              [("changed", "enum type labels", "s.e")]),
    "view definition changed": (f"{TABLE}; CREATE VIEW s.v AS SELECT id FROM s.t",
                                "CREATE OR REPLACE VIEW s.v AS SELECT id FROM s.t WHERE id > 0",
                                [("changed", "view definition", "s.v")]),
    "function added": ("CREATE SCHEMA s", "CREATE FUNCTION s.f(int) RETURNS int LANGUAGE sql "
                       "AS 'SELECT 1'", [("added", "function", "s.f(integer)")]),
    "function changed": ("CREATE SCHEMA s; CREATE FUNCTION s.f(int) RETURNS int LANGUAGE sql "
                         "AS 'SELECT 1'", "CREATE OR REPLACE FUNCTION s.f(int) RETURNS int "
                         "LANGUAGE sql AS 'SELECT 2'",
                         [("changed", "function definition", "s.f(integer)")]),
    "function removed": ("CREATE SCHEMA s; CREATE FUNCTION s.f(int) RETURNS int LANGUAGE sql "
                         "AS 'SELECT 1'", "DROP FUNCTION s.f(int)",
                         [("removed", "function", "s.f(integer)")]),
    "sequence changed": ("CREATE SCHEMA s; CREATE SEQUENCE s.q",
                         "ALTER SEQUENCE s.q INCREMENT BY 2",
                         [("changed", "sequence options", "s.q")]),
    "extension added": ("", "CREATE EXTENSION pg_trgm", [("added", "extension", "pg_trgm")]),
    "schema added": ("", "CREATE SCHEMA s", [("added", "schema", "s")]),
    "nothing changed": (TABLE, "INSERT INTO s.t VALUES (1, 'a')", []),
}


def run(connection: sa.Connection, sql_text: str) -> None:
    if sql_text:
        connection.exec_driver_sql(sql_text)


@pytest.mark.parametrize(("setup", "change", "expected"), CHANGES.values(), ids=CHANGES.keys())
def test_compare_names_each_change(scratch: sa.Connection, setup: str, change: str,
                                   expected: list[tuple[str, str, str]]) -> None:
    if "_not_null" in change and scratch.dialect.server_version_info < (18,):
        pytest.skip("PostgreSQL names NOT NULL constraints since 18")
    run(scratch, setup)
    before = take(scratch)
    run(scratch, change)
    after = take(scratch)
    diffs = compare(before, after)
    assert [(d.change, d.kind, d.object) for d in diffs] == expected
    assert compare(after, after) == []
    undo = {"added": "removed", "removed": "added", "changed": "changed"}
    assert [(undo[d.change], d.kind, d.object) for d in compare(after, before)] == expected


def test_a_changed_column_shows_both_definitions(scratch: sa.Connection) -> None:
    run(scratch, TABLE)
    before = take(scratch)
    run(scratch, "ALTER TABLE s.t ALTER COLUMN x TYPE varchar(10), ALTER COLUMN x SET NOT NULL")
    (diff,) = compare(before, take(scratch))  # not also PostgreSQL 18's NOT NULL constraint
    assert diff == Difference("changed", "column", "s.t.x", "x text",
                              "x character varying(10) NOT NULL")


def test_a_table_dropped_and_created_again_compares_equal(scratch: sa.Connection) -> None:
    run(scratch, f"{TABLE}; CREATE INDEX ix ON s.t (x)")
    before = take(scratch)
    run(scratch, "DROP TABLE s.t; CREATE TABLE s.t (id int, x text); CREATE INDEX ix ON s.t (x)")
    assert compare(before, take(scratch)) == []


def test_the_version_table_is_not_schema(scratch: sa.Connection) -> None:
    before = take(scratch)
    run(scratch, "CREATE TABLE public.alembic_version (version_num varchar(32))")
    assert compare(before, take(scratch)) == []
    run(scratch, "CREATE SCHEMA v; CREATE TABLE v.versions (version_num varchar(32))")
    assert ("relation", "v", "versions") in take(scratch)
    assert ("relation", "v", "versions") not in take(scratch, version_table=("v", "versions"))


MANY_KINDS = """
CREATE SCHEMA "Odd Schema";
CREATE EXTENSION pg_trgm;
CREATE TYPE "Odd Schema".mood AS ENUM ('sad', 'ok');
CREATE DOMAIN "Odd Schema".positive AS int CHECK (VALUE > 0);
CREATE TABLE "Odd Schema"."Mixed Case" (id serial PRIMARY KEY, m "Odd Schema".mood,
                                         p "Odd Schema".positive, name text UNIQUE);
CREATE INDEX "Name Trgm" ON "Odd Schema"."Mixed Case" USING gin (name gin_trgm_ops);
CREATE VIEW "Odd Schema".v AS SELECT id, name FROM "Odd Schema"."Mixed Case";
CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;
CREATE FUNCTION "Odd Schema".f(int) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION "Odd Schema".f(text, "Odd Schema".mood) RETURNS int LANGUAGE sql AS 'SELECT 2';
CREATE TABLE public.plain (a int REFERENCES "Odd Schema"."Mixed Case" (id));
COMMENT ON TABLE public.plain IS 'a comment';
"""


def test_a_partial_snapshot_is_the_subset_of_the_whole(scratch: sa.Connection) -> None:
    run(scratch, MANY_KINDS)
    whole = take(scratch)
    kinds = {kind for kind, _, _ in whole}
    assert kinds == {"schema", "extension", "type", "function", "relation"}
    keys = sorted(whole)
    subsets = [[key] for key in keys] + [keys] + [random.Random(seed).sample(keys, len(keys) // 2)
                                                  for seed in range(3)]
    for subset in subsets:
        assert take(scratch, subset) == {key: whole[key] for key in subset}
    missing = ("relation", "Odd Schema", "gone")
    assert take(scratch, [missing, keys[0]]) == {keys[0]: whole[keys[0]]}
    assert take(scratch, []) == {}


def test_compare_over_keys_looks_only_at_those(scratch: sa.Connection) -> None:
    run(scratch, TABLE)
    before = take(scratch)
    run(scratch, "ALTER TABLE s.t ADD COLUMN y int; CREATE TABLE s.u (id int)")
    after = take(scratch)
    assert [d.object for d in compare(before, after, [("relation", "s", "u")])] == ["s.u"]
    assert [d.object for d in compare(before, after)] == ["s.t.y", "s.u"]


#: name -> (SQL of a change after TABLE, the units, parts and defaults it leaves, or None:
#: more than what it has in addition, or a default, differs)
LEFT = {
    "a column": ("ALTER TABLE s.t ADD COLUMN y int", ((), (("columns", "s", "t", "y"),))),
    "a NOT NULL column, an index, a check, an enum": (
        "ALTER TABLE s.t ADD COLUMN y int NOT NULL DEFAULT 0 CONSTRAINT ck CHECK (y >= 0); "
        "CREATE INDEX iy ON s.t (y); CREATE TYPE s.e AS ENUM ('a')",
        ((("type", "s", "e"),), (("columns", "s", "t", "y"), ("indexes", "s", "t", "iy"),
                                 ("constraints", "s", "t", "ck")))),
    "a table and its sequence": (
        "CREATE TABLE s.u (id serial PRIMARY KEY, t_id int)",
        ((("relation", "s", "u"), ("relation", "s", "u_id_seq")), ())),
    "a default": ("ALTER TABLE s.t ALTER COLUMN x SET DEFAULT 'a'",
                  ((), (), (("s", "t", "x", None),))),
    "a column changed": ("ALTER TABLE s.t ALTER COLUMN x TYPE varchar(10)", None),
    "a default and NOT NULL": ("ALTER TABLE s.t ALTER COLUMN x SET DEFAULT 'a', "
                               "ALTER COLUMN x SET NOT NULL", None),
    "a column dropped": ("ALTER TABLE s.t DROP COLUMN x", None),
    "a domain": ("CREATE DOMAIN s.d AS int", None),
    "a view": ("CREATE VIEW s.v AS SELECT 1 AS one", None),
}


@pytest.mark.parametrize("name", LEFT)
def test_leftovers_are_what_one_state_has_in_addition_where_nothing_else_differs(
        scratch: sa.Connection, name: str) -> None:
    change, expected = LEFT[name]
    scratch.exec_driver_sql(TABLE)
    before = take(scratch)
    scratch.exec_driver_sql(change)
    found = leftovers(before, take(scratch))
    assert found == (expected and Leftovers(*(frozenset(part) for part in expected)))


def test_without_what_was_left_migra_reads_the_state_before(scratch: sa.Connection) -> None:
    """An inspection less what a change left (columns, an index, a check, a trigger, a
    policy, an enum, a table with its sequence, keys and a unique constraint), with the
    defaults it changed as they were, gives migra the SQL an inspection of the state before the
    change gives, with no query asked again."""
    keys = {("relation", "s", "t"), ("type", "s", "e"), ("relation", "s", "u"),
            ("relation", "s", "u_id_seq")}
    scratch.exec_driver_sql(f"{TABLE}; ALTER TABLE s.t ADD PRIMARY KEY (id), "
                            "ALTER COLUMN id SET DEFAULT 1; "
                            "CREATE VIEW s.v AS SELECT id FROM s.t; CREATE FUNCTION s.touched() "
                            "RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
    before = take(scratch)
    savepoint = scratch.begin_nested()
    scratch.exec_driver_sql("CREATE TYPE s.e AS ENUM ('a'); ALTER TABLE s.t ADD COLUMN y s.e, "
                            "ALTER COLUMN id SET DEFAULT 2, ALTER COLUMN x SET DEFAULT 'zz', "
                            "ADD COLUMN z int CHECK (z > 0); CREATE INDEX iz ON s.t (z, y); "
                            "CREATE TABLE s.u (id serial PRIMARY KEY, t_id int REFERENCES s.t, "
                            "n text UNIQUE); CREATE TRIGGER tt BEFORE UPDATE ON s.t FOR EACH "
                            "ROW EXECUTE FUNCTION s.touched(); CREATE POLICY p ON s.t USING "
                            "(id > 0)")
    gone = leftovers(before, take(scratch))
    left = inspect(scratch, keys)
    savepoint.rollback()
    expected = migra_sql(left, inspect(scratch, keys))
    assert gone is not None and {
        'drop type "s"."e";', 'drop table "s"."u";', 'drop trigger if exists "tt" on "s"."t";',
        'alter table "s"."t" alter column "id" set default 1;',
        'alter table "s"."t" alter column "x" drop default;'} <= set(expected)
    assert migra_sql(left, without(left, gone)) == expected

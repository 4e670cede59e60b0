"""The DDL tracker on a real database: which snapshot units each statement touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ci.snapshot import UnitKey, take
from ci.tracker import DdlTracker

pytestmark = pytest.mark.db

T = ("relation", "s", "t")
SETUP = """
CREATE SCHEMA s;
CREATE TABLE s.t (id int PRIMARY KEY, x text);
CREATE INDEX ix ON s.t (x);
ALTER TABLE s.t ADD CONSTRAINT ck CHECK (id > 0);
CREATE TYPE s.e AS ENUM ('a');
CREATE FUNCTION s.f(int) RETURNS int LANGUAGE sql AS 'SELECT 1';
"""


@pytest.fixture
def tracker(scratch: sa.Connection) -> Iterator[DdlTracker]:
    """Triggers installed on a database holding ``SETUP``; nothing touched yet."""
    found = DdlTracker.install(scratch)
    if found is None:
        pytest.skip("this role may not create event triggers")
    scratch.exec_driver_sql(SETUP)
    found.touched({})
    yield found
    found.uninstall()


def touched(tracker: DdlTracker, sql_text: str) -> set[UnitKey] | None:
    """The units ``sql_text`` touched, with the oids of the units that stood before it."""
    owners = {oid: key for key, unit in take(tracker.connection).items() for oid in unit.oids}
    tracker.connection.exec_driver_sql(sql_text)
    return tracker.touched(owners)


@pytest.mark.parametrize(("statement", "expected"), [
    ("CREATE INDEX iy ON s.t (id, x)", {T}),
    ("DROP INDEX s.ix", {T}),
    ("ALTER TABLE s.t ADD CONSTRAINT ck2 CHECK (id < 100)", {T}),
    ("ALTER TABLE s.t DROP CONSTRAINT ck", {T}),
    ("ALTER TABLE s.t ADD CONSTRAINT uq UNIQUE (x)", {T}),
    ("ALTER INDEX s.ix RENAME TO iz", {T}),
    ("ALTER TABLE s.t RENAME CONSTRAINT ck TO ck_new", {T}),
    ("ALTER TABLE s.t ADD COLUMN y int", {T}),
    ("ALTER TABLE s.t RENAME TO u", {T, ("relation", "s", "u")}),
    ("DROP TABLE s.t", {T}),
    ("CREATE TABLE s.n (id serial)", {("relation", "s", "n"), ("relation", "s", "n_id_seq")}),
    ("ALTER TYPE s.e RENAME TO e2", {("type", "s", "e"), ("type", "s", "e2")}),
    ("ALTER TYPE s.e ADD VALUE 'b'", {("type", "s", "e")}),
    ("DROP TYPE s.e", {("type", "s", "e")}),
    ("CREATE OR REPLACE FUNCTION s.f(int) RETURNS int LANGUAGE sql AS 'SELECT 2'",
     {("function", "s", "f(integer)")}),
    ("CREATE VIEW s.v AS SELECT id FROM s.t", {("relation", "s", "v")}),
    ("CREATE EXTENSION pg_trgm", {("extension", "public", "pg_trgm")}),
    ("INSERT INTO s.t VALUES (1, 'a')", set()),
])
def test_each_statement_names_the_units_it_touched(
        tracker: DdlTracker, statement: str, expected: set[UnitKey]) -> None:
    assert touched(tracker, statement) == expected


def test_a_schema_change_asks_for_a_whole_snapshot(tracker: DdlTracker) -> None:
    assert touched(tracker, "CREATE SCHEMA other") is None
    assert touched(tracker, "ALTER SCHEMA s RENAME TO s2") is None


def test_reading_forgets_what_was_read(tracker: DdlTracker) -> None:
    assert touched(tracker, "DROP INDEX s.ix") == {T}
    assert tracker.touched({}) == set()


def test_a_rolled_back_savepoint_forgets_its_ddl(tracker: DdlTracker) -> None:
    savepoint = tracker.connection.begin_nested()
    tracker.connection.exec_driver_sql("DROP INDEX s.ix")
    savepoint.rollback()
    assert tracker.touched({}) == set()


def test_a_role_that_may_not_create_event_triggers_gets_none(scratch: sa.Connection) -> None:
    if scratch.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                               ).scalar():
        scratch.exec_driver_sql("CREATE ROLE dbci_tracker_test; SET ROLE dbci_tracker_test")
    assert DdlTracker.install(scratch) is None
    assert scratch.exec_driver_sql("SELECT 1").scalar() == 1  # the transaction is still usable

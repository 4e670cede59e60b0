"""The step reader on a real database: which snapshot units each statement touched, and those
units as a whole snapshot finds them, in one read."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg2
import pytest
import sqlalchemy as sa

from ci.db.runners import run_plain
from ci.snapshot import UnitKey, take, version_settings
from ci.tracker import Every, StepReader, _statement

pytestmark = pytest.mark.db

T = ("relation", "s", "t")
VERSION = ("public", "alembic_version")
SETUP = """
CREATE SCHEMA s;
CREATE TABLE s.t (id int PRIMARY KEY, x text);
CREATE INDEX ix ON s.t (x);
ALTER TABLE s.t ADD CONSTRAINT ck CHECK (id > 0);
CREATE TYPE s.e AS ENUM ('a');
CREATE FUNCTION s.f(int) RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE s.r (id int PRIMARY KEY, t_id int REFERENCES s.t (id), e s.e DEFAULT 'a');
"""


@pytest.fixture
def reader(scratch: sa.Connection) -> Iterator[StepReader]:
    """Triggers installed on a database holding ``SETUP``, read whole once."""
    found = StepReader.install(scratch, VERSION)
    if not found.tracked:
        pytest.skip("this role may not create event triggers")
    scratch.exec_driver_sql(SETUP)
    found.read([], discover=True, whole=True)
    yield found
    found.uninstall()


def touched(reader: StepReader, sql_text: str) -> set[UnitKey] | None:
    """The units ``sql_text`` touched. Checked against whole snapshots: the read's units are
    what a whole snapshot says, and every unit it does not name is as it was before."""
    before = take(reader.connection, None, VERSION)
    reader.connection.exec_driver_sql(sql_text)
    read = reader.read([], discover=False)
    after = take(reader.connection, None, VERSION)
    if read.keys is None:
        assert read.units == after
    else:
        assert read.units == {k: u for k, u in after.items() if k in read.keys}
        unnamed = (set(before) | set(after)) - read.keys
        assert {k for k in unnamed if before.get(k) != after.get(k)} == set()
    return read.keys


@pytest.mark.parametrize(("statement", "expected"), [
    ("CREATE INDEX iy ON s.t (id, x)", {T}),
    ("DROP INDEX s.ix", {T}),
    ("ALTER TABLE s.t ADD CONSTRAINT ck2 CHECK (id < 100)", {T}),
    ("ALTER TABLE s.t DROP CONSTRAINT ck", {T}),
    ("ALTER TABLE s.t ADD CONSTRAINT uq UNIQUE (x)", {T}),
    ("ALTER INDEX s.ix RENAME TO iz", {T}),
    ("ALTER TABLE s.t RENAME CONSTRAINT ck TO ck_new", {T}),
    ("ALTER TABLE s.t ADD COLUMN y int", {T}),
    ("ALTER TABLE s.t RENAME TO u", {T, ("relation", "s", "u"), ("relation", "s", "r")}),
    ("DROP TABLE s.t CASCADE", {T, ("relation", "s", "r")}),
    ("CREATE TABLE s.n (id serial)", {("relation", "s", "n"), ("relation", "s", "n_id_seq")}),
    ("ALTER TYPE s.e RENAME TO e2", {("type", "s", "e"), ("type", "s", "e2"),
                                     ("relation", "s", "r")}),
    ("ALTER TYPE s.e ADD VALUE 'b'", {("type", "s", "e")}),
    ("ALTER TYPE s.e RENAME VALUE 'a' TO 'z'", {("type", "s", "e"), ("relation", "s", "r")}),
    ("ALTER TABLE s.t RENAME COLUMN id TO ident", {T, ("relation", "s", "r")}),
    ("ALTER TABLE s.t DROP COLUMN x", {T}),
    ("ALTER TABLE s.t ALTER COLUMN x TYPE varchar(10)", {T}),
    ("DROP TYPE s.e CASCADE", {("type", "s", "e"), ("relation", "s", "r")}),
    ("CREATE OR REPLACE FUNCTION s.f(int) RETURNS int LANGUAGE sql AS 'SELECT 2'",
     {("function", "s", "f(integer)")}),
    ("CREATE VIEW s.v AS SELECT id FROM s.t", {("relation", "s", "v")}),
    ("CREATE EXTENSION pg_trgm", {("extension", "public", "pg_trgm")}),
    ("INSERT INTO s.t VALUES (1, 'a')", set()),
])
def test_each_statement_names_the_units_it_touched(
        reader: StepReader, statement: str, expected: set[UnitKey]) -> None:
    assert touched(reader, statement) == expected


def test_renaming_a_table_names_the_functions_its_row_type_is_an_argument_of(
        reader: StepReader) -> None:
    """A table's row type is renamed with it, and a function taking one is named by its
    arguments' types: it reads differently, with no DDL of its own."""
    reader.connection.exec_driver_sql(
        "CREATE FUNCTION s.g(s.t) RETURNS int LANGUAGE sql AS 'SELECT 1'")
    reader.read([], discover=False)
    assert touched(reader, "ALTER TABLE s.t RENAME TO u") == {
        T, ("relation", "s", "u"), ("relation", "s", "r"),
        ("function", "s", "g(s.t)"), ("function", "s", "g(s.u)")}


def test_a_schema_change_asks_for_a_whole_snapshot(reader: StepReader) -> None:
    assert touched(reader, "CREATE SCHEMA other") is None
    assert touched(reader, "ALTER SCHEMA s RENAME TO s2") is None


def test_installing_again_on_the_same_connection_still_reads_what_each_step_touched(
        reader: StepReader) -> None:
    """(The install's own DDL is logged by the triggers already there: one read takes it.)"""
    again = StepReader.install(reader.connection, VERSION)
    assert again.tracked
    again.read([], discover=False)
    assert touched(again, "CREATE INDEX iy ON s.t (id, x)") == {T}


def test_reading_forgets_what_was_read(reader: StepReader) -> None:
    assert touched(reader, "DROP INDEX s.ix") == {T}
    assert reader.read([], discover=False).keys == set()


def test_a_rolled_back_savepoint_forgets_its_ddl_and_its_owners(reader: StepReader) -> None:
    savepoint = reader.connection.begin_nested()
    reader.connection.exec_driver_sql("CREATE INDEX iy ON s.t (id, x)")
    assert reader.read([], discover=False).keys == {T}
    savepoint.rollback()
    assert reader.read([], discover=False).keys == set()
    assert touched(reader, "DROP INDEX s.ix") == {T}  # what was known before still names it


def test_a_read_that_forgets_reads_the_same_and_records_no_owner(reader: StepReader) -> None:
    owners = "SELECT count(*) FROM dbci_track.owner"
    recorded = reader.connection.exec_driver_sql(owners).scalar()
    savepoint = reader.connection.begin_nested()
    reader.connection.exec_driver_sql("CREATE TABLE s.u (id int)")
    forgot = reader.read([], discover=False, keep=False)
    assert reader.connection.exec_driver_sql(owners).scalar() == recorded
    savepoint.rollback()
    reader.connection.exec_driver_sql("CREATE TABLE s.u (id int)")
    kept = reader.read([], discover=False)
    assert (forgot.keys, forgot.units) == (kept.keys, kept.units) == (
        {("relation", "s", "u")}, take(reader.connection, kept.keys, VERSION))
    assert reader.connection.exec_driver_sql(owners).scalar() > recorded


def test_tables_holding_rows_are_read_when_written_or_touched(reader: StepReader) -> None:
    reader.connection.exec_driver_sql("INSERT INTO s.t VALUES (1, 'a')")
    written = reader.read([], discover=True)
    assert written.discovered and [t.name for t in written.tables or ()] == ['s.t']
    oid = written.tables[0].oid if written.tables else 0
    reader.connection.exec_driver_sql("ALTER TABLE s.r ADD COLUMN y int")
    assert reader.read([oid], discover=False).tables == []  # a known table, not touched
    reader.connection.exec_driver_sql("ALTER TABLE s.t ADD COLUMN y int")
    assert [t.oid for t in reader.read([oid], discover=False).tables or ()] == [oid]


def test_a_read_after_a_mark_lists_every_table_only_where_a_flush_came_since(
        reader: StepReader) -> None:
    """A flush of the session's statistics (at an idle moment between transactions) sets every
    write counter back to zero, so they no longer name what was written before it: a read after
    a mark lists every table where one came since the mark, and otherwise only those written."""
    conn = reader.connection
    conn.exec_driver_sql("INSERT INTO s.t VALUES (1, 'a')")
    reader.mark()
    counted = reader.read([], discover=False, every="if-flushed")
    assert not counted.every_table and [t.name for t in counted.tables or ()] == ["s.t"]
    reader.mark()
    conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
    conn.commit()  # idle between transactions: flushed
    flushed = reader.read([], discover=False, every="if-flushed")
    assert flushed.every_table and {t.name for t in flushed.tables or ()} == {"s.t", "s.r"}
    assert {t.writes for t in flushed.tables or ()} == {0}


@pytest.mark.parametrize(("discover", "keep", "every"), [
    (False, True, "never"), (True, True, "never"), (True, False, "always"),
    (True, True, "if-flushed"), (False, False, "never")])
def test_a_step_the_event_triggers_logged_nothing_for_is_read_as_the_whole_statement_reads_it(
        reader: StepReader, discover: bool, keep: bool, every: Every) -> None:
    """Where the event triggers' log is empty (a step that only wrote rows), a tracked read
    reads the tables alone, and gives the rows the whole statement gives, whatever its flags."""
    conn = reader.connection
    conn.exec_driver_sql("INSERT INTO s.t VALUES (1, 'a')")
    known = conn.exec_driver_sql("SELECT 's.r'::regclass::oid").scalar()
    settings = {"dbci.known": f"{{{known}}}", "dbci.discover": str(discover),
                "dbci.keep": str(keep), "dbci.every": every, **version_settings(VERSION)}
    for name, value in settings.items():
        conn.exec_driver_sql("SELECT set_config(%s, %s, true)", (name, value))

    def rows(text: str) -> list[tuple[object, ...]]:
        savepoint = conn.begin_nested()
        found = sorted(run_plain(conn, text), key=repr)
        savepoint.rollback()
        return found

    whole = rows(_statement(True, False))
    assert rows("SELECT * FROM pg_temp.dbci_read()") == whole
    assert {row[1] for row in whole if row[0] == "table"} == (
        {"s.t", "s.r"} if discover else set())


def test_a_role_that_may_not_create_event_triggers_reads_whole(scratch: sa.Connection) -> None:
    if scratch.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                               ).scalar():
        scratch.exec_driver_sql("CREATE ROLE dbci_tracker_test; SET ROLE dbci_tracker_test")
    reader = StepReader.install(scratch, VERSION)
    assert not reader.tracked
    assert scratch.exec_driver_sql("SELECT 1").scalar() == 1  # the transaction is still usable
    read = reader.read([], discover=False)
    assert read.keys is None and read.units == take(scratch, None, VERSION)


def test_an_install_that_fails_for_another_reason_than_privilege_is_raised(
        scratch: sa.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a role that may not create event triggers falls back to whole snapshots; a broken
    install script would otherwise slow every run without a word."""

    def broken(connection: sa.Connection, name: str) -> None:
        run_plain(connection, "CREATE EVENT TRIGGER dbci_broken ON ddl_command_end "
                              "EXECUTE FUNCTION no_such_function()")

    monkeypatch.setattr("ci.tracker.run_script", broken)
    with pytest.raises(psycopg2.Error, match="no_such_function"):
        StepReader.install(scratch, VERSION)


def test_a_role_that_may_not_create_event_triggers_reads_whole_and_says_why(
        scratch: sa.Connection) -> None:
    role = f"dbci_tracker_test_{os.getpid()}"  # made in the test's transaction, rolled back
    scratch.exec_driver_sql(f"CREATE ROLE {role}; SET ROLE {role}")
    found = StepReader.install(scratch, VERSION)
    assert not found.tracked
    assert found.why.startswith("the role may not create event triggers (permission denied")

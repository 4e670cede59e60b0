"""ci/impact.py: what a revision did to existing tables, read from a real server's catalog and
its own pg_locks, each statement in a transaction of its own as the round trip runs it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ci import impact
from ci.impact import Impact

pytestmark = pytest.mark.db

TABLES = """
CREATE TABLE t (id int PRIMARY KEY, code varchar(10), n int);
INSERT INTO t SELECT g, 'x' || g, g FROM generate_series(1, 100) g;
CREATE TABLE other (id int PRIMARY KEY);
"""


def observed(connection: sa.Connection, statement: str) -> list[Impact]:
    """Run ``statement`` as a revision would (committed tables before it), and observe it."""
    connection.exec_driver_sql(TABLES)
    connection.commit()
    before = impact.read_state(connection)
    connection.exec_driver_sql(statement)
    found = impact.observe("r1", before, impact.read_state(connection),
                           impact.read_locks(connection), [statement])
    connection.rollback()
    return found


def test_a_type_change_rewrites_the_table_under_an_access_exclusive_lock(
        scratch: sa.Connection) -> None:
    (t,) = observed(scratch, "ALTER TABLE t ALTER COLUMN n TYPE bigint")
    assert (t.relation, t.lock, t.rewritten, t.blocks) == \
        ("public.t", "ACCESS EXCLUSIVE", True, "reads and writes")


def test_widening_a_varchar_neither_rewrites_nor_scans(scratch: sa.Connection) -> None:
    (t,) = observed(scratch, "ALTER TABLE t ALTER COLUMN code TYPE varchar(20)")
    assert (t.lock, t.rewritten, t.scanned) == ("ACCESS EXCLUSIVE", False, False)


def test_set_not_null_reads_the_whole_table(scratch: sa.Connection) -> None:
    (t,) = observed(scratch, "ALTER TABLE t ALTER COLUMN n SET NOT NULL")
    assert (t.lock, t.rewritten, t.scanned) == ("ACCESS EXCLUSIVE", False, True)


def test_an_index_built_in_the_transaction_blocks_writes(scratch: sa.Connection) -> None:
    (built,) = observed(scratch, "CREATE INDEX ix_t_n ON t (n)")
    assert (built.change, built.index, built.lock, built.concurrently, built.blocks) == \
        ("index built", "public.ix_t_n", "SHARE", False, "writes")


def test_an_index_built_concurrently_outside_a_transaction_is_said_so(
        scratch: sa.Connection) -> None:
    scratch.exec_driver_sql(TABLES)
    scratch.commit()
    before = impact.read_state(scratch)
    statement = "CREATE INDEX CONCURRENTLY ix_t_code ON t (code)"
    scratch.commit()
    with scratch.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
        other.exec_driver_sql(statement)  # as in an autocommit block
    (built,) = impact.observe("r1", before, impact.read_state(scratch), None, [statement])
    assert (built.index, built.concurrently, built.lock) == ("public.ix_t_code", True, None)


def test_a_new_nullable_column_and_a_new_table_are_cheap(scratch: sa.Connection) -> None:
    found = observed(scratch, "ALTER TABLE t ADD COLUMN note text; CREATE TABLE fresh (id int)")
    assert [(i.relation, i.rewritten, i.scanned) for i in found] == [("public.t", False, False)]


def test_a_dropped_table_is_named(scratch: sa.Connection) -> None:
    (gone,) = observed(scratch, "DROP TABLE other")
    assert (gone.relation, gone.change, gone.lock) == ("public.other", "dropped",
                                                       "ACCESS EXCLUSIVE")


def test_a_view_replaced_is_named_with_its_lock(scratch: sa.Connection) -> None:
    scratch.exec_driver_sql("CREATE VIEW v AS SELECT 1 AS one")
    (view,) = observed(scratch, "CREATE OR REPLACE VIEW v AS SELECT 1 AS one, 2 AS two")
    assert (view.relation, view.lock) == ("public.v", "ACCESS EXCLUSIVE")

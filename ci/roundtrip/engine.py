"""The round trip: every revision's downgrade restores exactly the schema before its upgrade.

One database, one connection, Alembic's own env.py, per worker. Each revision is upgraded once;
its downgrade runs inside a savepoint, is compared with the schema before the upgrade, and is
rolled back, so the run carries on from the true upgraded state. A long range is split between
two workers (:func:`begin`): a forked child checks its first part on a database of its own.
Event triggers name the objects each step touched, so only those are snapshotted: the cost
stays linear in the number of revisions.
Roles that may not create event triggers take a slower path with whole snapshots, reported as
such; revisions that commit themselves (``autocommit_block``) are still read by what they touched,
and every table's rows are digested again where a commit started the write counters afresh.

The revisions before the checked ones are brought up without the event triggers (they would
only log what the whole read after them reads anyway), unless one has a data fixture, whose
reads need them.

The state machine, the same on either worker. Every step starts SETTLED: in the transaction
Alembic holds (``context._transaction``), no savepoint, the schema at the last upgrade, the
catalog and row digests read from it, Alembic's memo of the named types it created matching it.

- pass (fast path): SAVEPOINT dbci_upgrade, upgrade, read; SAVEPOINT dbci_downgrade,
  downgrade, read and compare; ROLLBACK TO dbci_downgrade, RELEASE dbci_upgrade, memo put
  back as after the upgrade -> SETTLED at this revision.
- finding: as a pass; where all the downgrade did wrong is leave things behind (enum types,
  tables, sequences, parts of tables) or columns' defaults changed (``snapshot.leftovers``),
  migra's view of the state before is what it left less those, the defaults as they were ->
  SETTLED at this revision. Else ROLLBACK TO dbci_upgrade (memo as before it) for migra's
  view of the state before, upgrade again, RELEASE -> SETTLED at this revision.
- failed downgrade (fast path): ROLLBACK TO dbci_downgrade, RELEASE -> SETTLED at this revision.
- failed upgrade: ROLLBACK TO dbci_upgrade (fast path) -> STOPPED: the rest "not run"; where it
  is the second worker's, the first process stops at the same revision as it brings it up.
  An upgrade that calls ``.commit()`` outside an autocommit block is one, before it runs:
  ``alembic upgrade`` exits 0 on it but rolls back what follows the commit and its version
  stamp (the ``commit-outside-autocommit-block`` lint rule says the same from its source).
- self-commit or autocommit block (``commits_itself``; no savepoint survives a commit): upgrade;
  should it have ended Alembic's transaction (``.commit()``), Alembic takes the connection's
  new one; read (the event triggers' log is committed with the work); commit; downgrade, read,
  compare, take the downgraded units as they stand; memo as before the upgrade, upgrade again,
  read -> SETTLED. Each of these steps follows a mark (``StepReader.mark``); where the
  session's statistics were flushed since (the marks' counter is back at zero: a flush sets
  every write counter to zero, so they cannot tell which tables the step wrote), the read
  after it digests every table's rows again. A
  failed downgrade rolls back to the commit and reads whole: as after the upgrade -> SETTLED;
  else (it committed part of its work) -> STOPPED.
  A commit the source does not show (no savepoint to go back to) -> exit 2, naming it.
- periodic commit (every COMMIT_EVERY revisions, checked or brought up): Alembic commits its
  transaction and begins the next; row write counters start again -> SETTLED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from psycopg2 import errorcodes
from psycopg2.extensions import STATUS_BEGIN, TRANSACTION_STATUS_IDLE

from ci import compat, impact, snapshot
from ci.alembic_env import RevisionFailed, Statement, apply, capture_statements, run_env
from ci.config import Config
from ci.db.runners import run_plain
from ci.errors import described, error_line
from ci.history import History, Revision
from ci.impact import Impact
from ci.revision_code import commits_outside_a_block, irreversible_at_run_time, is_irreversible
from ci.roundtrip.fixtures import run_fixture
from ci.roundtrip.results import Findings, Outcome, commits_itself
from ci.row_digests import Digest, Rows, Watch, count_writes
from ci.schemadiff import Answers, Captured, Inspected, capture, inspect, migra_sql, without
from ci.snapshot import Catalog, Leftovers, Unit, UnitKey
from ci.tracker import NOTHING, Every, Read, StepReader

#: Commit progress every so many revisions, so one run never holds too many locks.
COMMIT_EVERY = 100


class RoundTrip:
    """One run over a range of revisions on one connection; collects findings and outcomes."""

    def __init__(self, config: Config, history: History,
                 progress: Callable[[str], None] | None = None,
                 capture: frozenset[str] = frozenset(), schema_after: int | None = None) -> None:
        self.config = config
        self.history = history
        self.progress = progress
        self.capture = capture  # revisions whose upgrade's statements to keep
        self.statements: dict[str, list[Statement]] = {}
        self.impacts: list[Impact] = []  # what the ``capture`` revisions did, observed
        self.schema_after = schema_after  # capture the schema once so many revisions ran
        self.schema: Captured | None = None
        self.fixture_ddl = False  # a data fixture changed the schema (or may have)
        self.stopped = False  # an upgrade failed: the revisions after it were not run
        self.found = Findings()
        self.outcomes: list[Outcome] = []
        self.catalog = Catalog()
        self.answers = Answers(self.catalog.versions)  # for migra, where nothing of theirs changed
        self.rows = Rows()
        self.data = history.fixtures("roundtrip_data")
        self.context: MigrationContext  # env.py's, set once it has configured it
        self.reader: StepReader | None = None  # set then too
        self.watch: Watch | None = None

    def run(self, connection: sa.Connection, before: list[Revision], checked: list[Revision],
            others: int = 0) -> None:
        """Upgrade through ``before``, then check each revision of ``checked``. The last
        ``others`` revisions of ``before`` are another worker's to check: should one of their
        upgrades fail, this run stops there (that worker reports it)."""

        def body(context: MigrationContext) -> None:
            conn = context.connection
            assert conn is not None
            self.context = context
            count_writes(conn)
            self.watch = Watch(conn)
            early = any(rev.id in self.data for rev in before)  # a fixture's reads need them
            reader = self._track(conn, context) if early else None
            failed = self._bring_up(conn, before, others)
            if failed is not None:
                self.outcomes += [Outcome(r.id, "not run", note=f"after {failed} failed")
                                  for r in checked]
                self.stopped = True
                return
            reader = reader or self._track(conn, context)
            self._settle(conn, self._read(whole=True, every="always"))  # commits, perhaps
            total = others + len(checked)
            for index, rev in enumerate(checked, start=1):
                if self.progress:
                    self.progress(f"roundtrip: revision {others + index} of {total} ({rev.id})")
                if not self._check(conn, rev):
                    self.outcomes += [Outcome(r.id, "not run", note=f"after {rev.id} failed")
                                      for r in checked[index:]]
                    self.stopped = True
                    break
                self._capture_schema(conn, len(before) + index)
                if index % COMMIT_EVERY == 0:
                    self._commit()
            if not self.stopped:  # an autocommit revision's failure leaves no transaction
                reader.uninstall()  # to do it in

        try:
            run_env(self.config, self.history, connection, body)
        finally:
            if self.watch is not None:
                self.watch.close()

    def _track(self, conn: sa.Connection, context: MigrationContext) -> StepReader:
        """Install the event triggers that name what each step touches (see
        :class:`StepReader`)."""
        self.reader = StepReader.install(conn, (context.version_table_schema or "public",
                                                context.version_table))
        return self.reader

    def _bring_up(self, conn: sa.Connection, before: list[Revision], others: int) -> str | None:
        """Upgrade through ``before`` unchecked (loading their data fixtures, keeping their
        statements and the schema when asked). Should one of the last ``others`` fail, it ends
        there: its id."""
        for ran, rev in enumerate(before, start=1):
            if rev.id in self.capture:  # its locks alone: the periodic commit, early
                self._commit()
            root = conn.get_transaction()
            try:
                self._upgrade(conn, rev)
            except RevisionFailed as exc:
                if ran <= len(before) - others:
                    raise
                self._upgrade_failed(rev, exc)
                return rev.id
            self._after(conn, rev, "upgrade", rev.commits_itself, root)
            self._load_data(conn, rev)
            self._capture_schema(conn, ran)
            if ran % COMMIT_EVERY == 0:
                self._commit()
        return None

    def _upgrade_failed(self, rev: Revision, exc: RevisionFailed) -> None:
        """Report a failed upgrade; its statements are not kept (it never ran whole)."""
        self.statements.pop(rev.id, None)
        self.found.upgrade_failed(rev, error_line(exc.error))

    def _upgrade(self, conn: sa.Connection, rev: Revision) -> None:
        """Run a revision's upgrade; of a new one (``capture``, run in a transaction of its
        own), keep its statements and observe its impact: locks, rewrites, scans."""
        if rev.id not in self.capture:
            apply(rev, "upgrade")
            return
        before = impact.read_state(conn)
        with capture_statements(conn) as self.statements[rev.id]:
            apply(rev, "upgrade")
        self.impacts += impact.observe(
            rev.id, before, impact.read_state(conn),
            None if rev.commits_itself else impact.read_locks(conn),
            [s.sql for s in self.statements[rev.id]])

    def _check(self, conn: sa.Connection, rev: Revision) -> bool:
        """Upgrade, then prove the downgrade; False when the run cannot carry on (the upgrade
        failed, or a self-committing downgrade failed part way): the run stops."""
        assert self.reader is not None
        autocommit = rev.commits_itself
        path = ("autocommit" if autocommit else "fast" if self.reader.tracked
                else "whole snapshots")
        note = "" if autocommit or self.reader.tracked else self.reader.why
        committing = next(commits_outside_a_block(rev, "upgrade"), None)
        if committing is not None:  # what plain Alembic makes of it: the state machine's stop
            self.found.commits_outside_a_block(rev, committing)
            self.outcomes.append(Outcome(rev.id, "failed", path, note))
            return False
        if rev.id in self.capture:  # its locks alone: the periodic commit, early
            self._commit()
        before_upgrade = not autocommit  # a savepoint holds the state before the upgrade
        memo = compat.type_memo(self.context)
        if before_upgrade:
            self._savepoint(conn, rev, "upgrade", "SAVEPOINT dbci_upgrade")
        root = conn.get_transaction()
        if autocommit:
            self.reader.mark()
        try:
            self._upgrade(conn, rev)
        except RevisionFailed as exc:
            if before_upgrade:
                self._savepoint(conn, rev, "upgrade", "ROLLBACK TO SAVEPOINT dbci_upgrade")
            compat.restore_type_memo(self.context, memo)
            self._upgrade_failed(rev, exc)
            self.outcomes.append(Outcome(rev.id, "failed", path, note))
            return False
        self._after(conn, rev, "upgrade", autocommit, root)
        up = self._read(every="if-flushed" if autocommit else "never")
        previous, rows_before = self._settle(conn, up)
        failed_before = len(self.found)
        if is_irreversible(rev):
            self.outcomes.append(Outcome(rev.id, "skipped", path, "irreversible"))
        elif not before_upgrade:
            carried = self._check_downgrade_autocommit(conn, rev, up.keys, previous,
                                                       rows_before, memo)
            if carried is not True:
                self.outcomes.append(Outcome(rev.id, "failed", path, carried or ""))
                return False
        else:
            upgraded = compat.type_memo(self.context)
            self._savepoint(conn, rev, "downgrade", "SAVEPOINT dbci_downgrade")
            try:
                left = self._check_downgrade(conn, rev, up.keys, previous, rows_before)
            except BaseException:
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade")
                raise
            compat.restore_type_memo(self.context, upgraded)  # the downgrade's types are undone
            if left is None:  # back to the upgrade, which stays: one round trip
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade; "
                                "RELEASE SAVEPOINT dbci_upgrade")
                before_upgrade = False
            else:
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade")
                self._explain(conn, rev, *left, failed_before, memo)
        if before_upgrade:
            self._savepoint(conn, rev, "upgrade", "RELEASE SAVEPOINT dbci_upgrade")
        if not (self.outcomes and self.outcomes[-1].revision == rev.id):
            status = "failed" if len(self.found) > failed_before else "passed"
            self.outcomes.append(Outcome(rev.id, status, path, note))  # else: skipped, recorded
        self._load_data(conn, rev)
        return True

    def _commit(self) -> None:
        """Commit the work so far (Alembic begins a new transaction), so one run never holds
        too many locks."""
        with self.context.autocommit_block():
            pass
        self.rows.committed()

    def _after(self, conn: sa.Connection, rev: Revision, direction: str, may_commit: bool,
               root: sa.RootTransaction | None) -> None:
        """After a step that ended the transaction it ran in (``root``): where it was known to
        (its source says so; it ran without savepoints), carry on in a new transaction that
        Alembic knows as its own; elsewhere refuse to go on, naming the revision: the
        savepoints the round trip works with are gone."""
        driver: Any = conn.connection.dbapi_connection
        # COMMIT as SQL: psycopg2 believes it is in a transaction, the server says it is not
        sent = driver.status == STATUS_BEGIN and \
            driver.info.transaction_status == TRANSACTION_STATUS_IDLE
        if not sent and conn.get_transaction() is root:  # the common case: nothing to do
            return
        if not may_commit:
            raise commits_itself(rev, direction)
        if sent:
            driver.commit()  # nothing left to commit; psycopg2 begins afresh at the next statement
        # ``op.get_bind().commit()``: Alembic still holds the transaction that ended
        compat.adopt_transaction(self.context, conn)

    def _savepoint(self, conn: sa.Connection, rev: Revision, direction: str, text: str) -> None:
        """One of the round trip's own savepoint commands around a revision's ``direction``;
        should the savepoint be gone, the revision ended the transaction in a way neither its
        source nor the driver showed: say so, naming it."""
        try:
            run_plain(conn, text)
        except conn.dialect.loaded_dbapi.Error as exc:
            if getattr(exc, "pgcode", None) != errorcodes.INVALID_SAVEPOINT_SPECIFICATION:
                raise
            raise commits_itself(rev, direction) from exc

    def _capture_schema(self, conn: sa.Connection, ran: int) -> None:
        """The whole schema, once ``schema_after`` revisions have run: theirs alone, unless a
        data fixture changed it too."""
        if ran == self.schema_after and not self.fixture_ddl:
            self.schema = capture(conn)

    def _explain(self, conn: sa.Connection, rev: Revision, left: Inspected,
                 gone: Leftovers | None, first: int, memo: dict[str, Any]) -> None:
        """Attach migra's SQL from what the downgrade left to the schema before the upgrade.
        Where all that differs is what the downgrade left behind (``gone``), that schema is
        ``left`` without it (:func:`without`). Else roll back to before the upgrade, capture
        it, then upgrade again to carry on (the savepoint stays, to be released). Alembic's memo
        of the named types it created goes back to before the upgrade too (``memo``), or the
        upgrade would not create them again."""
        if gone is not None:
            self.found.explain(first, migra_sql(left, without(left, gone)))
            return
        self._savepoint(conn, rev, "upgrade", "ROLLBACK TO SAVEPOINT dbci_upgrade")
        compat.restore_type_memo(self.context, memo)
        statements = migra_sql(left, inspect(conn, left.touched, self.answers))
        apply(rev, "upgrade")
        self._settle(conn, self._read())  # the same units, with new oids
        self.found.explain(first, statements)

    def _downgrade(self, conn: sa.Connection, rev: Revision, may_commit: bool = False) -> bool:
        """Run the downgrade; False when it raised (a finding, or a skip where the revision's
        own downgrade said it cannot be undone, with a reason)."""
        root = conn.get_transaction()
        try:
            apply(rev, "downgrade")
        except RevisionFailed as exc:
            if irreversible_at_run_time(rev, exc.error):
                self.outcomes.append(Outcome(rev.id, "skipped", note="downgrade raises "
                                             f"{described(exc.error)}"))
            else:
                self.found.downgrade_failed(rev, exc.error)
            return False
        self._after(conn, rev, "downgrade", may_commit, root)
        return True

    def _check_downgrade(self, conn: sa.Connection, rev: Revision, up_keys: set[UnitKey] | None,
                         previous: dict[UnitKey, Unit | None],
                         rows_before: dict[str, Digest | None]
                         ) -> tuple[Inspected, Leftovers | None] | None:
        """Downgrade, compare with before the upgrade; where the schema differs, migra's view
        of what the downgrade left, of what either step touched (see :func:`inspect`), and
        what it left behind where nothing else differs (see :func:`snapshot.leftovers`)."""
        if not self._downgrade(conn, rev):
            return None
        down = self._read(keep=False)  # the savepoint is rolled back after
        keys = _touched(up_keys, down)
        if not self._report(conn, rev, keys, down, previous, rows_before):
            return None
        return inspect(conn, keys, self.answers), snapshot.leftovers(
            self.catalog.before(previous, keys), self.catalog.now(keys, down.units, down.keys))

    def _check_downgrade_autocommit(self, conn: sa.Connection, rev: Revision,
                                    up_keys: set[UnitKey] | None,
                                    previous: dict[UnitKey, Unit | None],
                                    rows_before: dict[str, Digest | None],
                                    memo: dict[str, Any]) -> bool | str | None:
        """No savepoint can hold a revision that commits: commit the upgrade, downgrade,
        compare, upgrade again. True to carry on; else the run stops there, with the note to
        give (None: the findings say why), when the upgrade cannot run again over what the
        downgrade left, or a failed downgrade committed part of its work."""
        upgraded = compat.type_memo(self.context)
        self._commit()  # a failed downgrade rolls back to here: the upgrade, whole
        assert self.reader is not None
        self.reader.mark()
        if not self._downgrade(conn, rev, may_commit=True):
            compat.restore_type_memo(self.context, upgraded)
            return True if self._recovered(conn) else \
                "its downgrade failed after committing part of its work"
        down = self._read(every="if-flushed")
        self._report(conn, rev, _touched(up_keys, down), down, previous, rows_before)
        self.catalog.apply(down.keys, down.units)  # what the upgrade again does not touch
        compat.restore_type_memo(self.context, memo)  # downgraded: its types are made again
        root = conn.get_transaction()
        self.reader.mark()
        try:
            apply(rev, "upgrade")
        except RevisionFailed as exc:
            self.found.upgrade_fails_again(rev, exc.reason)
            return None
        self._after(conn, rev, "upgrade", True, root)
        self._settle(conn, self._read(every="if-flushed"))
        return True

    def _recovered(self, conn: sa.Connection) -> bool:
        """After a failed downgrade of a revision that commits: roll back what it left
        uncommitted, then read everything again; True when schema and rows are as the upgrade
        left them (committed just before the downgrade)."""
        conn.rollback()
        conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]  # one SA missed
        compat.restart_transaction(self.context, conn)
        self.rows.committed()
        units, rows = self._settle(conn, self._read(whole=True, every="always"))
        return (all(self.catalog.units.get(key) == unit for key, unit in units.items())
                and all(self.rows.digests.get(name) == digest for name, digest in rows.items()))

    def _read(self, whole: bool = False, discover: bool = False, keep: bool = True,
              every: Every = "never") -> Read:
        """What the statements since the last read did; nothing is read when none ran. After
        steps that committed part of their work, ``every`` says when every table's rows are
        digested again, those no counter of this transaction names too (see :data:`Every`)."""
        assert self.reader is not None and self.watch is not None
        ran, wrote = self.watch.look()
        if not (ran or whole or every != "never"):
            return NOTHING
        read = self.reader.read(self.rows.known(), discover=wrote or discover, whole=whole,
                                keep=keep, every=every)
        if read.every_table:
            self.rows.recount()
        return read

    def _settle(self, conn: sa.Connection,
                read: Read) -> tuple[dict[UnitKey, Unit | None], dict[str, Digest | None]]:
        """Take a read as the state things stand in; what the units and rows were before."""
        return self.catalog.apply(read.keys, read.units), self.rows.update(conn, read)

    def _report(self, conn: sa.Connection, rev: Revision, keys: set[UnitKey] | None,
                down: Read, previous: dict[UnitKey, Unit | None],
                rows_before: dict[str, Digest | None]) -> set[str]:
        """Report how the schema after the downgrade (its read ``down``) differs from before
        the upgrade (``previous``, over the ``keys`` either step touched, None: everything;
        each difference told whether the downgrade made it), and rows that changed; the names
        of what differs."""
        after = self.catalog.now(keys, down.units, down.keys)
        upgraded = {k: u for k in (self.catalog.units if keys is None else keys)
                    if (u := self.catalog.units.get(k)) is not None}
        reshaped = self.found.schema_differences(
            rev, snapshot.compare(self.catalog.before(previous, keys), after, keys),
            snapshot.compare(upgraded, after, keys))
        self.found.row_changes(rev, self.rows.compare(conn, down, rows_before), reshaped)
        return reshaped

    def _load_data(self, conn: sa.Connection, rev: Revision) -> None:
        """Run ``roundtrip_data/<revision>.sql``: rows later steps must keep."""
        path = self.data.get(rev.id)
        if path is not None:
            self._settle(conn, self._read())  # what ran before the fixture is not the fixture's
            run_fixture(conn, path)
            read = self._read(discover=True)  # rows anywhere, DDL perhaps
            self.fixture_ddl |= read.keys != set()
            self._settle(conn, read)


def _touched(up_keys: set[UnitKey] | None, down: Read) -> set[UnitKey] | None:
    """The units the upgrade (its keys ``up_keys``) or the downgrade (its read) touched; None
    where either was read whole."""
    return None if up_keys is None or down.keys is None else up_keys | down.keys

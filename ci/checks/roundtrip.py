"""The round trip: every revision's downgrade restores exactly the schema before its upgrade.

One database, one connection, Alembic's own env.py, per worker. Each revision is upgraded once;
its downgrade runs inside a savepoint, is compared with the schema before the upgrade, and is
rolled back, so the run carries on from the true upgraded state. A long range is split between
two workers (:func:`begin`): a forked child checks its first part on a database of its own.
Event triggers name the objects each step touched, so only those are snapshotted: the cost
stays linear in the number of revisions.
Revisions that cannot run in a transaction (``autocommit_block``) and roles that may not create
event triggers take a slower path with whole snapshots, reported as such.

The state machine, the same on either worker. Every step starts SETTLED: in the transaction
Alembic holds (``context._transaction``), no savepoint, the schema at the last upgrade, the
catalog and row digests read from it, Alembic's memo of the named types it created matching it.

- pass (fast path): SAVEPOINT dbci_upgrade, upgrade, read; SAVEPOINT dbci_downgrade,
  downgrade, read and compare; ROLLBACK TO dbci_downgrade, RELEASE dbci_upgrade, memo put
  back as after the upgrade -> SETTLED at this revision.
- finding: as a pass, then ROLLBACK TO dbci_upgrade (memo as before it) for migra's view of
  the state before, upgrade again, RELEASE -> SETTLED at this revision.
- failed downgrade (fast path): ROLLBACK TO dbci_downgrade, RELEASE -> SETTLED at this revision.
- failed upgrade: ROLLBACK TO dbci_upgrade (fast path) -> STOPPED: the rest "not run"; where it
  is the second worker's, the first process stops at the same revision as it brings it up.
  An upgrade that calls ``.commit()`` outside an autocommit block is one, before it runs:
  ``alembic upgrade`` exits 0 on it but rolls back what follows the commit and its version
  stamp (the ``commit-outside-autocommit-block`` lint rule says the same from its source).
- self-commit or autocommit block (``commits_itself``; no savepoint survives a commit): upgrade;
  should it have ended Alembic's transaction (``.commit()``), Alembic takes the connection's
  new one; whole read; commit; downgrade, whole read, compare; memo as before the upgrade,
  upgrade again, whole read -> SETTLED. A failed downgrade rolls back to the commit and reads
  whole: as after the upgrade -> SETTLED; else (it committed part of its work) -> STOPPED.
  A commit the source does not show (no savepoint to go back to) -> exit 2, naming it.
- periodic commit (every COMMIT_EVERY revisions, checked or brought up): Alembic commits its
  transaction and begins the next; row write counters start again -> SETTLED.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from psycopg2 import errorcodes
from psycopg2.extensions import STATUS_BEGIN, TRANSACTION_STATUS_IDLE

from ci import snapshot, targets
from ci.beside import Child, beside
from ci.beside import available as beside_available
from ci.config import Config
from ci.db.embedded import embedded_url
from ci.db.runners import is_connection_lost, run_plain
from ci.db.scratch import lent
from ci.errors import BadInput, described, error_line
from ci.findings import Finding, count, display_path
from ci.history import History, Revision, load_history
from ci.rows import Digest, Rows, Watch
from ci.rules import Rule, allowed
from ci.rules.downgrade import irreversible_at_run_time, is_irreversible
from ci.rules.roundtrip import (
    BY_CHANGE,
    CHANGES,
    CHANGES_ROWS,
    DOWNGRADE_FAILS,
    DROPS,
    LEAVES,
    UPGRADE_FAILS,
)
from ci.rules.transaction import COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK, commits_outside_a_block
from ci.runner import RevisionFailed, Statement, apply, capture_statements, run_env
from ci.schemadiff import Captured, capture, load_inspector, migra_sql
from ci.snapshot import Catalog, Difference, Snapshot, Unit, UnitKey
from ci.tracker import NOTHING, Read, StepReader

#: Commit progress every so many revisions, so one run never holds too many locks.
COMMIT_EVERY = 100

#: The fewest revisions worth a second worker (a database of its own, env.py run once more,
#: the first part upgraded twice).
SPLIT_FROM = 40
#: The first worker's share of the range. Checking a revision costs about four times its
#: upgrade (upgrade, downgrade, two reads), and the second worker upgrades through the first
#: part before it checks its own: with these shares both end together.
FIRST_SHARE = 0.57


@dataclass
class Outcome:
    """How one revision fared."""

    revision: str
    status: str  # "passed", "failed", "skipped", "not run"
    path: str = "fast"  # "fast", "whole snapshots", "autocommit"
    note: str = ""


def select(order: list[Revision], start: str | None, end: str | None,
           shard: tuple[int, int] | None) -> tuple[list[Revision], list[Revision]]:
    """The revisions to bring up first without checks, and those to check: a range of the
    history's order (parents first), and the K-th of N equal slices of it."""
    ids = [r.id for r in order]
    for rev in (start, end):
        if rev is not None and rev not in ids:
            raise BadInput(f"unknown revision {rev!r}; `dbci lint` lists the history")
    lo = ids.index(start) if start else 0
    hi = ids.index(end) + 1 if end else len(order)
    if lo >= hi and (start or end):
        raise BadInput(f"--from {start} comes after --to {end}")
    if shard is not None:
        k, n = shard
        size, extra = divmod(hi - lo, n)
        first = lo + (k - 1) * size + min(k - 1, extra)
        lo, hi = first, first + size + (1 if k <= extra else 0)
    return order[:lo], order[lo:hi]


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
        self.schema_after = schema_after  # capture the schema once so many revisions ran
        self.schema: Captured | None = None
        self.fixture_ddl = False  # a data fixture changed the schema (or may have)
        self.stopped = False  # an upgrade failed: the revisions after it were not run
        self.findings: list[Finding] = []
        self.outcomes: list[Outcome] = []
        self.catalog = Catalog()
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
            self.reader = StepReader.install(conn, (context.version_table_schema or "public",
                                                     context.version_table))
            self.watch = Watch(conn)
            failed = self._bring_up(conn, before, others)
            if failed is not None:
                self.outcomes += [Outcome(r.id, "not run", note=f"after {failed} failed")
                                  for r in checked]
                self.stopped = True
                return
            self._settle(conn, self._read(whole=True))
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
                self.reader.uninstall()  # to do it in

        run_env(self.config, self.history, connection, body)

    def _bring_up(self, conn: sa.Connection, before: list[Revision], others: int) -> str | None:
        """Upgrade through ``before`` unchecked (loading their data fixtures, keeping their
        statements and the schema when asked). Should one of the last ``others`` fail, it ends
        there: its id."""
        for ran, rev in enumerate(before, start=1):
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
        self._fail(UPGRADE_FAILS, rev, f"upgrade of {rev.id} failed: {error_line(exc.error)}",
                   line=_line(rev, "upgrade"))

    def _upgrade(self, conn: sa.Connection, rev: Revision) -> None:
        """Run a revision's upgrade, keeping its statements when asked."""
        if rev.id in self.capture:
            with capture_statements(conn) as self.statements[rev.id]:
                apply(rev, "upgrade")
        else:
            apply(rev, "upgrade")

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
            self._fail(UPGRADE_FAILS, rev, f"upgrade of {rev.id} calls "
                       f"{ast.unparse(committing)} outside an autocommit block: `alembic "
                       "upgrade` exits 0 but rolls back what follows the commit, and the "
                       "version stamp, so the revision never lands", line=committing.lineno,
                       hint=COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK.hint)
            self.outcomes.append(Outcome(rev.id, "failed", path, note))
            return False
        before_upgrade = not autocommit  # a savepoint holds the state before the upgrade
        memo = _memo(self.context)
        if before_upgrade:
            self._savepoint(conn, rev, "upgrade", "SAVEPOINT dbci_upgrade")
        root = conn.get_transaction()
        try:
            self._upgrade(conn, rev)
        except RevisionFailed as exc:
            if before_upgrade:
                self._savepoint(conn, rev, "upgrade", "ROLLBACK TO SAVEPOINT dbci_upgrade")
            _restore(self.context, memo)
            self._upgrade_failed(rev, exc)
            self.outcomes.append(Outcome(rev.id, "failed", path, note))
            return False
        self._after(conn, rev, "upgrade", autocommit, root)
        up = self._read(whole=autocommit)
        previous, rows_before = self._settle(conn, up)
        failed_before = len(self.findings)
        if is_irreversible(rev):
            self.outcomes.append(Outcome(rev.id, "skipped", path, "irreversible"))
        elif not before_upgrade:
            carried = self._check_downgrade_autocommit(conn, rev, previous, rows_before, memo)
            if carried is not True:
                self.outcomes.append(Outcome(rev.id, "failed", path, carried or ""))
                return False
        else:
            upgraded = _memo(self.context)
            self._savepoint(conn, rev, "downgrade", "SAVEPOINT dbci_downgrade")
            try:
                differs = self._check_downgrade(conn, rev, up.keys, previous, rows_before)
                left = capture(conn) if differs else None
            except BaseException:
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade")
                raise
            _restore(self.context, upgraded)  # the downgrade is undone: what it created too
            if left is None:  # back to the upgrade, which stays: one round trip
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade; "
                                "RELEASE SAVEPOINT dbci_upgrade")
                before_upgrade = False
            else:
                self._savepoint(conn, rev, "downgrade", "ROLLBACK TO SAVEPOINT dbci_downgrade")
                self._explain(conn, rev, left, failed_before, memo)
        if before_upgrade:
            self._savepoint(conn, rev, "upgrade", "RELEASE SAVEPOINT dbci_upgrade")
        if not (self.outcomes and self.outcomes[-1].revision == rev.id):
            status = "failed" if len(self.findings) > failed_before else "passed"
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
            raise _commits(rev, direction)
        if sent:
            driver.commit()  # nothing left to commit; psycopg2 begins afresh at the next statement
        # ``op.get_bind().commit()``: Alembic still holds the transaction that ended
        ended = self.context._transaction
        if ended is not None and not ended.is_active:
            self.context._transaction = conn.get_transaction() or conn.begin()

    def _savepoint(self, conn: sa.Connection, rev: Revision, direction: str, text: str) -> None:
        """One of the round trip's own savepoint commands around a revision's ``direction``;
        should the savepoint be gone, the revision ended the transaction in a way neither its
        source nor the driver showed: say so, naming it."""
        try:
            run_plain(conn, text)
        except conn.dialect.loaded_dbapi.Error as exc:
            if getattr(exc, "pgcode", None) != errorcodes.INVALID_SAVEPOINT_SPECIFICATION:
                raise
            raise _commits(rev, direction) from exc

    def _capture_schema(self, conn: sa.Connection, ran: int) -> None:
        """The whole schema, once ``schema_after`` revisions have run: theirs alone, unless a
        data fixture changed it too."""
        if ran == self.schema_after and not self.fixture_ddl:
            self.schema = capture(conn)

    def _explain(self, conn: sa.Connection, rev: Revision, left: Captured, first: int,
                 memo: dict[str, Any]) -> None:
        """Attach migra's SQL from what the downgrade left to the schema before the upgrade:
        roll back to before the upgrade, capture it, then upgrade again to carry on (the
        savepoint stays, to be released). Alembic's memo of the named types it created goes
        back to before the upgrade too (``memo``), or the upgrade would not create them again."""
        self._savepoint(conn, rev, "upgrade", "ROLLBACK TO SAVEPOINT dbci_upgrade")
        _restore(self.context, memo)
        statements = migra_sql(left, capture(conn))
        apply(rev, "upgrade")
        self._settle(conn, self._read())  # the same units, with new oids
        for index in range(first, len(self.findings)):
            finding = self.findings[index]
            if finding.rule in {LEAVES.id, DROPS.id, CHANGES.id} and statements:
                sql = "\n".join(statements)
                self.findings[index] = dataclasses.replace(finding, detail=(
                    f"{finding.detail}\nmigra, what the downgrade should also do:\n{sql}"))
                break

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
                self._fail(DOWNGRADE_FAILS, rev, f"downgrade of {rev.id} failed: "
                           f"{_raised(exc.error)}", line=_line(rev, "downgrade"))
            return False
        self._after(conn, rev, "downgrade", may_commit, root)
        return True

    def _check_downgrade(self, conn: sa.Connection, rev: Revision, up_keys: set[UnitKey] | None,
                         previous: dict[UnitKey, Unit | None],
                         rows_before: dict[str, Digest | None]) -> bool:
        """Downgrade, compare with before the upgrade; True when the schema differs."""
        if not self._downgrade(conn, rev):
            return False
        down = self._read(keep=False)  # the savepoint is rolled back after
        keys = None if up_keys is None or down.keys is None else up_keys | down.keys
        after = self.catalog.now(keys, down.units, down.keys)
        reported = self._report(rev, self._expected(previous, keys), after, keys)
        self._report_rows(rev, self.rows.compare(conn, down, rows_before), reported)
        return bool(reported)

    def _check_downgrade_autocommit(self, conn: sa.Connection, rev: Revision,
                                    previous: dict[UnitKey, Unit | None],
                                    rows_before: dict[str, Digest | None],
                                    memo: dict[str, Any]) -> bool | str | None:
        """No savepoint can hold a revision that commits: commit the upgrade, downgrade,
        compare, upgrade again. True to carry on; else the run stops there, with the note to
        give (None: the findings say why), when the upgrade cannot run again over what the
        downgrade left, or a failed downgrade committed part of its work."""
        upgraded = _memo(self.context)
        self._commit()  # a failed downgrade rolls back to here: the upgrade, whole
        if not self._downgrade(conn, rev, may_commit=True):
            _restore(self.context, upgraded)
            return True if self._recovered(conn) else \
                "its downgrade failed after committing part of its work"
        down = self._read(whole=True)
        reported = self._report(rev, self._expected(previous, None), down.units, None)
        self._report_rows(rev, self.rows.compare(conn, down, rows_before), reported)
        _restore(self.context, memo)  # downgraded: Alembic creates its named types again
        root = conn.get_transaction()
        try:
            apply(rev, "upgrade")
        except RevisionFailed as exc:
            if not any(f.revision == rev.id for f in self.findings):
                self._fail(UPGRADE_FAILS, rev, f"{exc.reason}, run again after its downgrade",
                           line=_line(rev, "upgrade"))
            return None
        self._after(conn, rev, "upgrade", True, root)
        self._settle(conn, self._read(whole=True))
        return True

    def _recovered(self, conn: sa.Connection) -> bool:
        """After a failed downgrade of a revision that commits: roll back what it left
        uncommitted, then read everything again; True when schema and rows are as the upgrade
        left them (committed just before the downgrade)."""
        conn.rollback()
        conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]  # one SA missed
        self.context._transaction = conn.begin() if self.context._transaction is not None \
            else None
        self.rows.committed()
        units, rows = self._settle(conn, self._read(whole=True))
        return (all(self.catalog.units.get(key) == unit for key, unit in units.items())
                and all(self.rows.digests.get(name) == digest for name, digest in rows.items()))

    def _expected(self, previous: dict[UnitKey, Unit | None],
                  keys: set[UnitKey] | None) -> Snapshot:
        """The schema before the upgrade, over ``keys`` (all when None)."""
        wanted = set(self.catalog.units) | set(previous) if keys is None else keys
        out: Snapshot = {}
        for key in wanted:
            unit = previous[key] if key in previous else self.catalog.units.get(key)
            if unit is not None:
                out[key] = unit
        return out

    def _read(self, whole: bool = False, discover: bool = False, keep: bool = True) -> Read:
        """What the statements since the last read did; nothing is read when none ran."""
        assert self.reader is not None and self.watch is not None
        ran, wrote = self.watch.look()
        if not (ran or whole or discover):
            return NOTHING
        return self.reader.read(self.rows.known(), discover=wrote or discover, whole=whole,
                                keep=keep)

    def _settle(self, conn: sa.Connection,
                read: Read) -> tuple[dict[UnitKey, Unit | None], dict[str, Digest | None]]:
        """Take a read as the state things stand in; what the units and rows were before."""
        return self.catalog.apply(read.keys, read.units), self.rows.update(conn, read)

    def _report(self, rev: Revision, expected: Snapshot, after: Snapshot,
                keys: set[UnitKey] | None) -> set[str]:
        """Report schema differences; the ``schema.table`` names whose shape changed."""
        tables = set()
        upgraded = {k: u for k in (self.catalog.units if keys is None else keys)
                    if (u := self.catalog.units.get(k)) is not None}
        by_downgrade = {(d.change, d.object) for d in snapshot.compare(upgraded, after, keys)}
        for diff in snapshot.compare(expected, after, keys):
            self._fail(BY_CHANGE[diff.change], rev, _message(rev, diff),
                       line=_line(rev, "downgrade"), object=diff.object, detail=_detail(diff),
                       hint=_hint(diff, (diff.change, diff.object) in by_downgrade))
            tables.add(".".join(diff.object.split(".")[:2]))
        return tables

    def _report_rows(self, rev: Revision, changed: list[tuple[str, Digest, Digest | None]],
                     reshaped: set[str]) -> None:
        """Rows that changed, except in tables whose changed shape is reported already."""
        for name, (rows, _), now in changed:
            if name.replace('"', "") in reshaped:
                continue
            what = ("is gone or empty" if now is None else
                    f"has {now[0]} rows instead of {rows}" if now[0] != rows else
                    f"has its {rows} rows changed")
            self._fail(CHANGES_ROWS, rev, f"after upgrade then downgrade of {rev.id}, {name} "
                       f"{what}", line=_line(rev, "downgrade"), object=name.replace('"', ""))

    def _load_data(self, conn: sa.Connection, rev: Revision) -> None:
        """Run ``roundtrip_data/<revision>.sql``: rows later steps must keep."""
        path = self.data.get(rev.id)
        if path is not None:
            self._settle(conn, self._read())  # what ran before the fixture is not the fixture's
            shown = display_path(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInput(f"{shown}: cannot read the data fixture ({error_line(exc)}); "
                               "save it as UTF-8 text") from exc
            try:
                conn.exec_driver_sql(text.replace("%", "%%"))
            except sa.exc.DBAPIError as exc:
                if is_connection_lost(exc):
                    raise
                raise BadInput(f"{shown}: {error_line(exc)}; fix the data fixture") from exc
            read = self._read(discover=True)  # rows anywhere, DDL perhaps
            self.fixture_ddl |= read.keys != set()
            self._settle(conn, read)

    def _fail(self, which: Rule, rev: Revision, message: str, *, line: int | None,
              object: str | None = None, detail: str | None = None,
              hint: str | None = None) -> None:
        finding = which.at(rev, message, line=line, object=object, detail=detail, hint=hint)
        if not allowed(rev).get(finding.rule):
            self.findings.append(finding)


def _commits(rev: Revision, direction: str) -> BadInput:
    """A revision that ended the transaction the round trip holds it in, as one line naming it."""
    return BadInput(f"{rev.display}: the {direction} of {rev.id} commits the transaction it "
                    "runs in (COMMIT, or .commit() on the connection), so dbci cannot undo it "
                    "to check it; run statements that must be outside a transaction inside "
                    "`with op.get_context().autocommit_block():`")


def _memo(context: MigrationContext) -> dict[str, Any]:
    """A copy of Alembic's memo of the named types (enums) its operations created or dropped in
    this run: SQLAlchemy consults it to make each only once per run (checked on Alembic 1.20,
    SQLAlchemy 2.1), so where the round trip undoes a step, the memo must forget it too."""
    return {kind: set(names) for kind, names in context.impl.memo.items()}


def _restore(context: MigrationContext, memo: dict[str, Any]) -> None:
    """Put back Alembic's memo as :func:`_memo` copied it."""
    context.impl.memo.clear()
    context.impl.memo.update({kind: set(names) for kind, names in memo.items()})


def _raised(error: BaseException) -> str:
    """What a downgrade raised: the database's line, or a Python error with its type, so a
    ``NotImplementedError`` that is not the revision's own says what it is."""
    return described(error) if isinstance(error, NotImplementedError) else error_line(error)


def _line(rev: Revision, function: str) -> int | None:
    node = rev.function(function)
    return node.lineno if node else None


def _hint(diff: Difference, downgrade_did_it: bool) -> str | None:
    """The fix for one difference, by which step made it: the upgrade (the downgrade forgot to
    undo it) or the downgrade itself (it did too much)."""
    what = f"{diff.kind} {diff.object}"
    if diff.change == "removed" and not downgrade_did_it:
        return f"recreate in downgrade() the {what}, which upgrade() dropped"
    if diff.change == "added" and downgrade_did_it:
        return f"downgrade() creates the {what}, which was not there before upgrade(): drop " \
               "that from downgrade()"
    return None  # the rule's own hint fits


def _message(rev: Revision, diff: Difference) -> str:
    verb = {"added": "leaves", "removed": "drops", "changed": "changes"}[diff.change]
    tail = {"added": " behind", "removed": "", "changed": ""}[diff.change]
    return f"downgrade of {rev.id} {verb} {diff.kind} {diff.object}{tail}"


def _detail(diff: Difference) -> str:
    lines = []
    if diff.before is not None:
        lines.append(f"before upgrade:         {diff.before}")
    if diff.after is not None:
        lines.append(f"after upgrade+downgrade: {diff.after}")
    return "\n".join(lines)


@dataclass
class RoundTripResult:
    """What the round trip found, how each revision fared, and whether head was reached."""

    findings: list[Finding]
    outcomes: list[Outcome]
    seconds: float
    reached_head: bool
    statements: dict[str, list[Statement]] = dataclasses.field(default_factory=dict)
    schema: Captured | None = None  # the schema after ``schema_after`` revisions, when asked

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def stopped_at(self) -> str | None:
        """The revision whose failed upgrade stopped the run (None: the run reached its end)."""
        failed = [o.revision for o in self.outcomes if o.status == "failed"]
        return None if self.reached_head or not failed else failed[-1]

    def with_status(self, status: str) -> list[str]:
        """The revisions that ended with ``status``, in run order."""
        return [o.revision for o in self.outcomes if o.status == status]

    @property
    def summary(self) -> str:
        """``14 revisions: 13 passed, 1 failed (04_af7d7e1617c9) in 0.6s``."""
        parts = [f"{len(self.with_status('passed'))} passed"]
        for status in ("failed", "skipped", "not run"):
            if ids := self.with_status(status):
                parts.append(f"{len(ids)} {status} ({', '.join(ids)})")
        if not self.outcomes:
            return "no revisions to check"
        return (f"{count(len(self.outcomes), 'revision')}: {', '.join(parts)} in "
                f"{self.seconds:.1f}s")

    @property
    def notes(self) -> list[str]:
        """Skipped revisions and why; revisions that took the slower path."""
        lines = [f"{o.revision} {o.status} ({o.note})" for o in self.outcomes
                 if o.status == "skipped"]
        slow = [o for o in self.outcomes if o.path != "fast"]
        if slow:
            why = sorted({o.note for o in slow if o.path == "whole snapshots" and o.note
                          and o.status != "skipped"})
            lines.append(f"{count(len(slow), 'revision')} took the slower whole-snapshot path "
                         f"({', '.join(sorted({o.path for o in slow}))})"
                         + "".join(f": {reason}" for reason in why))
        return lines


@dataclass
class Started:
    """A round trip under way: its range, the database this process checks on, and the second
    worker, if there is one, already checking the first ``first`` revisions of ``checked``."""

    history: History
    before: list[Revision]
    checked: list[Revision]
    target: targets.Target
    began: float
    first: int = 0
    child: Child[Part] | None = None
    also: Any = None  # what the second worker's ``also`` gave, once :func:`finish` has it


#: Work the second worker does beside its part: given a stack that closes after the handover,
#: what it makes ahead of its part (dropped then); then, given its connection
#: at the end of that part, what it hands over.
Also = Callable[[contextlib.ExitStack], Callable[[sa.Connection], Any]]


@dataclass
class Part:
    """What the second worker hands over: its round trip, and what its ``also`` gave."""

    result: RoundTripResult
    also: Any = None


@contextlib.contextmanager
def begin(config: Config, start: str | None = None, end: str | None = None,
          shard: tuple[int, int] | None = None, target: targets.Target | None = None,
          share: float = FIRST_SHARE, also: Also | None = None) -> Iterator[Started]:
    """Start a round trip over a range: on ``target`` (an empty scratch database), else on a new
    scratch database, dropped at the end. With two workers (see :func:`_split`), a forked child
    starts checking ``share`` of the range on a scratch database of its own at once, so the
    caller can do other work (lint) before :func:`roundtrip` checks the rest; then it does
    ``also`` (its value is ``Started.also`` after :func:`finish`; None without a child)."""
    history = load_history(config)
    for path in history.orphan_fixtures():
        raise BadInput(f"{display_path(path)}: names no revision of this history, so it would "
                       "never be loaded; rename it after its revision or delete it")
    before, checked = select(history.order(), start, end, shard)
    began = time.monotonic()
    with contextlib.ExitStack() as outer, contextlib.ExitStack() as stack:
        gc.freeze()  # the loaded modules and history: the collector need not walk them again
        outer.callback(gc.unfreeze)  # (in either process: the child starts from this heap)
        if target is None and config.database_url is None:
            embedded_url()  # the embedded server is up before the child starts
        elif target is None:  # a server of the user's may lend its one database: see first
            target = stack.enter_context(targets.scratch(config))
        first = _split(config, checked, target, share)
        child = outer.enter_context(beside(partial(  # waited for once this run's work is done
            _first_part, config, history, before, checked[:first], also))) if first else None
        if target is None:  # the embedded server's, made while the child makes its own
            target = stack.enter_context(targets.scratch(config))
        yield Started(history, before, checked, target, began, first, child)


def roundtrip(config: Config, start: str | None = None, end: str | None = None,
              shard: tuple[int, int] | None = None,
              progress: Callable[[str], None] | None = None,
              target: targets.Target | None = None, capture: frozenset[str] = frozenset(),
              schema_after: int | None = None, started: Started | None = None) -> RoundTripResult:
    """Check every revision in range (see :func:`begin`); or, of a round trip ``started``
    already, this process's part alone (:func:`finish` adds the second worker's).

    What else needs the revisions run comes along: the statements the upgrades of ``capture``
    sent (for squawk), and the whole schema once ``schema_after`` revisions of the history's
    order have run (the base branch's head, for the diff; None when a data fixture changed the
    schema). With two workers, this process upgrades through the child's part unchecked, then
    checks the rest, so its database ends at the range's end.
    """
    if started is None:
        with begin(config, start, end, shard, target) as started:
            return finish(started, roundtrip(config, progress=progress, capture=capture,
                                             schema_after=schema_after, started=started))
    before, checked, first = started.before, started.checked, started.first
    if not checked:
        return RoundTripResult([], [], 0.0, True)  # an empty history (or shard): nothing to do
    if schema_after is not None:
        load_inspector()  # not in the middle of the run: see there
    trip = RoundTrip(config, started.history, progress, capture, schema_after)
    with targets.connect(started.target) as connection:
        trip.run(connection, before + checked[:first], checked[first:], others=first)
    return RoundTripResult(trip.findings, trip.outcomes, time.monotonic() - started.began,
                           not trip.stopped, trip.statements, trip.schema)


def finish(started: Started, own: RoundTripResult) -> RoundTripResult:
    """The whole round trip: this process's part (``own``) after the second worker's, whose
    failed upgrade, should there be one, stopped this process at the same revision."""
    if started.child is None:
        return own
    handed = started.child.result()
    part, started.also = handed.result, handed.also
    if part.reached_head:
        findings, outcomes = part.findings + own.findings, part.outcomes + own.outcomes
    else:
        findings = part.findings
        outcomes = part.outcomes + [Outcome(r.id, "not run", note=f"after {part.stopped_at} "
                                            "failed") for r in started.checked[started.first:]]
    return dataclasses.replace(own, findings=findings, outcomes=outcomes,
                               seconds=time.monotonic() - started.began,
                               reached_head=own.reached_head and part.reached_head)


def _split(config: Config, checked: list[Revision], target: targets.Target | None,
           share: float) -> int:
    """How many revisions, from the start of ``checked``, a second worker checks (0: none).

    Only where it pays and is safe: two workers asked for, a long enough range, Linux with two
    CPUs, and a server where dbci may create a database (not one it was lent; ``target`` is
    None on the embedded server, where dbci always may)."""
    if (config.settings.roundtrip_workers < 2 or len(checked) < SPLIT_FROM
            or not beside_available() or (target is not None and lent(target.url))):
        return 0
    return round(len(checked) * share)


@contextlib.contextmanager
def _first_part(config: Config, history: History, before: list[Revision],
                checked: list[Revision], also: Also | None) -> Iterator[Part]:
    """The second worker's run: ``checked`` on a scratch database of its own, then ``also``;
    what they made is dropped after the result is handed over."""
    trip = RoundTrip(config, history)
    with contextlib.ExitStack() as stack:
        rest = also(stack) if also else None
        connection = stack.enter_context(targets.connect(stack.enter_context(
            targets.scratch(config))))
        trip.run(connection, before, checked)
        yield Part(RoundTripResult(trip.findings, trip.outcomes, 0.0, not trip.stopped),
                   rest(connection) if rest and not trip.stopped else None)

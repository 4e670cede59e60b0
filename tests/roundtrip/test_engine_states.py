"""The round trip's state machine (see the top of ``ci/roundtrip/engine.py``): each step starts
from the state the one before it left, whatever it was: a pass, a finding, a failed upgrade or
downgrade, a self-commit, an autocommit block, a periodic commit, on either worker. Each test
checks one transition by what the next revision can do: it runs on the state it expects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Run, dbci, empty_history, fixture_project, superuser, write_revision
from sqlalchemy.engine import make_url

from ci.roundtrip.fork import available

pytestmark = pytest.mark.db

TABLE = 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), ' \
        'sa.Column("x", sa.Integer))'
#: A revision that commits twice itself: ``.commit()`` on the connection, then an autocommit
#: block (a concurrent index, as teams write it), with a downgrade that does it right.
SELF_COMMIT = ('op.get_bind().commit()\nwith op.get_context().autocommit_block():\n'
               '    op.create_index("ix_{n}", "t", ["x"], postgresql_concurrently=True)')
SELF_COMMIT_DOWN = ('with op.get_context().autocommit_block():\n'
                    '    op.drop_index("ix_{n}", table_name="t", postgresql_concurrently=True)')


def add_column(n: int) -> tuple[str, str]:
    return (f'op.add_column("t", sa.Column("c{n}", sa.Integer))',
            f'op.drop_column("t", "c{n}")')


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """``history(upgrade, downgrade)``: append a revision (``rNNN``) to an empty project whose
    first revision creates ``t(id, x)``; its id."""
    root = fixture_project("enum_left_behind", tmp_path)
    folder = root / "migrations" / "versions"
    for path in folder.glob("*.py"):
        path.unlink()
    monkeypatch.chdir(root)
    made: list[str] = []

    def add(upgrade: str, downgrade: str = "pass") -> str:
        revision = f"r{len(made):03d}"
        write_revision(folder, f"{revision}.py", revision, made[-1] if made else None,
                       upgrade=upgrade, downgrade=downgrade)
        made.append(revision)
        return revision

    add(TABLE, 'op.drop_table("t")')
    yield add


def roundtrip(*args: str) -> Run:
    return dbci("--json", "roundtrip", *args)


def outcomes(run: Run) -> dict[str, tuple[str, str]]:
    """Revision -> (status, path)."""
    return {r["revision"]: (r["status"], r["path"]) for r in run.json()["revisions"]}


def found(run: Run) -> set[tuple[str, str]]:
    return {(f["rule"], f["revision"]) for f in run.json()["findings"]}


# -- a finding: back to before the upgrade (for migra), upgraded again, unless all the ------------
# -- downgrade did wrong is leave things behind ----------------------------------------------------


def test_an_enum_left_behind_is_a_finding_not_a_failed_upgrade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic's most common downgrade mistake: ``drop_table`` leaves the table's enum type.
    migra's view of the state before the upgrade is what the downgrade left, less the type."""
    monkeypatch.chdir(fixture_project("enum_left_behind", tmp_path))
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["object"]) == ("downgrade-leaves-objects", "public.kind")
    assert 'drop type "public"."kind"' in finding["detail"]


@pytest.mark.parametrize("also", ["", '\nop.alter_column("t", "x", type_=sa.BigInteger)'],
                         ids=["left behind", "and a column's type changed"])
def test_after_a_finding_the_next_revision_runs_on_the_upgrade(
        history: Callable[..., str], also: str) -> None:
    """The type is left behind; where the downgrade also changed a column's type, the round trip
    goes back to before the upgrade and runs it again: SQLAlchemy would skip creating the type
    it remembers having created in this run, were that memory not put back too."""
    enum = history('op.create_table("e", sa.Column("k", sa.Enum("a", "b", name="kind")))',
                   f'op.drop_table("e"){also}')  # leaves the type: a finding
    after = history('op.execute("ALTER TABLE e ADD COLUMN k2 kind")',  # the type and e are
                    'op.execute("ALTER TABLE e DROP COLUMN k2")')  # there: upgraded again
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-leaves-objects", enum)} | (
        {("downgrade-changes-objects", enum)} if also else set())
    assert outcomes(run)[after] == ("passed", "fast")
    assert {f["detail"].split("also do:\n")[1] for f in run.json()["findings"]
            if "also do:" in f["detail"]} == {
        ('alter table "public"."t" alter column "x" set data type integer using "x"::integer;\n'
         if also else '')
        + 'drop type "public"."kind";'}


# -- a pass, and a failed downgrade on the fast path: the savepoints hold it ---------------


def test_after_a_pass_and_a_failed_downgrade_the_run_carries_on(
        history: Callable[..., str]) -> None:
    passes = history(*add_column(1))
    fails = history(*add_column(2)[:1], 'op.drop_column("t", "no_such_column")')
    after = history('op.execute("UPDATE t SET c1 = 1, c2 = 2")')
    run = roundtrip()
    assert found(run) == {("downgrade-fails", fails)}
    assert outcomes(run)[passes] == outcomes(run)[after] == ("passed", "fast")


def test_a_failed_upgrade_stops_the_run(history: Callable[..., str]) -> None:
    fails = history('op.execute("SELECT 1/0")')
    after = history(*add_column(1))
    run = roundtrip()
    assert run.code == 1 and found(run) == {("upgrade-fails", fails)}
    assert outcomes(run)[after] == ("not run", "fast")
    assert run.json()["reached_head"] is False


# -- revisions that commit themselves --------------------------------------------------------


def test_a_failed_downgrade_of_a_self_committing_revision_is_a_finding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its downgrade drops the index concurrently outside an autocommit block: the server
    refuses, in the transaction the round trip holds; that is rolled back to the committed
    upgrade, and the run carries on."""
    monkeypatch.chdir(fixture_project("concurrent_downgrade_fails", tmp_path))
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("downgrade-fails", "bbbbbbbbbbb2")
    assert "DROP INDEX CONCURRENTLY cannot run inside a transaction block" in finding["message"]
    assert finding["file"] == "migrations/versions/bbbbbbbbbbb2_index_x.py"
    assert outcomes(run) == {"aaaaaaaaaaa1": ("passed", "fast"),
                             "bbbbbbbbbbb2": ("failed", "autocommit"),
                             "ccccccccccc3": ("passed", "fast")}


def test_a_self_committing_downgrade_that_fails_part_way_stops_the_run(
        history: Callable[..., str]) -> None:
    """Its autocommit block committed the index's drop before the downgrade failed: the state
    is neither the upgrade's nor the one before it, so no later revision can be checked."""
    fails = history(SELF_COMMIT.format(n=1), SELF_COMMIT_DOWN.format(n=1)
                    + '\nop.execute("SELECT 1/0")')
    after = history(*add_column(1))
    run = roundtrip()
    assert found(run) == {("downgrade-fails", fails)}
    doc = run.json()
    assert outcomes(run)[fails] == ("failed", "autocommit")
    assert "committing part of its work" in doc["revisions"][1]["note"]
    assert outcomes(run)[after][0] == "not run" and doc["reached_head"] is False


def test_after_a_self_commit_the_next_revision_runs_in_a_transaction(
        history: Callable[..., str]) -> None:
    committing = history(SELF_COMMIT.format(n=1), SELF_COMMIT_DOWN.format(n=1))
    after = history(*add_column(1))
    leaves = history(*add_column(2)[:1])  # then a finding: its savepoints work again
    run = roundtrip()
    assert found(run) == {("downgrade-leaves-objects", leaves)}
    assert outcomes(run)[committing] == ("passed", "autocommit")
    assert outcomes(run)[after] == ("passed", "fast")


def test_a_self_committing_downgrade_that_drops_more_is_found_by_what_it_touched(
        history: Callable[..., str]) -> None:
    """The autocommit path reads what each step touched, as the fast path does: a table its
    downgrade drops that the upgrade never touched is found; the upgrade runs again on what the
    downgrade left, and the next revision runs on that."""
    history('op.create_table("u", sa.Column("id", sa.Integer))', 'op.drop_table("u")')
    up, down = add_column(1)
    drops = history(f"{SELF_COMMIT.format(n=1)}\n{up}",
                    f'{SELF_COMMIT_DOWN.format(n=1)}\n{down}\nop.drop_table("u")')
    after = history(*add_column(2))
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    objects = {(f["rule"], f["revision"], f["object"]) for f in run.json()["findings"]}
    assert objects == {("downgrade-drops-objects", drops, "public.u")}
    assert outcomes(run)[drops] == ("failed", "autocommit")
    assert outcomes(run)[after] == ("passed", "fast")


def test_rows_a_self_committing_downgrade_deletes_before_its_commit_are_found(
        history: Callable[..., str]) -> None:
    """The downgrade deletes rows, then its autocommit block commits: the server's write
    counters may start afresh at that commit (when the session's statistics are flushed, which
    the revision asks for here), so every table's rows are digested again."""
    history('op.create_table("r", sa.Column("id", sa.Integer))\n'
            'op.execute("INSERT INTO r VALUES (1), (2)")', 'op.drop_table("r")')
    wipes = history(SELF_COMMIT.format(n=1),  # its DDL touches t alone
                    f'op.execute("DELETE FROM r WHERE id = 2")\n'
                    f'op.execute("SELECT pg_stat_force_next_flush()")\n'
                    f'{SELF_COMMIT_DOWN.format(n=1)}')
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-changes-rows", wipes)}
    assert outcomes(run)[wipes] == ("failed", "autocommit")


def test_rows_written_before_a_flush_in_the_revisions_brought_up_are_watched(
        history: Callable[..., str]) -> None:
    """The revisions before ``--from`` run unread; when one commits itself, the session's
    statistics may be flushed (which it asks for here) and the write counters no longer name
    the table an earlier one filled: the read after them digests every table, so the rows a
    checked downgrade deletes are found."""
    history('op.create_table("r", sa.Column("id", sa.Integer))\n'
            'op.execute("INSERT INTO r VALUES (1), (2)")', 'op.drop_table("r")')
    history('op.execute("SELECT pg_stat_force_next_flush()")\n' + SELF_COMMIT.format(n=1),
            SELF_COMMIT_DOWN.format(n=1))
    wipes = history('op.execute("INSERT INTO r VALUES (3)")', 'op.execute("DELETE FROM r")')
    run = roundtrip("--from", wipes)
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-changes-rows", wipes)}


def test_rows_an_autocommit_block_writes_before_a_flush_are_watched(
        history: Callable[..., str]) -> None:
    """An autocommit block makes a table and fills it, and the session's statistics are flushed
    before the block ends (asked for here): no write counter names the table when it is read,
    yet its rows are digested, so a later downgrade that deletes them is found."""
    history('with op.get_context().autocommit_block():\n'
            '    op.execute("CREATE TABLE q (id int)")\n'
            '    op.execute("INSERT INTO q VALUES (1), (2)")\n'
            '    op.execute("SELECT pg_stat_force_next_flush()")',
            'with op.get_context().autocommit_block():\n    op.execute("DROP TABLE q")')
    wipes = history("pass", 'op.execute("DELETE FROM q")')
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-changes-rows", wipes)}


def test_a_commit_on_the_connection_is_a_failed_upgrade_and_stops_the_run(
        history: Callable[..., str]) -> None:
    """``op.get_bind().commit()`` outside an autocommit block: ``alembic upgrade`` exits 0 on it
    but rolls back what follows the commit and the version stamp (the oracle's verdict), so the
    run stops there -> STOPPED, the rest not run."""
    committing = history('op.get_bind().commit()\nop.add_column("t", sa.Column("c", sa.Integer))',
                         'op.drop_column("t", "c")')
    after = history('op.add_column("t", sa.Column("d", sa.Integer))', 'op.drop_column("t", "d")')
    run = dbci("--json", "roundtrip")
    assert run.code == 1, run.err
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("upgrade-fails", committing)
    assert "calls op.get_bind().commit() outside an autocommit block" in finding["message"]
    statuses = {r["revision"]: r["status"] for r in run.json()["revisions"]}
    assert (statuses[committing], statuses[after]) == ("failed", "not run")


def test_a_commit_its_source_does_not_show_names_the_revision(
        history: Callable[..., str]) -> None:
    """A COMMIT its source does not show ends the transaction holding the savepoint: the one
    line names the revision and its file (exit 2), as docs/how-checks-work.md says."""
    committing = history('op.execute("COM" + "MIT")\n'
                         'op.add_column("t", sa.Column("c", sa.Integer))',
                         'op.drop_column("t", "c")')
    run = dbci("roundtrip")
    assert run.code == 2, run.err
    assert f"migrations/versions/{committing}.py: the upgrade of {committing} commits the " \
        "transaction it runs in" in run.err
    assert "savepoint" not in run.err


# -- periodic commits, after revisions that committed themselves --------------------------------


def long_history(add: Callable[..., str], count: int, committing: set[int]) -> list[str]:
    """``count`` revisions adding a column each; those numbered in ``committing`` commit
    themselves first."""
    ids = []
    for n in range(1, count + 1):
        up, down = add_column(n)
        if n in committing:
            up, down = f"{SELF_COMMIT.format(n=n)}\n{up}", f"{down}\n{SELF_COMMIT_DOWN.format(n=n)}"
        ids.append(add(up, down))
    return ids


def test_a_periodic_commit_after_a_self_committing_revision(
        history: Callable[..., str]) -> None:
    """More than COMMIT_EVERY (100) revisions, some committing themselves before the 100th:
    the periodic commit commits the transaction Alembic began after theirs."""
    ids = long_history(history, 104, {5, 50, 99, 101})
    run = roundtrip()
    assert run.code == 0, run.out + run.err
    assert {status for status, _ in outcomes(run).values()} == {"passed"}
    assert {outcomes(run)[ids[n - 1]][1] for n in (5, 50, 99, 101)} == {"autocommit"}


def test_what_the_bring_up_made_is_traced_by_the_checks_after_it(
        history: Callable[..., str]) -> None:
    """The revisions before the range run without the event triggers (nothing reads what they
    touched); a checked revision that drops or renames what they made is still read by what it
    touched, on the fast path."""
    history('op.create_index("ix_t_x", "t", ["x"])', 'op.drop_index("ix_t_x", table_name="t")')
    drops = history('op.drop_index("ix_t_x", table_name="t")')  # and never makes it again
    renames = history('op.rename_table("t", "u")', 'op.rename_table("u", "t")')
    run = roundtrip("--from", drops)
    assert outcomes(run) == {drops: ("failed", "fast"), renames: ("passed", "fast")}
    assert {(f["rule"], f["revision"], f["object"]) for f in run.json()["findings"]} == {
        ("downgrade-drops-objects", drops, "public.ix_t_x")}


def test_a_periodic_commit_while_bringing_up_the_revisions_before_the_range(
        history: Callable[..., str]) -> None:
    ids = long_history(history, 103, {3, 60})
    run = roundtrip("--from", ids[-1])
    assert run.code == 0, run.out + run.err
    assert outcomes(run) == {ids[-1]: ("passed", "fast")}


two_cpus = pytest.mark.skipif(not available(), reason="a second worker needs Linux, 2 CPUs")


@two_cpus
def test_both_workers_commit_after_self_committing_revisions(
        history: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The second worker checks the first part, the first process brings it up unchecked, and
    both commit every few revisions after revisions that committed themselves."""
    monkeypatch.setattr("ci.roundtrip.workers.SPLIT_FROM", 4)
    monkeypatch.setattr("ci.roundtrip.engine.COMMIT_EVERY", 3)
    ids = long_history(history, 12, {2, 4, 9})
    leaves = history(*add_column(99)[:1])
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-leaves-objects", leaves)}
    assert [outcomes(run)[r][0] for r in ids] == ["passed"] * 12


# -- skips: only the revision's own word --------------------------------------------------------


def test_a_not_implemented_error_from_library_code_is_a_failed_downgrade(
        history: Callable[..., str]) -> None:
    """Alembic raises NotImplementedError for what an operation cannot do; that is no reason
    the revision gave, so no skip."""
    fails = history(*add_column(1)[:1], 'with op.batch_alter_table("t") as batch:\n'
                    '    batch.drop_column("c1")\n'
                    '    batch.impl.create_table(None)  # "Can\'t create table in batch mode"')
    run = roundtrip()
    assert run.code == 1, run.out
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["revision"]) == ("downgrade-fails", fails)
    assert "NotImplementedError" in finding["message"]
    assert outcomes(run)[fails][0] == "failed"


def test_a_not_implemented_error_without_a_reason_is_a_failed_downgrade_and_a_lint_finding(
        history: Callable[..., str]) -> None:
    bare = history(*add_column(1)[:1], "raise NotImplementedError")
    run = roundtrip()
    assert found(run) == {("downgrade-fails", bare)}
    lint = dbci("--json", "lint")
    assert {(f["rule"], f["revision"]) for f in lint.json()["findings"]} >= {
        ("marker-without-reason", bare)}
    reasoned = history(*add_column(2)[:1],
                       'raise NotImplementedError("the column\'s data is gone")')
    assert not {(f["rule"], f.get("revision")) for f in dbci("--json", "lint").json()["findings"]
                } & {("marker-without-reason", reasoned), ("missing-downgrade", reasoned)}
    run = roundtrip()
    assert run.json()["revisions"][-1] == {"revision": reasoned, "status": "skipped",
                                           "path": "fast", "note": "irreversible"}


# -- the fast path's event triggers -------------------------------------------------------------


def test_a_superuser_takes_the_fast_path(history: Callable[..., str]) -> None:
    history(*add_column(1))
    run = roundtrip()
    assert run.code == 0
    assert {r["path"] for r in run.json()["revisions"]} == {"fast"}
    assert {r["note"] for r in run.json()["revisions"]} == {""}


def test_a_role_without_the_privilege_takes_whole_snapshots_and_says_why(
        history: Callable[..., str], make_role: Callable[..., str]) -> None:
    history(*add_column(1))
    url = make_role("CREATEDB")
    run = dbci("--json", "--database-url", url, "roundtrip")
    assert run.code == 0, run.out + run.err
    revisions = run.json()["revisions"]
    assert {r["path"] for r in revisions} == {"whole snapshots"}
    assert all("may not create event triggers" in r["note"] for r in revisions)
    text = dbci("--database-url", url, "roundtrip").out
    assert "took the slower whole-snapshot path: the role may not create " \
        "event triggers (permission denied" in text


def test_a_server_that_counts_no_writes_is_made_to_for_the_session(
        history: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``track_counts`` off (here for the session, as a server's configuration may have it):
    the round trip turns it on where the role may, or it would see no row change at all."""
    history('op.execute("INSERT INTO t VALUES (1, 1)")', 'op.execute("DELETE FROM t")')
    wipes = history("pass", 'op.execute("DELETE FROM t")')
    monkeypatch.setenv("PGOPTIONS", "-c track_counts=off")
    run = roundtrip()
    assert run.code == 1, run.out + run.err
    assert found(run) == {("downgrade-changes-rows", wipes)}


def test_a_role_that_may_not_count_writes_stops_the_run_naming_the_setting(
        history: Callable[..., str], make_role: Callable[..., str]) -> None:
    history(*add_column(1))
    url = make_role("CREATEDB")
    superuser(f'ALTER ROLE "{make_url(url).username}" SET track_counts = off')
    run = dbci("--database-url", url, "roundtrip")
    assert run.code == 3, run.out + run.err
    assert "does not count writes (track_counts = off) and this role may not turn it on" \
        in run.err and "Traceback" not in run.err
    assert "pw@" not in run.err


# -- an empty history: no error, for lint as for the round trip ----------------------------------


def test_an_empty_history_is_no_error_for_lint_nor_for_the_round_trip(project: Path) -> None:
    empty_history(project)
    trip = dbci("roundtrip")
    assert (trip.code, trip.out) == (0, "roundtrip: no revisions to check\n")
    lint = dbci("lint")
    assert lint.code == 0, lint.err
    assert lint.out.splitlines() == ["lint: 0 revisions in database/versions",
                                     "no revisions yet; write the first with `dbci new MESSAGE`",
                                     "lint: ok"]
    assert dbci("--json", "lint").json() == {"ok": True, "findings": []}

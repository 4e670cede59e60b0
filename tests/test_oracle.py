"""dbci's round trip against the naive oracle (``bench/oracle.py``: a fresh database per
revision, pg_dump and row digests) on real-shaped generated histories; ``make oracle`` runs
the long version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import oracle, realistic
from ci.roundtrip.workers import FIRST_SHARE

#: (seed, the revision whose upgrade fails): 40 revisions each (dbci splits them between two
#: workers at 24), a fork from 12 and its merge, self-commits at 23 to 25; the first holds a
#: defect of every kind, the second fails in the second worker's part, so 21 to 40 are not run.
HISTORIES = ((31, 40), (19, 20))


@pytest.mark.db
@pytest.mark.parametrize(("seed", "fail_at"), HISTORIES)
def test_dbci_gives_every_revision_the_oracles_verdict(tmp_path: Path, seed: int,
                                                       fail_at: int) -> None:
    result = oracle.agree(tmp_path / "history", seed, 40, os.environ.get("DATABASE_URL"),
                          jobs=2, fail_at=fail_at, commits=False)
    assert result.disagreements == [], "\n".join(result.lines())
    assert result.unintended == [], "\n".join(result.lines())  # the oracle is not vacuous
    assert len(set(result.oracle.values()) - {"passed", "upgrade-fails", "not run"}) >= 3
    assert result.sql[1], "\n".join(result.lines())  # migra's SQL was compared
    assert ("not run" in result.oracle.values()) == (fail_at < 40)


@pytest.mark.db
def test_a_revision_that_calls_commit_gets_the_oracles_verdict(tmp_path: Path) -> None:
    """Revision 24 adds a column, calls op.get_bind().commit(), then backfills it: `alembic
    upgrade` exits 0 but rolls back the backfill and the version stamp, so the oracle says
    upgrade-fails, and so does dbci (the rest not run)."""
    result = oracle.agree(tmp_path / "history", 31, 40, os.environ.get("DATABASE_URL"), jobs=2)
    assert result.disagreements == [], "\n".join(result.lines())


def test_histories_are_the_seeds_and_place_self_commits_at_the_commit_boundaries(
        tmp_path: Path) -> None:
    first = realistic.build(230, 7)
    assert [(r.upgrade, r.downgrade, r.parents) for r in first] == \
        [(r.upgrade, r.downgrade, r.parents) for r in realistic.build(230, 7)]
    commits = {n for n, r in enumerate(first, start=1)
               if any("commit()" in line or "autocommit_block" in line for line in r.upgrade)}
    split = round(230 * FIRST_SHARE)  # where the second worker's part ends
    assert {99, 100, 101, split - 1, split, split + 1, 199, 200, 201} <= commits
    assert [len(r.parents) for r in first].count(2) == 6  # merges at 17, 56, ..., 202
    assert first[-1].intent == "upgrade-fails"
    assert not {r.intent for r in realistic.build(230, 7, safe=True)} & {
        "upgrade-fails", "downgrade-fails"}
    project, intent = realistic.generate(tmp_path / "p", 20, 3)
    assert list(intent) == project.revisions and (project.path / "orm.py").exists()


@pytest.mark.db
def test_a_real_shaped_history_without_defects_passes(tmp_path: Path) -> None:
    """What `make bench` times as a history whose pull requests pass: no finding, every
    revision run (CONCURRENTLY indexes in autocommit blocks included), exit 0."""
    steps = realistic.build(60, 5, safe=True, defect_rate=0)
    assert {r.intent for r in steps} <= {"passed", "skipped"}
    project, _ = realistic.generate(tmp_path / "p", 60, 5, safe=True, defect_rate=0)
    done = subprocess.run([Path(sys.executable).parent / "dbci", "--json", "roundtrip",
                           "--config", project.ini], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {r["status"] for r in json.loads(done.stdout)["revisions"]}
    assert statuses <= {"passed", "skipped"}


def test_a_dumps_column_options_belong_to_their_column_without_the_servers_stamp() -> None:
    """PostgreSQL 15 on these machines gives every column an option, ``pg_attver``, numbered
    as it makes the column: a column left behind must read as left, not as a changed table."""
    def dumped(*columns: tuple[str, str]) -> str:
        body = ",\n".join(f"    {name} integer" for name, _ in columns)
        options = "".join(f"ALTER TABLE ONLY public.t ALTER COLUMN {name} SET ({opts});\n"
                          for name, opts in columns)
        return ("-- Name: t; Type: TABLE; Schema: public; Owner: -\n"
                f"CREATE TABLE public.t (\n{body}\n);\n{options}")

    before = dict(oracle._objects(dumped(("id", "pg_attver=7"))))
    left = dict(oracle._objects(dumped(("id", "pg_attver=7"), ("extra", "pg_attver=9"))))
    assert oracle.compare(oracle.Dump(before, {}), oracle.Dump(left, {})) == "leaves"
    tuned = dict(oracle._objects(dumped(("id", "pg_attver=8, n_distinct=-1"))))
    assert tuned[("COLUMN", "public.t.id")] == "id integer (n_distinct=-1)"
    assert oracle.compare(oracle.Dump(before, {}), oracle.Dump(tuned, {})) == "changes"

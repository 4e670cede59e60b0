"""``dbci check``: each new revision's impact observed as it ran, sized by a stage's statistics
(``status --stats-out``, ``check --stats``), and whether the release running on the base branch
survives the new schema (``compat/running-release-breaks``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import add_revision, commit_all, dbci, edit_orm, git, run_sql, set_dbci

pytestmark = pytest.mark.db

SCHEMA = 'schema="persistence_schema"'


def alter(column: str, change: str) -> str:
    """``op.alter_column`` of one column of CollectionVersion."""
    return f'op.alter_column("CollectionVersion", "{column}", {change}, {SCHEMA})'

TABLE = "persistence_schema.CollectionVersion"


@pytest.fixture
def branch(git_project: Path) -> Path:
    """The reference project on a branch off main, ready for new revisions."""
    git(git_project, "checkout", "-q", "-b", "feature")
    return git_project


def new_revision(project: Path, slug: str, upgrade: str, downgrade: str) -> str:
    revision = add_revision(project, slug, upgrade, downgrade)
    commit_all(project, slug)
    return revision


def checked(*extra: str) -> dict[str, Any]:
    run = dbci("--json", "check", "--base", "main", *extra)
    assert run.code in (0, 1), run.out + run.err
    document: dict[str, Any] = run.json()
    return document


def rules(document: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in document["findings"]]


def stats_file(folder: Path, rows: int, size: int) -> Path:
    """Stats as ``status --stats-out`` writes them, the table that large on prod."""
    path = folder / "prod-stats.json"
    path.write_text(json.dumps({"stage": "prod", "taken": "2026-12-05T00:00:00+00:00",
                                "tables": {TABLE: {"rows": rows, "bytes": size}}}))
    return path


#: varchar(128) to varchar(64): PostgreSQL copies the table (a shorter type is no relabel).
TYPE_CHANGE = (alter("owner", "type_=sa.String(64)"), alter("owner", "type_=sa.String(128)"))


def test_a_rewrite_of_a_large_table_is_a_finding_sized_by_the_stage(branch: Path) -> None:
    rev = new_revision(branch, "widen_revision", *TYPE_CHANGE)
    (entry,) = [i for i in checked()["impact"] if i["relation"] == TABLE]
    assert (entry["revision"], entry["lock"], entry["rewritten"], entry["verdict"]) == \
        (rev, "ACCESS EXCLUSIVE", True, "size unknown")  # no stats: shown, fails nothing
    large = checked("--stats", str(stats_file(branch, 2_100_000, 3_400_000_000)))
    (finding,) = [f for f in large["findings"] if f["rule"] == "impact/table-rewrite"]
    assert finding["message"].startswith(f"ACCESS EXCLUSIVE on {TABLE} (≈2.1 M rows, 3.2 GB "
                                         "on prod), table rewritten")
    assert finding["doc"] == "docs/rules.md#impacttable-rewrite"
    small = checked("--stats", str(stats_file(branch, 10, 8192)))
    assert "impact/table-rewrite" not in rules(small)
    assert [i["verdict"] for i in small["impact"] if i["relation"] == TABLE] == ["small on prod"]


def test_widening_a_varchar_rewrites_nothing(branch: Path) -> None:
    new_revision(branch, "widen_curator", alter("curator_name", "type_=sa.String(512)"),
                 alter("curator_name", "type_=sa.String(256)"))
    document = checked("--stats", str(stats_file(branch, 2_100_000, 3_400_000_000)))
    assert not any(i["rewritten"] or i["scanned"] for i in document["impact"])
    assert not [r for r in rules(document) if r.startswith("impact/")]


def test_an_allowed_rewrite_is_shown_not_failed(branch: Path) -> None:
    up, down = TYPE_CHANGE
    new_revision(branch, "widen_revision", up + "  # dbci: allow impact/table-rewrite -- "
                 "maintenance window", down)
    document = checked("--stats", str(stats_file(branch, 2_100_000, 3_400_000_000)))
    assert "impact/table-rewrite" not in rules(document)
    assert [i["verdict"] for i in document["impact"] if i["relation"] == TABLE] == \
        ["allowed: maintenance window"]


def test_set_not_null_reads_the_table_under_its_lock(branch: Path) -> None:
    new_revision(branch, "fill_curator", 'op.execute(\'UPDATE persistence_schema."Collection'
                 'Version" SET curator_name = owner WHERE curator_name IS NULL\')', "pass")
    required = new_revision(branch, "require_curator", alter("curator_name", "nullable=False"),
                            alter("curator_name", "nullable=True"))
    document = checked("--stats", str(stats_file(branch, 500_000, 90_000_000)))
    (entry,) = [i for i in document["impact"]
                if i["relation"] == TABLE and i["revision"] == required]
    assert (entry["scanned"], entry["rewritten"], entry["blocks"]) == \
        (True, False, "reads and writes")
    assert "impact/long-exclusive-lock" in rules(document)


def test_an_index_built_concurrently_versus_not(branch: Path) -> None:
    new_revision(branch, "index_blocking",
                 f'op.create_index("ix_cv_plain", "CollectionVersion", ["owner"], {SCHEMA})',
                 f'op.drop_index("ix_cv_plain", table_name="CollectionVersion", {SCHEMA})')
    new_revision(branch, "index_concurrently",
                 "with op.get_context().autocommit_block():\n"
                 f'        op.create_index("ix_cv_online", "CollectionVersion", ["curator_name"], '
                 f"{SCHEMA}, postgresql_concurrently=True)",
                 "with op.get_context().autocommit_block():\n"
                 f'        op.drop_index("ix_cv_online", table_name="CollectionVersion", {SCHEMA}, '
                 "postgresql_concurrently=True)")
    built = {i["index"]: i for i in checked()["impact"] if i.get("index")}
    plain, online = (built[f"persistence_schema.{name}"] for name in ("ix_cv_plain",
                                                                      "ix_cv_online"))
    assert (plain["concurrently"], plain["lock"], plain["blocks"]) == (False, "SHARE", "writes")
    assert (online["concurrently"], online["lock"]) == (True, None)  # not in a transaction


def test_a_dropped_column_the_base_orm_maps_breaks_the_running_release(branch: Path) -> None:
    rev = new_revision(branch, "drop_published_at",
                       f'op.drop_column("CollectionVersion", "published_at", {SCHEMA})',
                       f'op.add_column("CollectionVersion", sa.Column("published_at", '
                       f'sa.DateTime(timezone=True)), {SCHEMA})')
    document = checked()
    (finding,) = [f for f in document["findings"]
                  if f["rule"] == "compat/running-release-breaks"]
    assert (finding["revision"], finding["object"]) == (rev, f"{TABLE}.published_at")
    assert "expand, then contract" in finding["hint"]
    assert [c["ok"] for c in document["checks"] if c["check"] == "release"] == [False]


def test_a_new_nullable_column_is_harmless(branch: Path) -> None:
    new_revision(branch, "add_note",
                 f'op.add_column("CollectionVersion", sa.Column("note", sa.Text), {SCHEMA})',
                 f'op.drop_column("CollectionVersion", "note", {SCHEMA})')
    document = checked("--stats", str(stats_file(branch, 2_100_000, 3_400_000_000)))
    assert not [r for r in rules(document) if r.startswith(("impact/", "compat/"))]
    assert [c["ok"] for c in document["checks"] if c["check"] in ("impact", "release")] == \
        [True, True]


def test_a_new_not_null_column_the_base_orm_does_not_write(branch: Path) -> None:
    new_revision(branch, "add_weight",
                 f'op.add_column("CollectionVersion", sa.Column("weight", sa.Integer, '
                 f'nullable=False, server_default="0"), {SCHEMA})\n'
                 + alter("weight", "server_default=None"),
                 f'op.drop_column("CollectionVersion", "weight", {SCHEMA})')
    (finding,) = [f for f in checked()["findings"]
                  if f["rule"] == "compat/running-release-breaks"]
    assert finding["object"] == f"{TABLE}.weight" and "INSERTs" in finding["message"]


def test_status_writes_the_stage_statistics_check_reads(dev: str, tmp_path: Path) -> None:
    assert dbci("migrate", "--stage", "dev").code == 0
    run_sql(dev, 'INSERT INTO persistence_schema."CollectionCanonical" '
                 "SELECT FROM generate_series(1, 50); ANALYZE")
    out = tmp_path / "dev-stats.json"
    run = dbci("status", "--stage", "dev", "--stats-out", str(out))
    assert run.code == 0, run.out + run.err
    written = json.loads(out.read_text())
    assert written["stage"] == "dev"
    assert written["tables"]["persistence_schema.CollectionCanonical"]["rows"] == 50
    assert written["tables"]["persistence_schema.CollectionCanonical"]["bytes"] > 0


def test_bad_stats_are_bad_input_before_anything_runs(branch: Path) -> None:
    (branch / "stats.json").write_text('{"stage": "prod"}')
    run = dbci("check", "--base", "main", "--stats", str(branch / "stats.json"))
    assert run.code == 2
    assert run.err.strip().endswith("stats.json: not stats dbci status --stats-out wrote; "
                                    "write them again with it")


def test_the_stats_file_setting_stands_in_for_the_flag(branch: Path) -> None:
    new_revision(branch, "widen_revision", *TYPE_CHANGE)
    stats_file(branch, 2_100_000, 3_400_000_000)
    set_dbci(branch, 'stats_file = "prod-stats.json"')
    assert "impact/table-rewrite" in rules(checked())


def test_a_base_without_an_orm_fails_the_release_check(branch: Path) -> None:
    """The base's env.py names no target_metadata: nothing proves the release survives, so the
    step fails, saying why (fail closed); the rest of the check runs."""
    git(branch, "checkout", "-q", "main")
    env = branch / "database" / "env.py"
    env.write_text(env.read_text().replace("target_metadata=target_metadata",
                                           "target_metadata=None"))
    commit_all(branch, "no orm at the base")
    git(branch, "checkout", "-q", "feature")
    git(branch, "merge", "-q", "main", "-m", "merge")
    env.write_text(env.read_text().replace("target_metadata=None",
                                           "target_metadata=target_metadata"))
    commit_all(branch, "orm again")
    new_revision(branch, "add_note",
                 f'op.add_column("CollectionVersion", sa.Column("note", sa.Text), {SCHEMA})',
                 f'op.drop_column("CollectionVersion", "note", {SCHEMA})')
    document = checked()
    (release,) = [c for c in document["checks"] if c["check"] == "release"]
    assert release["ok"] is False and document["ok"] is False
    assert release["summary"].startswith("could not run: the ORM of main did not load: ")
    assert [c["ok"] for c in document["checks"] if c["check"] in ("roundtrip", "impact")] == \
        [True, True]


def test_the_release_is_judged_by_the_base_branchs_orm_not_this_one(branch: Path) -> None:
    """The branch drops published_at from its ORM too: the running release (main's ORM) still
    maps it, and that is the ORM the check loads (from a checkout of main)."""
    edit_orm(branch, "    published_at: Mapped[datetime | None] = mapped_column("
             "sa.DateTime(timezone=True), index=True)\n", "")
    edit_orm(branch, '            postgresql_where=sa.text("published_at IS NULL"),\n', "")
    new_revision(branch, "drop_published_at",
                 f'op.drop_column("CollectionVersion", "published_at", {SCHEMA})',
                 f'op.add_column("CollectionVersion", sa.Column("published_at", '
                 f'sa.DateTime(timezone=True)), {SCHEMA})')
    objects = [f["object"] for f in checked()["findings"]
               if f["rule"] == "compat/running-release-breaks"]
    assert objects == [f"{TABLE}.published_at"]


@pytest.mark.parametrize(("shard", "observed"), [("1/1", True), ("2/2", True), ("1/2", False)])
def test_the_last_shard_observes_the_new_revisions(branch: Path, shard: str,
                                                  observed: bool) -> None:
    new_revision(branch, "widen_revision", *TYPE_CHANGE)
    document = checked("--shard", shard)
    assert bool(document["impact"]) is observed
    assert ("release" in [c["check"] for c in document["checks"]]) is observed


def test_what_runs_outside_a_transaction_is_judged_by_what_postgresql_must_take(
        branch: Path) -> None:
    """An index built without CONCURRENTLY in an autocommit block: its lock is not observed,
    but PostgreSQL takes SHARE for the build; on a large table that is a finding, said so."""
    new_revision(branch, "index_unobserved",
                 "with op.get_context().autocommit_block():\n"
                 '        op.create_index("ix_cv_owner", "CollectionVersion", ["owner"], '
                 f"{SCHEMA})",
                 "with op.get_context().autocommit_block():\n"
                 f'        op.drop_index("ix_cv_owner", table_name="CollectionVersion", {SCHEMA})')
    document = checked("--stats", str(stats_file(branch, 5_000_000, 9_000_000_000)))
    (entry,) = [i for i in document["impact"] if i.get("index")]
    assert (entry["lock"], entry["concurrently"], entry["blocks"]) == (None, False, "writes")
    (finding,) = [f for f in document["findings"] if f["rule"] == "impact/long-exclusive-lock"]
    assert finding["message"].startswith("SHARE (not observed: the revision ran outside a "
                                         f"transaction) on {TABLE} (≈5.0 M rows")


def test_a_schema_renamed_breaks_the_release_that_maps_its_tables(branch: Path) -> None:
    rev = new_revision(branch, "rename_schema",
                       'op.execute("ALTER SCHEMA persistence_schema RENAME TO ps2")',
                       'op.execute("ALTER SCHEMA ps2 RENAME TO persistence_schema")')
    document = checked()
    assert {i["change"] for i in document["impact"]} == {"renamed"}
    broken = {f["object"] for f in document["findings"]
              if f["rule"] == "compat/running-release-breaks" and f["revision"] == rev}
    assert TABLE in broken


def test_not_null_on_a_column_the_release_maps_as_nullable(branch: Path) -> None:
    new_revision(branch, "fill_curator", 'op.execute(\'UPDATE persistence_schema."Collection'
                 'Version" SET curator_name = owner WHERE curator_name IS NULL\')', "pass")
    new_revision(branch, "require_curator", alter("curator_name", "nullable=False"),
                 alter("curator_name", "nullable=True"))
    (finding,) = [f for f in checked()["findings"]
                  if f["rule"] == "compat/running-release-breaks"]
    assert finding["object"] == f"{TABLE}.curator_name" and "nullable" in finding["message"]


def test_a_table_the_stats_do_not_hold_is_said_so(branch: Path) -> None:
    new_revision(branch, "widen_revision", *TYPE_CHANGE)
    other = branch / "other-stats.json"
    other.write_text(json.dumps({"stage": "prod", "taken": "2026-12-05T00:00:00+00:00",
                                 "tables": {"public.elsewhere": {"rows": 1, "bytes": 1}}}))
    document = checked("--stats", str(other))
    assert [i["verdict"] for i in document["impact"] if i["relation"] == TABLE] == \
        ["not in prod's statistics"]
    (impact,) = [c for c in document["checks"] if c["check"] == "impact"]
    assert "0 of them sized by prod" in impact["summary"]


def test_joined_shards_keep_the_last_ones_impact_once() -> None:
    """``dbci report``: only the last shard observes impact; its steps and rows survive the
    join, each once (a shard given twice is refused before, a row sent twice is one)."""
    from ci.joined_reports import join
    from ci.report import Report, Step

    row = {"revision": "15_x", "relation": TABLE, "lock": "SHARE", "rewritten": False,
           "scanned": True, "verdict": "size unknown"}
    first = Report([Step("lint", True, "ok"), Step("roundtrip", True, "1 passed")], [],
                   shard="1/2")
    last = Report([Step("lint", True, "ok"), Step("roundtrip", True, "1 passed"),
                   Step("impact", True, "1 relation"), Step("release", True, "works")], [],
                   shard="2/2", impact=[row, dict(row)])
    joined = join([("a.json", first), ("b.json", last)])
    assert [s.name for s in joined.steps] == ["lint", "roundtrip", "impact", "release"]
    assert joined.impact == [row]

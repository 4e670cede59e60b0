"""``dbci drift``: the reference ORM agrees with its migrations; edited ORMs are told apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_revision, dbci, edit_orm

pytestmark = pytest.mark.db

PS = "persistence_schema"


def test_the_reference_orm_agrees_with_its_migrations(project: Path) -> None:
    run = dbci("drift")
    assert (run.code, run.err) == (0, "")
    assert run.out == "drift: the ORM and the migrations at 14_3a5e33b5fa4a agree\n"
    assert dbci("--json", "drift").json() == {"ok": True, "findings": [], "migra": []}


def test_an_orm_missing_a_column_names_table_and_column(project: Path) -> None:
    edit_orm(project, "    schema_version: Mapped[str | None] = mapped_column(sa.String(16))\n", "")
    run = dbci("drift")
    assert run.code == 1
    assert "[drift/drift-migrations-only]" in run.out
    assert f"{PS}.CollectionVersion.schema_version" in run.out
    assert "database/env.py" in run.out
    doc = dbci("--json", "drift").json()
    assert [(f["rule"], f["object"]) for f in doc["findings"]] == [
        ("drift-migrations-only", f"{PS}.CollectionVersion.schema_version")]
    assert any("schema_version" in s for s in doc["migra"])  # migra: migrations -> ORM


ORM_EDITS = {
    "an extra column": (
        "    tombstoned: Mapped[bool] = mapped_column(sa.Boolean(), server_default=sa.text("
        '"false"))\n\n    collection: Mapped[CollectionCanonical] = relationship(back_populates='
        '"datasets")',
        "    tombstoned: Mapped[bool] = mapped_column(sa.Boolean(), server_default=sa.text("
        '"false"))\n    notes: Mapped[str | None] = mapped_column(sa.Text())\n\n    collection: '
        'Mapped[CollectionCanonical] = relationship(back_populates="datasets")',
        "drift-orm-only", f"{PS}.DatasetCanonical.notes"),
    "a different type": (
        "owner: Mapped[str] = mapped_column(sa.String(128))",
        "owner: Mapped[str] = mapped_column(sa.String(64))",
        "drift-differs", f"{PS}.CollectionVersion.owner"),
    "a different nullability": (
        "curator_name: Mapped[str | None] = mapped_column(sa.String(256))",
        "curator_name: Mapped[str] = mapped_column(sa.String(256))",
        "drift-differs", f"{PS}.CollectionVersion.curator_name"),
    "a missing index": (
        "published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), "
        "index=True)",
        "published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))",
        "drift-migrations-only", f"{PS}.ix_CollectionVersion_published_at"),
    "an extra index": (
        "    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))\n"
        "    tombstoned",
        "    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), "
        "index=True)\n    tombstoned",
        "drift-orm-only", f"{PS}.ix_DatasetCanonical_published_at"),
    "a missing check constraint": (
        '    __table_args__ = (sa.CheckConstraint("uri <> \'\'", name="uri_not_empty"),)\n', "",
        "drift-migrations-only", f"{PS}.DatasetArtifact.ck_DatasetArtifact_uri_not_empty"),
}


@pytest.mark.parametrize(("old", "new", "rule", "obj"), ORM_EDITS.values(), ids=ORM_EDITS.keys())
def test_each_orm_edit_is_one_finding_naming_the_object(
        project: Path, old: str, new: str, rule: str, obj: str) -> None:
    edit_orm(project, old, new)
    run = dbci("--json", "drift")
    assert run.code == 1
    assert [(f["rule"], f["object"], f["check"]) for f in run.json()["findings"]] == [
        (rule, obj, "drift")]


def test_enum_labels_that_differ_are_found(project: Path) -> None:
    edit_orm(project, '    CANCELED = "CANCELED"\n\n\nclass UploadStatus', "\n\nclass UploadStatus",
             module="enums")
    run = dbci("--json", "drift")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["object"]) == ("drift-differs", f"{PS}.processingstatus")
    assert "CANCELED" in finding["message"]


def test_a_table_only_the_migrations_create_is_one_finding(project: Path) -> None:
    add_revision(project, "create_audit", 'op.create_table("audit", sa.Column("id", sa.Integer, '
                 'primary_key=True), schema="persistence_schema")',
                 'op.drop_table("audit", schema="persistence_schema")')
    run = dbci("--json", "drift")
    assert run.code == 1
    assert [(f["rule"], f["object"]) for f in run.json()["findings"]] == [
        ("drift-migrations-only", f"{PS}.audit")]


def test_every_schema_is_reflected_in_bulk(project: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic reads each schema's tables in one query per kind; left alone, it read the tables
    of every schema after the first one by one (a query per table and kind)."""
    add_revision(project, "create_audits",
                 'op.create_table("audit_a", sa.Column("id", sa.Integer, primary_key=True)); '
                 'op.create_table("audit_b", sa.Column("id", sa.Integer, primary_key=True))',
                 'op.drop_table("audit_b"); op.drop_table("audit_a")')
    one_by_one: list[str] = []
    columns = sa.engine.reflection.Inspector.get_columns

    def get_columns(self: sa.engine.reflection.Inspector, table: str, *args: Any,
                    **kwargs: Any) -> Any:
        one_by_one.append(table)
        return columns(self, table, *args, **kwargs)

    monkeypatch.setattr(sa.engine.reflection.Inspector, "get_columns", get_columns)
    run = dbci("--json", "drift")
    assert sorted((f["rule"], f["object"]) for f in run.json()["findings"]) == [
        ("drift-migrations-only", "public.audit_a"), ("drift-migrations-only", "public.audit_b")]
    assert one_by_one == []


def test_a_project_without_target_metadata_is_bad_input(alembic_project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(alembic_project)
    run = dbci("drift")
    assert run.code == 2
    assert "migrations/env.py" in run.err and "target_metadata" in run.err
    assert len(run.err.splitlines()) == 1


def test_an_orm_that_create_all_cannot_build_is_one_line(project: Path) -> None:
    edit_orm(project, "values_callable=enum_values)",
             "values_callable=enum_values, create_type=False)")
    run = dbci("drift")
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith("dbci drift: database/env.py: the ORM's create_all fails (")
    assert run.err.count("\n") == 1 and "Traceback" not in run.err


def test_a_renamed_columns_not_null_constraint_name_is_not_drift(project: Path) -> None:
    """PostgreSQL 18 names NOT NULL constraints and a column rename keeps the old name; an ORM
    cannot name them, so only the column's nullability counts."""
    add_revision(project, "rename_owner",
                 'op.alter_column("CollectionVersion", "owner", new_column_name="owned_by", '
                 'schema="persistence_schema")',
                 'op.alter_column("CollectionVersion", "owned_by", new_column_name="owner", '
                 'schema="persistence_schema")')
    edit_orm(project, "    owner: Mapped[str] = mapped_column(sa.String(128))",
             '    owned_by: Mapped[str] = mapped_column(sa.String(128))')
    run = dbci("--json", "drift")
    assert (run.code, run.json()["findings"]) == (0, [])


def test_a_columns_planner_and_storage_settings_are_not_drift(project: Path) -> None:
    """An ORM cannot set a column's statistics target, storage or options: a migration that
    does is no drift (the round trip still holds its downgrade to them)."""
    add_revision(project, "tune_curator_name",
                 "op.execute('ALTER TABLE persistence_schema.\"CollectionVersion\" ALTER COLUMN "
                 "curator_name SET STATISTICS 500, ALTER COLUMN curator_name SET STORAGE "
                 "EXTERNAL, ALTER COLUMN curator_name SET (n_distinct = -1)')",
                 "op.execute('ALTER TABLE persistence_schema.\"CollectionVersion\" ALTER COLUMN "
                 "curator_name SET STATISTICS -1, ALTER COLUMN curator_name SET STORAGE "
                 "EXTENDED, ALTER COLUMN curator_name RESET (n_distinct)')")
    run = dbci("--json", "drift")
    assert (run.code, run.json()["findings"]) == (0, [])
    assert dbci("--json", "roundtrip").code == 0

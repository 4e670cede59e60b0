"""rename dataset version dataset_id to canonical_dataset_id

Revision ID: 10_c3c048b4469e
Revises: 09_381a4539002a
Create Date: 2024-10-08 13:59:26.447051

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "10_c3c048b4469e"
down_revision = "09_381a4539002a"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    """Rename the column and every constraint and index named after it."""
    op.alter_column(
        "DatasetVersion",
        old,
        new_column_name=new,
        existing_type=sa.UUID(),
        existing_nullable=False,
        schema="persistence_schema",
    )
    op.execute(
        f'ALTER TABLE persistence_schema."DatasetVersion" '
        f'RENAME CONSTRAINT "fk_DatasetVersion_{old}_DatasetCanonical" '
        f'TO "fk_DatasetVersion_{new}_DatasetCanonical"'
    )
    op.execute(
        f'ALTER INDEX persistence_schema."ix_DatasetVersion_{old}" '
        f'RENAME TO "ix_DatasetVersion_{new}"'
    )
    # PostgreSQL 18 records NOT NULL as a named constraint ("<table>_<column>_not_null") that
    # keeps its name when the column is renamed; older servers have no such constraint.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM pg_constraint
                WHERE conrelid = 'persistence_schema."DatasetVersion"'::regclass
                  AND conname = 'DatasetVersion_{old}_not_null'
            ) THEN
                ALTER TABLE persistence_schema."DatasetVersion"
                    RENAME CONSTRAINT "DatasetVersion_{old}_not_null"
                    TO "DatasetVersion_{new}_not_null";
            END IF;
        END
        $$
        """
    )


def upgrade() -> None:
    _rename("dataset_id", "canonical_dataset_id")


def downgrade() -> None:
    _rename("canonical_dataset_id", "dataset_id")

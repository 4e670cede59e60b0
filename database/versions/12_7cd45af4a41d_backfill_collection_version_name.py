"""backfill collection version name from metadata

Revision ID: 12_7cd45af4a41d
Revises: 11_cb5d134f324b
Create Date: 2025-02-18 16:04:11.529684

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "12_7cd45af4a41d"
down_revision = "11_cb5d134f324b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "CollectionVersion",
        sa.Column("name", sa.Text(), nullable=True),
        schema="persistence_schema",
    )
    op.execute(
        'UPDATE persistence_schema."CollectionVersion" '
        "SET name = COALESCE(metadata->>'name', '') "
        "WHERE name IS NULL"
    )
    op.alter_column(
        "CollectionVersion",
        "name",
        existing_type=sa.Text(),
        nullable=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    # The name stays in metadata->>'name', so dropping the column loses nothing.
    op.drop_column("CollectionVersion", "name", schema="persistence_schema")

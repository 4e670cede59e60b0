"""add published_at to collection version

Revision ID: 07_2e805208407e
Revises: 06_5783d1c6787b
Create Date: 2024-05-02 17:33:20.318475

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "07_2e805208407e"
down_revision = "06_5783d1c6787b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "CollectionVersion",
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_CollectionVersion_published_at"),
        "CollectionVersion",
        ["published_at"],
        unique=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_CollectionVersion_published_at"),
        table_name="CollectionVersion",
        schema="persistence_schema",
    )
    op.drop_column("CollectionVersion", "published_at", schema="persistence_schema")

"""add collection name trigram index

Revision ID: 13_77685f96deb5
Revises: 12_7cd45af4a41d
Create Date: 2025-04-09 09:38:45.112908

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "13_77685f96deb5"
down_revision = "12_7cd45af4a41d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        op.f("ix_CollectionVersion_name"),
        "CollectionVersion",
        ["name"],
        unique=False,
        schema="persistence_schema",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_CollectionVersion_name"),
        table_name="CollectionVersion",
        schema="persistence_schema",
        postgresql_using="gin",
    )
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")

"""add unique draft per collection index

Revision ID: 11_cb5d134f324b
Revises: 10_c3c048b4469e
Create Date: 2024-12-03 10:21:57.860392

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "11_cb5d134f324b"
down_revision = "10_c3c048b4469e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A collection has at most one unpublished (draft) version at a time.
    op.create_index(
        op.f("uq_CollectionVersion_collection_id_draft"),
        "CollectionVersion",
        ["collection_id"],
        unique=True,
        schema="persistence_schema",
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        op.f("uq_CollectionVersion_collection_id_draft"),
        table_name="CollectionVersion",
        schema="persistence_schema",
    )

"""add collection visibility

Revision ID: 06_5783d1c6787b
Revises: 05_5a3c600990c9
Create Date: 2024-04-10 11:08:39.950164

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "06_5783d1c6787b"
down_revision = "05_5a3c600990c9"
branch_labels = None
depends_on = None

collection_visibility = postgresql.ENUM(
    "PUBLIC",
    "PRIVATE",
    name="collectionvisibility",
    schema="persistence_schema",
    create_type=False,
)


def upgrade() -> None:
    collection_visibility.create(op.get_bind(), checkfirst=False)
    # A constant default keeps this a metadata-only change (no table rewrite).
    op.add_column(
        "CollectionVersion",
        sa.Column(
            "visibility",
            collection_visibility,
            server_default=sa.text("'PRIVATE'"),
            nullable=False,
        ),
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_column("CollectionVersion", "visibility", schema="persistence_schema")
    collection_visibility.drop(op.get_bind(), checkfirst=False)

"""create collection tables

Revision ID: 02_68d31c2c7907
Revises: 01_2d1455f47d8e
Create Date: 2024-02-06 11:02:47.093551

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "02_68d31c2c7907"
down_revision = "01_2d1455f47d8e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "CollectionCanonical",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("originally_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tombstoned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_CollectionCanonical")),
        schema="persistence_schema",
    )
    op.create_table(
        "CollectionVersion",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("collection_id", sa.UUID(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("curator_name", sa.String(length=256), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("publisher_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("schema_version", sa.String(length=16), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["persistence_schema.CollectionCanonical.id"],
            name=op.f("fk_CollectionVersion_collection_id_CollectionCanonical"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_CollectionVersion")),
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_CollectionVersion_collection_id"),
        "CollectionVersion",
        ["collection_id"],
        unique=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_CollectionVersion_collection_id"),
        table_name="CollectionVersion",
        schema="persistence_schema",
    )
    op.drop_table("CollectionVersion", schema="persistence_schema")
    op.drop_table("CollectionCanonical", schema="persistence_schema")

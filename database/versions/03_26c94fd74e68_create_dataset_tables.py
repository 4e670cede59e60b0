"""create dataset tables

Revision ID: 03_26c94fd74e68
Revises: 02_68d31c2c7907
Create Date: 2024-02-19 16:41:05.672310

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "03_26c94fd74e68"
down_revision = "02_68d31c2c7907"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "DatasetCanonical",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("collection_id", sa.UUID(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tombstoned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["persistence_schema.CollectionCanonical.id"],
            name=op.f("fk_DatasetCanonical_collection_id_CollectionCanonical"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_DatasetCanonical")),
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_DatasetCanonical_collection_id"),
        "DatasetCanonical",
        ["collection_id"],
        unique=False,
        schema="persistence_schema",
    )
    op.create_table(
        "DatasetVersion",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("dataset_id", sa.UUID(), nullable=False),
        sa.Column("collection_id", sa.UUID(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["persistence_schema.CollectionCanonical.id"],
            name=op.f("fk_DatasetVersion_collection_id_CollectionCanonical"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["persistence_schema.DatasetCanonical.id"],
            name=op.f("fk_DatasetVersion_dataset_id_DatasetCanonical"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_DatasetVersion")),
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_DatasetVersion_dataset_id"),
        "DatasetVersion",
        ["dataset_id"],
        unique=False,
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_DatasetVersion_collection_id"),
        "DatasetVersion",
        ["collection_id"],
        unique=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_DatasetVersion_collection_id"),
        table_name="DatasetVersion",
        schema="persistence_schema",
    )
    op.drop_index(
        op.f("ix_DatasetVersion_dataset_id"),
        table_name="DatasetVersion",
        schema="persistence_schema",
    )
    op.drop_table("DatasetVersion", schema="persistence_schema")
    op.drop_index(
        op.f("ix_DatasetCanonical_collection_id"),
        table_name="DatasetCanonical",
        schema="persistence_schema",
    )
    op.drop_table("DatasetCanonical", schema="persistence_schema")

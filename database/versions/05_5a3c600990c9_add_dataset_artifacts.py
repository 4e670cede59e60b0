"""add dataset artifacts

Revision ID: 05_5a3c600990c9
Revises: 04_af7d7e1617c9
Create Date: 2024-03-21 14:55:13.587902

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "05_5a3c600990c9"
down_revision = "04_af7d7e1617c9"
branch_labels = None
depends_on = None

artifact_type = postgresql.ENUM(
    "raw_h5ad",
    "h5ad",
    "rds",
    "cxg",
    name="datasetartifacttype",
    schema="persistence_schema",
    create_type=False,
)


def upgrade() -> None:
    artifact_type.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "DatasetArtifact",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("type", artifact_type, nullable=False),
        sa.Column("uri", sa.String(length=256), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("uri <> ''", name=op.f("ck_DatasetArtifact_uri_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_DatasetArtifact")),
        sa.UniqueConstraint("uri", name=op.f("uq_DatasetArtifact_uri")),
        schema="persistence_schema",
    )
    op.create_table(
        "DatasetVersionToArtifact",
        sa.Column("dataset_version_id", sa.UUID(), nullable=False),
        sa.Column("artifact_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["persistence_schema.DatasetArtifact.id"],
            name=op.f("fk_DatasetVersionToArtifact_artifact_id_DatasetArtifact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["persistence_schema.DatasetVersion.id"],
            name=op.f("fk_DatasetVersionToArtifact_dataset_version_id_DatasetVersion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "dataset_version_id", "artifact_id", name=op.f("pk_DatasetVersionToArtifact")
        ),
        schema="persistence_schema",
    )
    op.create_index(
        op.f("ix_DatasetVersionToArtifact_artifact_id"),
        "DatasetVersionToArtifact",
        ["artifact_id"],
        unique=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_DatasetVersionToArtifact_artifact_id"),
        table_name="DatasetVersionToArtifact",
        schema="persistence_schema",
    )
    op.drop_table("DatasetVersionToArtifact", schema="persistence_schema")
    op.drop_table("DatasetArtifact", schema="persistence_schema")
    artifact_type.drop(op.get_bind(), checkfirst=False)

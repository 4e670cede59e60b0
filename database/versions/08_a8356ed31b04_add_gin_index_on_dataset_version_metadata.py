"""add gin index on dataset version metadata

Revision ID: 08_a8356ed31b04
Revises: 07_2e805208407e
Create Date: 2024-06-13 10:46:02.781940

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "08_a8356ed31b04"
down_revision = "07_2e805208407e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_DatasetVersion_metadata"),
        "DatasetVersion",
        ["metadata"],
        unique=False,
        schema="persistence_schema",
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_DatasetVersion_metadata"),
        table_name="DatasetVersion",
        schema="persistence_schema",
        postgresql_using="gin",
    )

"""widen dataset artifact uri to text

Revision ID: 09_381a4539002a
Revises: 08_a8356ed31b04
Create Date: 2024-08-27 15:12:44.036719

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "09_381a4539002a"
down_revision = "08_a8356ed31b04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # varchar -> text is binary coercible: no table rewrite, the unique index is kept.
    op.alter_column(
        "DatasetArtifact",
        "uri",
        existing_type=sa.String(length=256),
        type_=sa.Text(),
        existing_nullable=False,
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.alter_column(
        "DatasetArtifact",
        "uri",
        existing_type=sa.Text(),
        type_=sa.String(length=256),
        existing_nullable=False,
        schema="persistence_schema",
    )

"""create persistence schema

Revision ID: 01_2d1455f47d8e
Revises: 
Create Date: 2024-02-06 10:14:32.418207

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "01_2d1455f47d8e"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSchema("persistence_schema"))


def downgrade() -> None:
    op.execute(sa.schema.DropSchema("persistence_schema"))

"""broken on purpose

Revision ID: 15_0123456789ab
Revises: 15_0123456789ab
Create Date: 2025-01-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "15_0123456789ab"
down_revision = "15_0123456789ab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

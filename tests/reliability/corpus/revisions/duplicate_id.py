"""broken on purpose

Revision ID: 14_3a5e33b5fa4a
Revises: 13_77685f96deb5
Create Date: 2025-01-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "14_3a5e33b5fa4a"
down_revision = "13_77685f96deb5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""broken on purpose

Revision ID: 15_0123456789ab
Revises: 14_3a5e33b5fa4a
Create Date: 2025-01-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "15_0123456789ab"
down_revision = "14_3a5e33b5fa4a"
branch_labels = None
depends_on = None


upgrade = 42


def downgrade() -> None:
    pass

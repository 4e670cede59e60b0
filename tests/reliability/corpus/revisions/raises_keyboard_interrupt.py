"""raises KeyboardInterrupt

Revision ID: 15_0123456789ab
Revises: 14_3a5e33b5fa4a
Create Date: 2026-12-05 00:00:00

"""

from alembic import op

revision = "15_0123456789ab"
down_revision = "14_3a5e33b5fa4a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")
    raise KeyboardInterrupt


def downgrade() -> None:
    op.execute("SELECT 1")

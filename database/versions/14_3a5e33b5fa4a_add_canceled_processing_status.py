"""add CANCELED processing status

Revision ID: 14_3a5e33b5fa4a
Revises: 13_77685f96deb5
Create Date: 2025-06-24 14:17:30.694215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "14_3a5e33b5fa4a"
down_revision = "13_77685f96deb5"
branch_labels = None
depends_on = None

OLD_LABELS = ("PENDING", "INITIALIZED", "SUCCESS", "FAILURE")
NEW_LABELS = (*OLD_LABELS, "CANCELED")


def _retype(labels: tuple[str, ...]) -> None:
    """Swap persistence_schema.processingstatus for a type with ``labels``.

    ALTER TYPE ... ADD VALUE cannot run inside a transaction block, so the type is renamed,
    recreated with the new labels, the column is cast over and the old type is dropped.
    """
    quoted = ", ".join(f"'{label}'" for label in labels)
    op.execute("ALTER TYPE persistence_schema.processingstatus RENAME TO processingstatus_old")
    op.execute(f"CREATE TYPE persistence_schema.processingstatus AS ENUM ({quoted})")
    op.alter_column(
        "DatasetVersion", "processing_status", server_default=None, schema="persistence_schema"
    )
    op.execute(
        'ALTER TABLE persistence_schema."DatasetVersion" '
        "ALTER COLUMN processing_status TYPE persistence_schema.processingstatus "
        "USING processing_status::text::persistence_schema.processingstatus"
    )
    op.alter_column(
        "DatasetVersion",
        "processing_status",
        server_default=sa.text("'PENDING'"),
        schema="persistence_schema",
    )
    op.execute("DROP TYPE persistence_schema.processingstatus_old")


def upgrade() -> None:
    _retype(NEW_LABELS)


def downgrade() -> None:
    # CANCELED did not exist before: such datasets are reported as failed.
    op.execute(
        'UPDATE persistence_schema."DatasetVersion" '
        "SET processing_status = 'FAILURE' WHERE processing_status = 'CANCELED'"
    )
    _retype(OLD_LABELS)

"""add dataset status enums

Revision ID: 04_af7d7e1617c9
Revises: 03_26c94fd74e68
Create Date: 2024-03-04 09:27:51.204836

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "04_af7d7e1617c9"
down_revision = "03_26c94fd74e68"
branch_labels = None
depends_on = None

processing_status = postgresql.ENUM(
    "PENDING",
    "INITIALIZED",
    "SUCCESS",
    "FAILURE",
    name="processingstatus",
    schema="persistence_schema",
    create_type=False,
)
upload_status = postgresql.ENUM(
    "NA",
    "WAITING",
    "UPLOADING",
    "UPLOADED",
    "FAILED",
    "CANCEL_PENDING",
    "CANCELED",
    name="uploadstatus",
    schema="persistence_schema",
    create_type=False,
)
validation_status = postgresql.ENUM(
    "NA",
    "VALIDATING",
    "VALID",
    "INVALID",
    name="validationstatus",
    schema="persistence_schema",
    create_type=False,
)


def upgrade() -> None:
    bind = op.get_bind()
    processing_status.create(bind, checkfirst=False)
    upload_status.create(bind, checkfirst=False)
    validation_status.create(bind, checkfirst=False)
    op.add_column(
        "DatasetVersion",
        sa.Column(
            "processing_status",
            processing_status,
            server_default=sa.text("'PENDING'"),
            nullable=False,
        ),
        schema="persistence_schema",
    )
    op.add_column(
        "DatasetVersion",
        sa.Column("upload_status", upload_status, nullable=True),
        schema="persistence_schema",
    )
    op.add_column(
        "DatasetVersion",
        sa.Column("validation_status", validation_status, nullable=True),
        schema="persistence_schema",
    )
    op.add_column(
        "DatasetVersion",
        sa.Column("validation_message", sa.Text(), nullable=True),
        schema="persistence_schema",
    )


def downgrade() -> None:
    op.drop_column("DatasetVersion", "validation_message", schema="persistence_schema")
    op.drop_column("DatasetVersion", "validation_status", schema="persistence_schema")
    op.drop_column("DatasetVersion", "upload_status", schema="persistence_schema")
    op.drop_column("DatasetVersion", "processing_status", schema="persistence_schema")
    bind = op.get_bind()
    validation_status.drop(bind, checkfirst=False)
    upload_status.drop(bind, checkfirst=False)
    processing_status.drop(bind, checkfirst=False)

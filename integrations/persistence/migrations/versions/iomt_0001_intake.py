"""iomt: registered sources, template versions, the durable message intake and the readings
queue of the IoMT connector (integrations/iomt/tables.py)."""

import sqlalchemy as sa
from alembic import op

revision = "iomt_0001"
down_revision = None
branch_labels = ("iomt",)
depends_on = None


def upgrade() -> None:
    """Create the iomt_* tables."""
    op.create_table(
        "iomt_source",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "iomt_template",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_json", sa.Text, nullable=False),
        sa.Column("fhir_json", sa.Text, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "iomt_message",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("template_version", sa.Integer, nullable=True),
    )
    op.create_index("ix_iomt_message_status", "iomt_message", ["status", "seq"])
    op.create_table(
        "iomt_reading",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_seq", sa.BigInteger, nullable=False),
        sa.Column("device_id", sa.String(256), nullable=False),
        sa.Column("type_name", sa.String(128), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("written_at", sa.Float, nullable=True),
    )
    op.create_index("ix_iomt_reading_status", "iomt_reading", ["status", "id"])
    op.create_index("ix_iomt_reading_device", "iomt_reading", ["device_id", "status"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("iomt_reading")
    op.drop_table("iomt_message")
    op.drop_table("iomt_template")
    op.drop_table("iomt_source")

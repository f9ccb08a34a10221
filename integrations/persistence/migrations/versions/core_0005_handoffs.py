"""core: live handoffs of a patient's chat to a care manager, and their relayed messages."""

import sqlalchemy as sa
from alembic import op

revision = "core_0005"
down_revision = "core_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create handoff and handoff_message."""
    op.create_table(
        "handoff",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("patient", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("assigned", sa.String(128), nullable=True, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("taken_by", sa.String(64), nullable=True),
        sa.Column("taken_by_name", sa.String(128), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("taken_at", sa.BigInteger, nullable=True),
        sa.Column("closed_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "handoff_message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "handoff_id", sa.String(32), sa.ForeignKey("handoff.id"), nullable=False, index=True
        ),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("handoff_message")
    op.drop_table("handoff")

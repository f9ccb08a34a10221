"""core: the scoring workers' change-feed position and patient queue (scoring/work_queue.py)."""

import sqlalchemy as sa
from alembic import op

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create scoring_feed and scoring_work."""
    op.create_table(
        "scoring_feed",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.Text, nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "scoring_work",
        sa.Column("patient", sa.String(128), primary_key=True),
        sa.Column("pending_low", sa.BigInteger, nullable=True),
        sa.Column("pending_high", sa.BigInteger, nullable=True),
        sa.Column("claimed_low", sa.BigInteger, nullable=True),
        sa.Column("claimed_high", sa.BigInteger, nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_scoring_work_queued", "scoring_work", ["queued_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_scoring_work_queued", table_name="scoring_work")
    op.drop_table("scoring_work")
    op.drop_table("scoring_feed")

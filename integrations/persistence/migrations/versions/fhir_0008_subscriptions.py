"""fhir: the durable queue of Subscription notifications (fhir_store/subscription_queue.py).

Its feed position is a row of `scoring_feed` (core_0004), shared by every feed follower.
"""

import sqlalchemy as sa
from alembic import op

revision = "fhir_0008_subscriptions"
down_revision = "fhir_0007"
branch_labels = None
depends_on = "core_0004"

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create fhir_notification and fhir_subscription_delivery."""
    op.create_table(
        "fhir_notification",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "subscription_id", "res_type", "res_id", "version_id", name="uq_fhir_note"
        ),
    )
    op.create_index("ix_fhir_notification_sub", "fhir_notification", ["subscription_id", "id"])
    op.create_table(
        "fhir_subscription_delivery",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("failing_since", sa.BigInteger, nullable=True),
        sa.Column("next_attempt", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("fhir_subscription_delivery")
    op.drop_index("ix_fhir_notification_sub", table_name="fhir_notification")
    op.drop_table("fhir_notification")

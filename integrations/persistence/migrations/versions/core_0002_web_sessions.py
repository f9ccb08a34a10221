"""core: web sessions (revocable on sign-out) and the sign-in throttle."""

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the web session and sign-in throttle tables."""
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "account_id", sa.String(64), sa.ForeignKey("account.id"), nullable=False, index=True
        ),
        sa.Column("area", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", sa.BigInteger, nullable=False, index=True),
    )


def downgrade() -> None:
    """Drop the web session and sign-in throttle tables."""
    op.drop_table("sign_in_throttle")
    op.drop_table("web_session")

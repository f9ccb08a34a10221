"""fhir: registered clients' tokens expire; tokens made before this get 30 days from now."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "fhir_0006"
down_revision = "fhir_0005"
branch_labels = None
depends_on = None

_tokens = sa.table("fhir_client_token", sa.column("expires_at", sa.DateTime))


def upgrade() -> None:
    op.add_column("fhir_client_token", sa.Column("expires_at", sa.DateTime(), nullable=True))
    grace = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=30)
    op.get_bind().execute(sa.update(_tokens).values(expires_at=grace))
    with op.batch_alter_table("fhir_client_token") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("fhir_client_token") as batch:
        batch.drop_column("expires_at")

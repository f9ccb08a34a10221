"""smart: SMART App Launch and Backend Services (client redirect URIs and JWKS, codes,
refresh tokens, assertion ids, the id_token key)."""

import sqlalchemy as sa
from alembic import op

revision = "smart_0001"
down_revision = None
branch_labels = ("smart",)
depends_on = "fhir_0007"


def upgrade() -> None:
    for column in ("redirect_uris", "jwks", "jwks_url"):
        op.add_column("fhir_client", sa.Column(column, sa.Text(), nullable=True))
    op.create_table(
        "smart_code",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("fhir_client.id"), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("patient", sa.String(128), nullable=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("practitioner", sa.String(128), nullable=True),
        sa.Column("fhir_user", sa.String(128), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "smart_refresh",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("fhir_client.id"), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("patient", sa.String(128), nullable=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("practitioner", sa.String(128), nullable=True),
        sa.Column("fhir_user", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_smart_refresh_family", "smart_refresh", ["family"])
    op.create_table(
        "smart_jti",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_smart_jti_expires_at", "smart_jti", ["expires_at"])
    op.create_table(
        "smart_key",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("smart_key", "smart_jti", "smart_refresh", "smart_code"):
        op.drop_table(table)
    with op.batch_alter_table("fhir_client") as batch:
        for column in ("jwks_url", "jwks", "redirect_uris"):
            batch.drop_column(column)

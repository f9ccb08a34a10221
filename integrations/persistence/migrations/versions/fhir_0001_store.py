"""fhir: embedded FHIR store tables (resources, versions, search index, clients, imports)."""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "fhir_0001"
down_revision = None
branch_labels = ("fhir",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the FHIR store tables and the clock row."""
    clock = op.create_table(
        "fhir_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
    )
    op.bulk_insert(clock, [{"id": 1, "seq": 0, "ts": datetime(1970, 1, 1)}])
    op.create_table(
        "fhir_resource",
        sa.Column("res_type", sa.String(64), primary_key=True),
        sa.Column("res_id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("patient", sa.String(128), nullable=True),
    )
    op.create_index("ix_fhir_resource_updated", "fhir_resource", ["res_type", "last_updated"])
    op.create_index("ix_fhir_resource_patient", "fhir_resource", ["patient", "res_type"])
    op.create_table(
        "fhir_version",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.UniqueConstraint("res_type", "res_id", "version_id", name="uq_fhir_version"),
    )
    op.create_index("ix_fhir_version_type_seq", "fhir_version", ["res_type", "seq"])
    op.create_index("ix_fhir_version_updated", "fhir_version", ["last_updated"])
    op.create_table(
        "fhir_search",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(128), nullable=True),
        sa.Column("system", sa.String(512), nullable=True),
        sa.Column("value", sa.String(512), nullable=True),
        sa.Column("low", sa.DateTime, nullable=True),
        sa.Column("high", sa.DateTime, nullable=True),
    )
    op.create_index("ix_fhir_search_value", "fhir_search", ["res_type", "param", "value", "res_id"])
    op.create_index(
        "ix_fhir_search_patient", "fhir_search", ["patient", "res_type", "param", "value", "low"]
    )
    op.create_index("ix_fhir_search_date", "fhir_search", ["res_type", "param", "low"])
    op.create_index("ix_fhir_search_res", "fhir_search", ["res_type", "res_id"])
    op.create_table(
        "fhir_client",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("patient", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "fhir_client_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("fhir_client.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_fhir_client_token_client_id", "fhir_client_token", ["client_id"])
    op.create_table(
        "fhir_import",
        sa.Column("file_key", sa.String(128), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop the FHIR store tables."""
    for name in (
        "fhir_import",
        "fhir_client_token",
        "fhir_client",
        "fhir_search",
        "fhir_version",
        "fhir_resource",
        "fhir_clock",
    ):
        op.drop_table(name)

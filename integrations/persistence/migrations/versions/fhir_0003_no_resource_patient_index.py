"""fhir: drop the index on `fhir_resource.patient`.

A bulk load touches that index at one place per patient in it: a thousand patients, a
thousand pages a transaction. The search index's patient rows (`ix_fhir_search_patient`)
already lead to every resource in a patient's compartment, so searches go that way.
"""

from alembic import op

revision = "fhir_0003"
down_revision = "fhir_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_fhir_resource_patient", table_name="fhir_resource")


def downgrade() -> None:
    op.create_index("ix_fhir_resource_patient", "fhir_resource", ["patient", "res_type"])

"""fhir: each version row names its own patient; AuditEvents get a clock of their own.

`fhir_version.patient` is the compartment a version lies in when it was written, so the
history of a resource that moved from one patient to another stays with each (store.py
`_visible_versions`). Clock row 2 orders the AuditEvents the store writes, apart from the
clinical writes of row 1: its sequence numbers start at 2**62, outside the change feed.
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from integrations.fhir_store.extract import compartment_patient

revision = "fhir_0007"
down_revision = "fhir_0006"
branch_labels = None
depends_on = None

AUDIT_CLOCK = 2
AUDIT_SEQ_BASE = 1 << 62

_version = sa.table(
    "fhir_version",
    sa.column("seq", sa.BigInteger),
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("version_id", sa.Integer),
    sa.column("content", sa.Text),
    sa.column("patient", sa.String),
)
_resource = sa.table(
    "fhir_resource",
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("version_id", sa.Integer),
    sa.column("patient", sa.String),
)
_clock = sa.table(
    "fhir_clock",
    sa.column("id", sa.Integer),
    sa.column("seq", sa.BigInteger),
    sa.column("ts", sa.DateTime),
)


def upgrade() -> None:
    op.add_column("fhir_version", sa.Column("patient", sa.String(128), nullable=True))
    connection = op.get_bind()
    # every version first takes its resource's current patient: exact for the resources
    # that never changed patient, and for every deletion
    current = (
        sa.select(_resource.c.patient)
        .where(_resource.c.res_type == _version.c.res_type, _resource.c.res_id == _version.c.res_id)
        .scalar_subquery()
    )
    connection.execute(sa.update(_version).values(patient=current))
    # the earlier versions of updated resources take the patient their own content names
    earlier = connection.execute(
        sa.select(_version.c.seq, _version.c.content)
        .join(
            _resource,
            sa.and_(
                _resource.c.res_type == _version.c.res_type,
                _resource.c.res_id == _version.c.res_id,
            ),
        )
        .where(_resource.c.version_id > 1, _version.c.content.is_not(None))
    ).all()
    for seq, content in earlier:
        patient = compartment_patient(json.loads(content))
        connection.execute(sa.update(_version).where(_version.c.seq == seq).values(patient=patient))
    op.bulk_insert(_clock, [{"id": AUDIT_CLOCK, "seq": AUDIT_SEQ_BASE, "ts": datetime(1970, 1, 1)}])


def downgrade() -> None:
    op.get_bind().execute(sa.delete(_clock).where(_clock.c.id == AUDIT_CLOCK))
    with op.batch_alter_table("fhir_version") as batch:
        batch.drop_column("patient")

"""fhir: references to a resource's own patient are indexed without their value.

The row's `patient` column already holds it. Stored as the value too, every bulk write
spread those rows over `ix_fhir_search_value` at one place per patient (store.search_rows).
"""

import sqlalchemy as sa
from alembic import op

from integrations.fhir_store.params import REFERENCE_PARAMS

revision = "fhir_0004"
down_revision = "fhir_0003"
branch_labels = None
depends_on = None

_search = sa.table(
    "fhir_search",
    sa.column("res_type", sa.String),
    sa.column("param", sa.String),
    sa.column("patient", sa.String),
    sa.column("value", sa.String),
)


def _rewrite(rows: sa.ColumnElement[bool], value: sa.ColumnElement[str] | None) -> None:
    """Set VALUE on the matching ROWS of every type's reference parameters."""
    connection = op.get_bind()
    for resource_type, params in REFERENCE_PARAMS.items():
        if params:
            connection.execute(
                sa.update(_search)
                .where(
                    _search.c.res_type == resource_type,
                    _search.c.param.in_(sorted(params)),
                    rows,
                )
                .values(value=value)
            )


def upgrade() -> None:
    _rewrite(_search.c.value == _search.c.patient, None)


def downgrade() -> None:
    _rewrite(_search.c.value.is_(None), _search.c.patient)

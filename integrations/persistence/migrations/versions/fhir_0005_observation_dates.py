"""fhir: an Observation's date is searched on its status row, which carries it already.

Every row of an Observation carries its date (DATED_BY), so the `date` rows added nothing
but a fifth of the index.
"""

import sqlalchemy as sa
from alembic import op

revision = "fhir_0005"
down_revision = "fhir_0004"
branch_labels = None
depends_on = None

_search = sa.table(
    "fhir_search",
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("param", sa.String),
    sa.column("patient", sa.String),
    sa.column("low", sa.DateTime),
    sa.column("high", sa.DateTime),
)
_OBSERVATION = _search.c.res_type == "Observation"


def upgrade() -> None:
    op.get_bind().execute(sa.delete(_search).where(_OBSERVATION, _search.c.param == "date"))


def downgrade() -> None:
    columns = ["res_type", "res_id", "param", "patient", "low", "high"]
    dated = sa.select(
        _search.c.res_type,
        _search.c.res_id,
        sa.literal("date"),
        _search.c.patient,
        _search.c.low,
        _search.c.high,
    ).where(_OBSERVATION, _search.c.param == "status", _search.c.low.is_not(None))
    op.get_bind().execute(sa.insert(_search).from_select(columns, dated))

"""fhir: every R4 search parameter of every stored type; the index is rebuilt.

The parameter table is now R4's own (params.py, from the published definitions): strings,
numbers, quantities, URIs and composites get index rows, with two number columns (a
value, or a Range's ends) and `text` (a string's exact text, a token's display, a
composite's second part). The rows of every current resource are rebuilt with the store's
own extraction, so a store created by an older version answers the new searches. A
Subscription's rows keep the patient its resource row holds (its subscriber's: writer.py
`_subscribed`), which no extraction can tell.
"""

import json

import sqlalchemy as sa
from alembic import op

from integrations.fhir_store.records import SEARCH_COLUMNS, SearchRow, search_rows
from integrations.persistence.migrations.versions.fhir_0002_lean_index import current_batches

revision = "fhir_0009"
down_revision = "fhir_0008_subscriptions"
branch_labels = None
depends_on = None

_NEW_COLUMNS = ("number_low", "number_high", "text")


def _search(columns: tuple[str, ...]) -> sa.TableClause:
    return sa.table("fhir_search", *[sa.column(c) for c in columns])


def _rebuild(columns: tuple[str, ...]) -> None:
    """Every current resource's rows, in the columns the table has now."""
    connection = op.get_bind()
    table = _search(columns)
    connection.execute(sa.delete(table))
    resource = sa.table(
        "fhir_resource", sa.column("res_type"), sa.column("res_id"), sa.column("patient")
    )
    query = sa.select(resource.c.res_id, resource.c.patient).where(
        resource.c.res_type == "Subscription"
    )
    placed: dict[str, str | None] = {rid: patient for rid, patient in connection.execute(query)}
    for batch in current_batches(connection):
        rows: list[SearchRow] = []
        for res_type, res_id, content in batch:
            found = search_rows(res_type, res_id, json.loads(content))[1]
            if res_type == "Subscription":
                found = [(*r[:3], placed.get(res_id), *r[4:]) for r in found]
            rows += found
        if rows:
            connection.execute(
                sa.insert(table),
                [
                    {c: v for c, v in zip(SEARCH_COLUMNS, r, strict=True) if c in columns}
                    for r in rows
                ],
            )


def upgrade() -> None:
    op.add_column("fhir_search", sa.Column("number_low", sa.Float, nullable=True))
    op.add_column("fhir_search", sa.Column("number_high", sa.Float, nullable=True))
    op.add_column("fhir_search", sa.Column("text", sa.String(512), nullable=True))
    _rebuild(SEARCH_COLUMNS)


def downgrade() -> None:
    with op.batch_alter_table("fhir_search") as batch:
        for column in _NEW_COLUMNS:
            batch.drop_column(column)
    _rebuild(tuple(c for c in SEARCH_COLUMNS if c not in _NEW_COLUMNS))

"""fhir: a leaner search index, in time order per patient, and the latest-per-code table.

The index is rebuilt from each current resource with the store's own extraction: alias
parameters (`patient` of `subject`, `combo-code`) lose their duplicate rows, and every row
of an Observation carries its date. `fhir_latest` is filled from the rebuilt rows.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from integrations.fhir_store.latest import (
    LatestKey,
    keep_newest,
    latest_candidates,
    latest_rows,
)
from integrations.fhir_store.params import SEARCH_PARAMS
from integrations.fhir_store.records import SEARCH_COLUMNS, SearchRow, search_rows

revision = "fhir_0002"
down_revision = "fhir_0001"
branch_labels = None
depends_on = None

_BATCH = 1000
_OLD_INDEXES = {
    "ix_fhir_search_value": ["res_type", "param", "value", "res_id"],
    "ix_fhir_search_patient": ["patient", "res_type", "param", "value", "low"],
    "ix_fhir_search_date": ["res_type", "param", "low"],
}
_NEW_INDEXES = {
    "ix_fhir_search_value": ["res_type", "param", "value", "low"],
    "ix_fhir_search_patient": ["patient", "res_type", "low", "param", "value"],
}

_resource = sa.table(
    "fhir_resource",
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("version_id", sa.Integer),
    sa.column("deleted", sa.Boolean),
)
_version = sa.table(
    "fhir_version",
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("version_id", sa.Integer),
    sa.column("content", sa.Text),
)
_search = sa.table(
    "fhir_search",
    sa.column("res_type", sa.String),
    sa.column("res_id", sa.String),
    sa.column("param", sa.String),
    sa.column("patient", sa.String),
    sa.column("system", sa.String),
    sa.column("value", sa.String),
    sa.column("low", sa.DateTime),
    sa.column("high", sa.DateTime),
)
_latest = sa.table(
    "fhir_latest",
    sa.column("patient", sa.String),
    sa.column("system", sa.String),
    sa.column("code", sa.String),
    sa.column("res_id", sa.String),
    sa.column("low", sa.DateTime),
)


def current_batches(connection: sa.Connection) -> Iterator[Sequence[sa.Row[str, str, str]]]:
    """Current (not deleted) resources in key order, a batch at a time."""
    after: tuple[str, str] = ("", "")
    while True:
        rows = connection.execute(
            sa.select(_resource.c.res_type, _resource.c.res_id, _version.c.content)
            .join(
                _version,
                sa.and_(
                    _version.c.res_type == _resource.c.res_type,
                    _version.c.res_id == _resource.c.res_id,
                    _version.c.version_id == _resource.c.version_id,
                ),
            )
            .where(
                _resource.c.deleted == sa.false(),
                sa.tuple_(_resource.c.res_type, _resource.c.res_id) > after,
            )
            .order_by(_resource.c.res_type, _resource.c.res_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].res_type, rows[-1].res_id)


def upgrade() -> None:
    """Rebuild the search index in its new shape and fill fhir_latest."""
    op.create_table(
        "fhir_latest",
        sa.Column("patient", sa.String(128), primary_key=True),
        sa.Column("system", sa.String(512), primary_key=True),
        sa.Column("code", sa.String(512), primary_key=True),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("low", sa.DateTime, nullable=True),
    )
    op.create_index("ix_fhir_latest_res", "fhir_latest", ["res_id"])
    for name in _OLD_INDEXES:
        op.drop_index(name, table_name="fhir_search")
    connection = op.get_bind()
    connection.execute(sa.delete(_search))
    latest: dict[LatestKey, tuple[datetime, str]] = {}
    for batch in current_batches(connection):
        rows: list[SearchRow] = []
        for res_type, res_id, content in batch:
            rows += search_rows(res_type, res_id, json.loads(content))[1]
        keep_newest(latest, latest_candidates(rows))
        if rows:
            connection.execute(
                sa.insert(_search),
                # the columns of this revision's table (later ones came with fhir_0009)
                [
                    {c: v for c, v in zip(SEARCH_COLUMNS, r, strict=True) if c in _search.c}
                    for r in rows
                ],
            )
    if latest:
        connection.execute(sa.insert(_latest), latest_rows(latest))
    for name, columns in _NEW_INDEXES.items():
        op.create_index(name, "fhir_search", columns)


def downgrade() -> None:
    """Back to the first index shape: alias rows restored, fhir_latest dropped."""
    op.drop_index("ix_fhir_latest_res", table_name="fhir_latest")
    op.drop_table("fhir_latest")
    for name in _NEW_INDEXES:
        op.drop_index(name, table_name="fhir_search")
    connection = op.get_bind()
    columns = ["res_type", "res_id", "patient", "system", "value", "low", "high"]
    for resource_type, params in SEARCH_PARAMS.items():
        for param in params.values():
            for source in param.stored_as:
                rows = sa.select(
                    *[_search.c[c] for c in columns[:2]],
                    sa.literal(param.name),
                    *[_search.c[c] for c in columns[2:]],
                ).where(_search.c.res_type == resource_type, _search.c.param == source)
                if param.targets:
                    rows = rows.where(
                        sa.or_(*[_search.c.value.like(f"{t}/%") for t in param.targets])
                    )
                connection.execute(
                    sa.insert(_search).from_select(
                        [columns[0], columns[1], "param", *columns[2:]], rows
                    )
                )
    for name, columns in _OLD_INDEXES.items():
        op.create_index(name, "fhir_search", columns)

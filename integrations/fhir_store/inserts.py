"""Dialect-specific bulk inserts and upserts (SQLite and PostgreSQL), async I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import DateTime, func, insert, literal, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.records import EARLIEST
from integrations.fhir_store.tables import FhirResourceRow

TABLES = FhirResourceRow.metadata.tables


async def insert_many(session: AsyncSession, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ROWS (dicts with the same keys, in the same order) into TABLE."""
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(insert(TABLES[table]), rows)
    else:
        await insert_rows(session, table, tuple(rows[0]), [tuple(row.values()) for row in rows])


async def insert_rows(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ROWS (values of COLUMNS) into TABLE in one executemany.

    On SQLite the rows go to the driver as they are: SQLAlchemy's per-value processing of
    a Core insert costs more than SQLite's own work on a bulk load.
    """
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(
            insert(TABLES[table]), [dict(zip(columns, r, strict=True)) for r in rows]
        )
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    connection = await session.connection()
    await connection.exec_driver_sql(sql, rows)


async def upsert_latest(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert `fhir_latest` ROWS, each kept only where it ranks higher (date, then id)."""
    dialect = session.get_bind().dialect.name
    table = TABLES["fhir_latest"]  # Core, not ORM: no per-row bulk persistence work
    upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
    new, old = upsert.excluded, table.c
    earliest = literal(EARLIEST, DateTime)
    connection = await session.connection()
    await connection.execute(
        upsert.on_conflict_do_update(
            index_elements=[old.patient, old.system, old.code],
            set_={"res_id": new.res_id, "low": new.low},
            where=tuple_(func.coalesce(new.low, earliest), new.res_id)
            > tuple_(func.coalesce(old.low, earliest), old.res_id),
        ),
        rows,
    )

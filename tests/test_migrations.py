"""Migrations apply on both databases and are idempotent."""

from __future__ import annotations

from sqlalchemy import inspect

from integrations.persistence.database import create_engine
from integrations.persistence.migrate import migrate


async def test_migrate_twice_creates_core_tables(database_url: str) -> None:
    await migrate(database_url)  # second run is a no-op
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert {"bot_state", "account", "directline_conversation", "directline_activity"} <= names
    assert {"conversation_ref", "outbox"} <= names

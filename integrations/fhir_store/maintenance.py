"""Upkeep after bulk writes: planner statistics and SQLite's write-ahead log (async I/O)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class Maintenance:
    """Counts bulk writes and refreshes statistics (at 500, 1000, 2000, ... writes)."""

    def __init__(self) -> None:
        self._written = 0
        self._next_analyze = 500
        self._since_checkpoint = 0

    async def note_bulk_write(
        self, sessionmaker: async_sessionmaker[AsyncSession], count: int
    ) -> None:
        """After bulk loads, refresh the planner statistics (at 500, 1000, 2000, ... writes).

        Fresh tables have none (PostgreSQL until autovacuum runs, SQLite ever), and the
        plans chosen without them scan whole tables: SQLite walks every Observation in
        `_lastUpdated` order instead of looking up the few a patient's index rows name.
        """
        self._written += count
        self._since_checkpoint += count
        async with sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite" and self._since_checkpoint >= 100_000:
                # Back-to-back writers and readers starve SQLite's passive checkpoints, so
                # the WAL never restarts and grows without bound: reset it now and then.
                self._since_checkpoint = 0
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            if self._written < self._next_analyze:
                return
            self._next_analyze = self._written * 2
            if dialect == "sqlite":
                # sampled: about a thousand rows per index, so it takes milliseconds at any size
                await session.execute(text("PRAGMA analysis_limit=1000"))
                await session.execute(text("ANALYZE"))
            else:
                await session.execute(text("ANALYZE fhir_resource, fhir_version, fhir_search"))
            await session.commit()

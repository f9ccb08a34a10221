"""Upkeep as the tables grow: planner statistics and SQLite's write-ahead log (async I/O)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# SQLite's write-ahead log is reset after this many writes (see note_writes).
CHECKPOINT_EVERY = 100_000


class Maintenance:
    """Counts committed writes and refreshes statistics at 500, 1000, 2000, ... writes."""

    def __init__(self) -> None:
        self._written = 0
        self._next_analyze = 500
        self._since_checkpoint = 0

    async def note_writes(self, sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
        """After COUNT more writes, refresh the planner statistics when the tables have
        doubled since the last refresh; most calls return without touching the database.

        Fresh tables have no statistics (PostgreSQL until autovacuum runs, SQLite ever),
        and the plans chosen without them scan whole tables: SQLite walks every Observation
        in `_lastUpdated` order instead of looking up the few a patient's index rows name,
        and PostgreSQL's conditional creates took 0.3-0.9 s each with autovacuum off when
        only bulk bundles were counted.
        """
        self._written += count
        self._since_checkpoint += count
        analyze = self._written >= self._next_analyze
        checkpoint = self._since_checkpoint >= CHECKPOINT_EVERY
        if not analyze and not checkpoint:
            return
        async with sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            if checkpoint:
                self._since_checkpoint = 0
                if dialect == "sqlite":
                    # Back-to-back writers and readers starve SQLite's passive checkpoints,
                    # so the WAL never restarts and grows without bound: reset it now and then.
                    await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            if not analyze:
                return
            self._next_analyze = self._written * 2
            if dialect == "sqlite":
                # sampled: about a thousand rows per index, so it takes milliseconds at any size
                await session.execute(text("PRAGMA analysis_limit=1000"))
                await session.execute(text("ANALYZE"))
            else:
                await session.execute(text("ANALYZE fhir_resource, fhir_version, fhir_search"))
            await session.commit()

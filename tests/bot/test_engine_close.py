"""Closing an engine leaves no SQLite worker thread behind to report to a closed loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from integrations.persistence.database import _SQLITE_THREADS, close_engine, create_engine

# A query that keeps SQLite busy for a while (a recursive count to a few million).
SLOW = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
    "SELECT count(*) FROM n"
)


async def test_a_query_cancelled_mid_flight_leaves_no_thread_after_close(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    started = asyncio.Event()

    async def busy() -> None:
        async with engine.connect() as connection:
            started.set()
            await connection.execute(SLOW)

    task = asyncio.create_task(busy())
    await started.wait()
    await asyncio.sleep(0.05)  # the query is running in the connection's thread
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()  # again, while the connection is being given back: SQLAlchemy terminates it
    await asyncio.gather(task, return_exceptions=True)
    threads = list(_SQLITE_THREADS[engine.sync_engine])
    assert threads, "the engine recorded its connection's thread"
    await close_engine(engine)
    assert not any(t.is_alive() for t in threads)

"""One turn at a time per conversation: concurrent posts into it wait their turn.

Two posts into one conversation would read the same dialog state, and the second save
would then fail on its e_tag (a 500, or a turn lost). Turns of different conversations
still run side by side.

Within a process an asyncio lock per conversation key serialises turns. Several bot
processes on one PostgreSQL database also take a transaction-level advisory lock on a
hash of the key (`pg_advisory_xact_lock`), held for the turn on a connection of its own:
a turn of the conversation in another process waits for it, and the lock goes with the
transaction if the process dies. Only the first waiter of a process asks the database, so
a process holds at most one connection per conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def advisory_key(key: str) -> int:
    """KEY as the signed 64-bit number PostgreSQL's advisory locks take."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class TurnLocks:
    """A lock per conversation key, kept only while someone holds or waits for it; with
    SHARED (a PostgreSQL engine), also across the processes using that database."""

    def __init__(self, shared: AsyncEngine | None = None) -> None:
        if shared is not None and shared.dialect.name != "postgresql":
            raise ValueError("turn locks are shared across processes on PostgreSQL only")
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._shared = shared

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Run the body with KEY's lock held."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self._shared is None:
                    yield
                else:
                    async with self._shared.begin() as connection:
                        await connection.execute(_ADVISORY_LOCK, {"key": advisory_key(key)})
                        yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """How many conversations have a turn running or waiting."""
        return len(self._locks)

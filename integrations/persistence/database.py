"""Async engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from integrations.persistence.private_files import create_private_file


class Base(DeclarativeBase):
    """Declarative base for every carebot table."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run during a write; NORMAL sync is durable across process crashes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # After each checkpoint the WAL file shrinks back to this size (64 MiB) instead of
    # keeping its high-water mark through long bulk loads.
    cursor.execute("PRAGMA journal_size_limit=67108864")
    # Checkpoint when the WAL reaches 64 MiB rather than SQLite's 4 MiB: a bulk transaction
    # writes several MiB, and a checkpoint (with its fsyncs) after nearly every commit
    # runs while the writer still holds the lock.
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    # A page cache of up to 64 MiB per connection instead of SQLite's 2 MiB: a bulk write
    # touches the index pages of every patient in it, and each page not cached is read
    # again through the WAL.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_datetime(value: datetime) -> str:
    # the text SQLAlchemy's SQLite DATETIME stores (naive UTC), so comparisons with its binds
    # hold; rows the FHIR store hands the driver as they are (insert_rows) are converted with it
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


# The worker thread of each aiosqlite connection an engine opened. A connection that
# SQLAlchemy terminates (its task was cancelled mid-query) is stopped without waiting; its
# thread must finish before the event loop closes, or it reports to a closed loop.
_SQLITE_THREADS: weakref.WeakKeyDictionary[Any, weakref.WeakSet[threading.Thread]] = (
    weakref.WeakKeyDictionary()
)
# How long closing an engine waits for those threads (a connection still checked out keeps
# its thread: the wait is bounded).
_THREAD_WAIT_S = 2.0


def _thread_recorder(threads: weakref.WeakSet[threading.Thread]) -> Any:
    def remember(dbapi_connection: Any, _record: Any) -> None:
        thread = getattr(getattr(dbapi_connection, "_connection", None), "_thread", None)
        if isinstance(thread, threading.Thread):
            threads.add(thread)

    return remember


async def close_engine(engine: AsyncEngine) -> None:
    """Dispose of ENGINE's pool and, on SQLite, wait (bounded) until the worker threads of
    the connections it opened have finished, so none outlives the event loop."""
    await engine.dispose()
    threads = [t for t in _SQLITE_THREADS.get(engine.sync_engine, ()) if t.is_alive()]
    if threads:
        await asyncio.to_thread(_join_all, threads, time.monotonic() + _THREAD_WAIT_S)


def _join_all(threads: list[threading.Thread], deadline: float) -> None:
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An async engine for URL; SQLite files get their private folder and file, and pragmas."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_file(Path(database))
        # sqlite3 keeps adapters per process: registered when a SQLite engine is made (as
        # often as that happens, to the same function), never as a side effect of an import.
        sqlite3.register_adapter(datetime, _sqlite_datetime)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        event.listen(engine.sync_engine, "connect", _thread_recorder(threads))
        _SQLITE_THREADS[engine.sync_engine] = threads
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory whose objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT for TABLE with the session's dialect's ON CONFLICT clauses (SQLite, PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
